package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"

	"github.com/tollgate-dev/tollgate/engine/hclconf"
	"github.com/tollgate-dev/tollgate/engine/reload"
)

func newCheckCommand() *cobra.Command {
	var sources sourceFlags
	var snippets bool
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Load and validate declarations and policies; print every problem",
		Long: `Load and validate everything serve would, with the very code serve runs
before it starts or takes a reload: every HCL file of --config and every
policy of --policies, or everything in the --bundle file. Then decide, for
every client, the token request with no audience and the one for each server
it may reach (through its access, its groups, and the account it acts as),
with no scope: a policy that fails to decide any of them (a conflict, a type
or built-in error, an undefined or malformed decision such as a reserved
claim) is a problem at its policy file:row:col, naming the client. Runs on
every core.

Each problem is printed as FILE:LINE:COL: message (for a bundle, FILE is
the name inside it, e.g. config/clients.hcl). Exits 1 if there is any error;
warnings alone exit 0.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			defer batchGC()()
			src, b, err := sources.load(cmd)
			if err != nil {
				return err
			}
			warnings, files, err := reload.Check(cmd.Context(), src)
			if err := report(cmd.OutOrStdout(), warnings, files, err, snippets); err != nil {
				return err
			}
			if b != nil {
				fmt.Fprintf(cmd.OutOrStdout(), "ok: %s is valid (revision %s)\n", sources.bundle, b.RevisionLabel())
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ok: %s and %s are valid\n", dirOr(src.ConfigDir, "./config"), dirOr(src.PoliciesDir, "./policies"))
			return nil
		},
	}
	sources.add(cmd)
	cmd.Flags().BoolVar(&snippets, "snippets", false, "show the source line under each HCL problem")
	return cmd
}

// report prints what reload.Check found: warnings, then each problem as
// FILE:LINE:COL: message. Problems make it return an exit status 1.
func report(out io.Writer, warnings hcl.Diagnostics, files map[string][]byte, err error, snippets bool) error {
	if len(warnings) > 0 {
		if werr := hclconf.WriteDiagnostics(out, warnings, files, snippets); werr != nil {
			return werr
		}
	}
	var le *reload.LoadError
	if errors.As(err, &le) {
		if werr := le.Write(out, snippets); werr != nil {
			return werr
		}
		return &exitError{code: 1}
	}
	return err
}

func dirOr(dir, fallback string) string {
	if dir == "" {
		return fallback
	}
	return dir
}
