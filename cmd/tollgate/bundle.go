package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tollgate-dev/tollgate/engine/authz"
	"github.com/tollgate-dev/tollgate/engine/bundle"
)

func newBundleCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bundle",
		Short: "Build bundles: declarations and policies in one file to deploy",
	}
	var configDir, policiesDir, dataFile, out string
	var snippets bool
	build := &cobra.Command{
		Use:   "build [--config DIR] [--policies DIR] [--data FILE] [--out PATH]",
		Short: "Validate declarations and policies, then pack them into a bundle file",
		Long: `Validate everything exactly as "tollgate check" does and, only if it all
loads, pack the HCL files of --config, the policies of --policies (not the
*_test.rego files) and the optional JSON object of --data into one .tar.gz
bundle at --out. The bundle is a valid OPA bundle (opa inspect, opa eval -b
work on it) whose revision is the SHA-256 of its contents: the same inputs
give a byte-identical file. Serve it with "tollgate serve --bundle PATH".

On any problem it prints FILE:LINE:COL: message per problem, writes nothing,
and exits 1. The file is replaced atomically, so a server watching it never
reads half of it.`,
		Example: `  tollgate bundle build --out bundles/tollgate.tar.gz
  tollgate serve --bundle bundles/tollgate.tar.gz`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			src, err := bundle.ReadDirs(configDir, policiesDir, dataFile)
			if err != nil {
				return err
			}
			warnings, files, err := authz.Check(cmd.Context(), src)
			if err := report(cmd.OutOrStdout(), warnings, files, err, snippets); err != nil {
				return err
			}
			revision, err := bundle.WriteFile(out, src)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (revision %s)\n", out, revision)
			return nil
		},
	}
	f := build.Flags()
	f.StringVar(&configDir, "config", "./config", "folder of HCL declarations")
	f.StringVar(&policiesDir, "policies", "./policies", "folder of Rego policies (*_test.rego left out)")
	f.StringVar(&dataFile, "data", "", "JSON object to ship as the bundle's data.json (the root of data)")
	f.StringVar(&out, "out", "bundles/tollgate.tar.gz", "bundle file to write")
	f.BoolVar(&snippets, "snippets", false, "show the source line under each HCL problem")
	cmd.AddCommand(build)
	return cmd
}

// sourceFlags are --config, --policies and --bundle: where check, eval and
// serve read a configuration from.
type sourceFlags struct {
	configDir, policiesDir, bundle string
}

func (s *sourceFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&s.configDir, "config", "./config", "folder of HCL declarations")
	f.StringVar(&s.policiesDir, "policies", "./policies", "folder of Rego policies")
	f.StringVar(&s.bundle, "bundle", "", "bundle file (tollgate bundle build) to use instead of --config and --policies")
}

// load reads the sources: the bundle file if --bundle chose it (then b is
// the bundle), else the folders.
func (s *sourceFlags) load(cmd *cobra.Command) (src authz.Sources, b *bundle.Bundle, err error) {
	use, err := useBundle(cmd)
	if err != nil || !use {
		return authz.Sources{ConfigDir: s.configDir, PoliciesDir: s.policiesDir}, nil, err
	}
	if b, err = bundle.Read(s.bundle); err != nil {
		return authz.Sources{}, nil, err
	}
	return b.Sources, b, nil
}

// useBundle reports whether --bundle chooses the sources. --bundle excludes
// --config and --policies. As for every flag, the command line wins over
// the environment: TOLLGATE_BUNDLE gives way to --config, and --bundle to
// TOLLGATE_CONFIG. Both from the same place is an error.
func useBundle(cmd *cobra.Command) (bool, error) {
	b := cmd.Flags().Lookup("bundle")
	if b == nil || b.Value.String() == "" {
		return false, nil
	}
	for _, name := range []string{"config", "policies"} {
		dir := cmd.Flags().Lookup(name)
		if dir == nil || !dir.Changed {
			continue
		}
		if fromEnvironment(dir) == fromEnvironment(b) {
			return false, fmt.Errorf("%s and %s are both given: use either a bundle or the folders", flagSource(b), flagSource(dir))
		}
		if fromEnvironment(b) {
			return false, nil
		}
	}
	return true, nil
}

// envAnnotation marks a flag that flagsFromEnv set from the environment.
const envAnnotation = "tollgate_from_environment"

func fromEnvironment(f *pflag.Flag) bool { return len(f.Annotations[envAnnotation]) > 0 }

// flagSource names a flag as the user gave it: --config or TOLLGATE_CONFIG.
func flagSource(f *pflag.Flag) string {
	if fromEnvironment(f) {
		return f.Annotations[envAnnotation][0]
	}
	return "--" + f.Name
}
