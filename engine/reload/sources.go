// Package reload loads and reloads configurations: sources (folders,
// in-memory files, bundles) → parse → validate → store → compile →
// build the snapshot → self-test (every client's requests decided) →
// swap into the authz.Service. Check and Load are the one-shot forms that
// `tollgate check`, `eval`, `access` and tests run; a Reloader is the
// one owner of a server's reloads and of the state they share.
package reload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/tollgate-dev/tollgate/engine/authz"
	"github.com/tollgate-dev/tollgate/engine/decide"
	"github.com/tollgate-dev/tollgate/engine/hclconf"
	"github.com/tollgate-dev/tollgate/engine/policy"
	"github.com/tollgate-dev/tollgate/engine/store"
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

// Check runs every check a load runs, the same code as Load: it reads,
// validates, compiles, builds the snapshot and decides every client's
// requests; it returns the warnings too. It is what `tollgate check` runs.
func Check(ctx context.Context, src Sources) (warnings hcl.Diagnostics, files map[string][]byte, err error) {
	_, warnings, files, err = build(ctx, src, loadState{})
	return warnings, files, err
}

// decider reads, parses, validates and compiles src and builds the store
// of its declarations: the decider a snapshot is built around. It also
// returns the HCL warnings and files, for check.
func decider(ctx context.Context, src Sources, ls loadState) (*decide.Decider, hcl.Diagnostics, map[string][]byte, error) {
	files, err := src.configFiles()
	if err != nil {
		return nil, nil, nil, &LoadError{Err: err}
	}
	loadErr := &LoadError{Files: files}
	cfg, diags := ls.parsed.LoadPaced(files, ls.pace)
	if diags.HasErrors() {
		// Warnings go with the errors, so one report shows everything.
		loadErr.Diags = diags
	}
	// Policies are compiled even when the HCL is broken, so one run of
	// `tollgate check` reports every problem of both.
	pol, err := src.policy(ctx, ls.previous)
	if err != nil {
		var ce *policy.CompileError
		if errors.As(err, &ce) {
			loadErr.Policy = ce
		} else {
			loadErr.Err = err
		}
	}
	if loadErr.Diags != nil || loadErr.Policy != nil || loadErr.Err != nil {
		return nil, nil, files, loadErr
	}
	warnings := warningsOf(diags)
	// Building from the previous store (see store.Next) is what makes a
	// reload after a small edit cheap.
	var st *store.Store
	if ls.previous != nil {
		st, err = ls.previous.Store.Next(cfg)
	} else {
		st, err = store.New(cfg)
	}
	if err != nil {
		return nil, warnings, files, &LoadError{Files: files, Err: err}
	}
	return decide.New(st, pol), warnings, files, nil
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
