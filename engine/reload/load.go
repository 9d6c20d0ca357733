package reload

import (
	"context"
	"errors"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/tollgate-dev/tollgate/engine/authz"
	"github.com/tollgate-dev/tollgate/engine/clientauth"
	"github.com/tollgate-dev/tollgate/engine/decide"
	"github.com/tollgate-dev/tollgate/engine/hclconf"
	"github.com/tollgate-dev/tollgate/engine/policy"
	"github.com/tollgate-dev/tollgate/engine/store"
)

// NewKDFCache returns the cache of successful argon2id/bcrypt verifications
// that snapshots share, within clientauth.DefaultCacheBytes; its bound
// costs a dropped client one derivation, never correctness.
func NewKDFCache() *clientauth.Cache { return clientauth.NewCache() }

// Load reads, validates and compiles everything serve would from src,
// builds a snapshot and verifies it: the policy must decide every client's
// requests (see decide.Decider.Verify). Every problem found is in the
// returned *LoadError.
func Load(ctx context.Context, src Sources, kdfCache *clientauth.Cache) (*authz.Snapshot, error) {
	snap, _, _, err := build(ctx, src, loadState{kdf: kdfCache})
	return snap, err
}

// Check runs every check a load runs, the same code as Load: it reads,
// validates, compiles, builds the snapshot and decides every client's
// requests; it returns the warnings too. It is what `tollgate check` runs.
func Check(ctx context.Context, src Sources) (warnings hcl.Diagnostics, files map[string][]byte, err error) {
	_, warnings, files, err = build(ctx, src, loadState{})
	return warnings, files, err
}

// LoadObserved is Load that also hands observe every result of the
// verifying sweep (see decide.Decider.Sweep), so that `tollgate access`
// and `plan` read the effective access off the very evaluations that
// verified the snapshot. observe is called from several goroutines at
// once.
func LoadObserved(ctx context.Context, src Sources, kdfCache *clientauth.Cache, observe func(*decide.ProbeResult)) (*authz.Snapshot, error) {
	snap, _, _, err := build(ctx, src, loadState{kdf: kdfCache, observe: observe})
	return snap, err
}

// loadState is what one load may reuse or report to beyond its sources;
// the zero value is a load from nothing (check, eval).
type loadState struct {
	// parsed keeps the parsed HCL files between loads, so that a reload
	// parses only the files that changed.
	parsed *hclconf.Cache
	// yield is called between two HCL files parsed, and between two chunks
	// of clients swept, with the time the first one took.
	yield func(took time.Duration)
	// previous is the snapshot this load replaces: the new store is built
	// from its store, sharing every unchanged declaration, and its
	// compiled policy serves again when no policy file changed.
	previous *authz.Snapshot
	kdf      *clientauth.Cache
	observe  func(*decide.ProbeResult)
}

// build is every load: read, validate, compile, build the store and the
// snapshot and verify it. It also returns the HCL warnings and files, for
// check.
func build(ctx context.Context, src Sources, ls loadState) (*authz.Snapshot, hcl.Diagnostics, map[string][]byte, error) {
	dec, warnings, files, err := decider(ctx, src, ls)
	if err != nil {
		return nil, warnings, files, err
	}
	snap, err := authz.NewSnapshot(dec, ls.kdf)
	if err != nil {
		return nil, warnings, files, &LoadError{Files: files, Err: err}
	}
	snap.Warnings = warnings
	var previous *decide.Decider
	if ls.previous != nil {
		previous = ls.previous.Decider
	}
	if err := dec.Verify(ctx, previous, ls.yield, ls.observe); err != nil {
		le := &LoadError{Files: files}
		if ve, ok := errors.AsType[*decide.VerifyError](err); ok {
			le.Evaluation = ve.Problems
		} else {
			le.Err = err
		}
		return nil, warnings, files, le
	}
	return snap, warnings, files, nil
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
	// Policies are compiled even when the HCL is broken, so one run of
	// `tollgate check` reports every problem of both. A load that does not
	// yield to requests (a first load, check, access, plan) compiles them
	// while the HCL parses; a reload beside requests does one at a time.
	var pol *policy.Policy
	var polErr error
	compiled := make(chan struct{})
	compile := func() {
		defer close(compiled)
		pol, polErr = src.policy(ctx, ls.previous)
	}
	if ls.yield == nil {
		go compile()
	}
	cfg, diags := ls.parsed.LoadYielding(files, ls.yield)
	if diags.HasErrors() {
		// Warnings go with the errors, so one report shows everything.
		loadErr.Diags = diags
	}
	if ls.yield != nil {
		compile()
	}
	<-compiled
	if polErr != nil {
		var ce *policy.CompileError
		if errors.As(polErr, &ce) {
			loadErr.Policy = ce
		} else {
			loadErr.Err = polErr
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
