package reload

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/tollgate-dev/tollgate/engine/authz"
	"github.com/tollgate-dev/tollgate/engine/decide"
	"github.com/tollgate-dev/tollgate/engine/hclconf"
	"github.com/tollgate-dev/tollgate/engine/policy"
)

// Sources says where a configuration comes from: HCL declarations and Rego
// policies, as folders or as in-memory files (for tests and bundles).
type Sources struct {
	ConfigDir   string
	PoliciesDir string
	// ConfigFiles and PolicyFiles, when set, are used instead of the dirs.
	ConfigFiles map[string][]byte
	PolicyFiles map[string][]byte
	// Data is optional bundle data the policies may read.
	Data map[string]any
	// Revision names this version of the sources in logs (a bundle's
	// revision); empty for folders.
	Revision string
}

// LoadError collects every problem that stopped a configuration from
// loading: HCL diagnostics, policy compile errors, or another failure.
type LoadError struct {
	Diags  hcl.Diagnostics
	Files  map[string][]byte
	Policy *policy.CompileError
	// Evaluation lists the requests the policy failed to decide when the
	// snapshot was verified (see decide.Decider.Verify).
	Evaluation []decide.EvalProblem
	Err        error
}

func (e *LoadError) Error() string {
	var b strings.Builder
	_ = e.Write(&b, false)
	return strings.TrimSpace(b.String())
}

// Write prints each problem as FILE:LINE:COL: message, one per line, with
// source snippets for HCL problems when snippets is true.
func (e *LoadError) Write(w io.Writer, snippets bool) error {
	if len(e.Diags) > 0 {
		if err := hclconf.WriteDiagnostics(w, e.Diags, e.Files, snippets); err != nil {
			return err
		}
	}
	if e.Policy != nil {
		for _, p := range e.Policy.Problems {
			if _, err := fmt.Fprintln(w, p.String()); err != nil {
				return err
			}
		}
	}
	for _, p := range e.Evaluation {
		if _, err := fmt.Fprintln(w, p.String()); err != nil {
			return err
		}
	}
	if e.Err != nil {
		if _, err := fmt.Fprintf(w, "error: %v\n", e.Err); err != nil {
			return err
		}
	}
	return nil
}

func warningsOf(diags hcl.Diagnostics) hcl.Diagnostics {
	var out hcl.Diagnostics
	for _, d := range diags {
		if d.Severity == hcl.DiagWarning {
			out = append(out, d)
		}
	}
	return out
}

func (src Sources) configFiles() (map[string][]byte, error) {
	if src.ConfigFiles != nil {
		return src.ConfigFiles, nil
	}
	dir := src.ConfigDir
	if dir == "" {
		dir = "config"
	}
	return hclconf.ReadDir(dir)
}

func (src Sources) policy(ctx context.Context, previous *authz.Snapshot) (*policy.Policy, error) {
	files := src.PolicyFiles
	if files == nil {
		dir := src.PoliciesDir
		if dir == "" {
			dir = "policies"
		}
		var err error
		if files, err = policy.ReadDir(dir); err != nil {
			return nil, err
		}
	}
	if previous != nil && previous.Policy.SameSources(files, src.Data) {
		// Nothing the policy is made of changed: the compiled, prepared
		// policy is immutable and serves the new snapshot as it is.
		return previous.Policy, nil
	}
	return policy.Compile(ctx, files, src.Data)
}
