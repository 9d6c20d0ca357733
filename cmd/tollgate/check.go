package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tollgate-dev/tollgate/engine/authz"
	"github.com/tollgate-dev/tollgate/engine/hclconf"
)

func newCheckCommand() *cobra.Command {
	var src authz.Sources
	var snippets bool
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Load and validate declarations and policies; print every problem",
		Long: `Load and validate everything serve would: every HCL file of --config and
every policy of --policies. Each problem is printed as FILE:LINE:COL: message.
Exits 1 if there is any error; warnings alone exit 0.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			warnings, files, err := authz.Check(cmd.Context(), src)
			out := cmd.OutOrStdout()
			if len(warnings) > 0 {
				if werr := hclconf.WriteDiagnostics(out, warnings, files, snippets); werr != nil {
					return werr
				}
			}
			var le *authz.LoadError
			if errors.As(err, &le) {
				if werr := le.Write(out, snippets); werr != nil {
					return werr
				}
				return &exitError{code: 1}
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "ok: %s and %s are valid\n", dirOr(src.ConfigDir, "./config"), dirOr(src.PoliciesDir, "./policies"))
			return nil
		},
	}
	addSourceFlags(cmd, &src)
	cmd.Flags().BoolVar(&snippets, "snippets", false, "show the source line under each HCL problem")
	return cmd
}

func addSourceFlags(cmd *cobra.Command, src *authz.Sources) {
	cmd.Flags().StringVar(&src.ConfigDir, "config", "./config", "folder of HCL declarations")
	cmd.Flags().StringVar(&src.PoliciesDir, "policies", "./policies", "folder of Rego policies")
}

func dirOr(dir, fallback string) string {
	if dir == "" {
		return fallback
	}
	return dir
}
