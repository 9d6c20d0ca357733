package main

import (
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func newRootCommand(getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "tollgate",
		Short: "OAuth 2.0 client credentials authorization server, policy as code",
		Long: `tollgate issues OAuth 2.0 access tokens (RFC 9068 JWTs) to machine clients
with the client credentials grant. Clients, servers (APIs), groups and service
accounts are declared in HCL; Rego policies decide each token's audience,
scopes and impersonation.

Every flag can also be set in the environment as TOLLGATE_<FLAG>, for example
TOLLGATE_ADDR=0.0.0.0:8443 or TOLLGATE_TLS_CERT=/etc/tollgate/tls.crt.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return flagsFromEnv(cmd, getenv)
		},
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(
		newServeCommand(),
		newCheckCommand(),
		newEvalCommand(),
		newAccessCommand(),
		newPlanCommand(),
		newBundleCommand(),
		newSecretCommand(),
		newKeysCommand(),
		newTokenCommand(getenv),
		newHealthcheckCommand(),
		newVersionCommand(),
	)
	return root
}

// flagsFromEnv fills every flag not given on the command line from
// TOLLGATE_<FLAG> (dashes become underscores), and marks it so, for
// messages and for useBundle.
func flagsFromEnv(cmd *cobra.Command, getenv func(string) string) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || f.Name == "help" {
			return
		}
		name := "TOLLGATE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if value := getenv(name); value != "" {
			if setErr := cmd.Flags().Set(f.Name, value); setErr != nil {
				err = fmt.Errorf("%s: %w", name, setErr)
				return
			}
			err = cmd.Flags().SetAnnotation(f.Name, envAnnotation, []string{name})
		}
	})
	return err
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := version
			if info, ok := debug.ReadBuildInfo(); ok && v == "dev" {
				for _, s := range info.Settings {
					if s.Key == "vcs.revision" && len(s.Value) >= 12 {
						v = "dev+" + s.Value[:12]
					}
				}
				fmt.Fprintf(cmd.OutOrStdout(), "tollgate %s (%s)\n", v, info.GoVersion)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "tollgate %s\n", v)
			return nil
		},
	}
}
