package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tollgate-dev/tollgate/engine/access"
	"github.com/tollgate-dev/tollgate/engine/bundle"
)

func newPlanCommand() *cobra.Command {
	var sources sourceFlags
	var base, format string
	var detailed bool
	cmd := &cobra.Command{
		Use:   "plan --base PATH|git:REF [--format text|markdown|json] [--detailed-exitcode]",
		Short: "Show what a change does to the effective access, against a base",
		Long: `Compare the effective access (see tollgate access) of the proposed
configuration (--config and --policies, or --bundle) with that of a base, per
client and server: tokens a client can newly get (+), can no longer get (-),
or gets with other scopes, subject, act or lifetime (~), each with the route
that grants it. A change of policies alone shows too: the comparison is of
what the policies decide, not of the text.

--base is one of:
  git:REF   the same --config and --policies folders as they are at REF
            (branch, tag, commit) in the current git repository, read with
            git archive: the work tree and the index are not touched;
  a file    a bundle, as tollgate bundle build writes it (with
            --verification-key, both bundles must verify);
  a folder  holding config/ and policies/ (a checkout of the base).

Formats: text (like terraform plan), markdown (to post on a pull request:
the summary, a Mermaid picture of what changed, the details) and json
({"added": [...], "removed": [...], "changed": [{"before", "after"}]}).

Exits 0, or 1 on an error (either side failing to load is an error, with
its problems). With --detailed-exitcode: 0 when the access is the same, 2
when it changed, 1 on an error.`,
		Example: `  tollgate plan --base git:origin/main
  tollgate plan --base git:origin/main --format markdown > plan.md
  tollgate plan --base ../main-checkout --detailed-exitcode`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			defer batchGC()()
			if !slices.Contains(access.PlanFormats, format) {
				return fmt.Errorf("--format %q: want one of %s", format, strings.Join(access.PlanFormats, ", "))
			}
			ctx := cmd.Context()
			src, proposedBundle, err := sources.load(cmd)
			if err != nil {
				return err
			}
			proposed, err := access.Load(ctx, src)
			if err != nil {
				return reportLoad(cmd.ErrOrStderr(), err)
			}
			// A key given for the proposed bundle holds for a base bundle too.
			var verifier *bundle.Verifier
			if key := cmd.Flags().Lookup("verification-key"); proposedBundle != nil && key != nil && key.Value.String() != "" {
				if verifier, err = bundle.LoadVerifier(key.Value.String()); err != nil {
					return err
				}
			}
			baseSrc, err := access.BaseSources(ctx, base, sources.configDir, sources.policiesDir, verifier)
			if err != nil {
				return err
			}
			before, err := access.Load(ctx, baseSrc)
			if err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "the base %s does not load:\n", base)
				return reportLoad(cmd.ErrOrStderr(), err)
			}
			plan := access.Diff(before, proposed)
			if err := access.WritePlan(cmd.OutOrStdout(), plan, format); err != nil {
				return err
			}
			if detailed && !plan.Empty() {
				return &exitError{code: 2}
			}
			return nil
		},
	}
	sources.add(cmd)
	f := cmd.Flags()
	f.StringVar(&base, "base", "", "what to compare with: git:REF, a bundle file, or a folder holding config/ and policies/ (required)")
	f.StringVar(&format, "format", "text", "output format: "+strings.Join(access.PlanFormats, ", "))
	f.BoolVar(&detailed, "detailed-exitcode", false, "exit 2 when the access changed, 0 when not")
	_ = cmd.MarkFlagRequired("base")
	return cmd
}
