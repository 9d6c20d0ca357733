// Package authz is tollgate's engine: it holds the current configuration
// snapshot and answers token, introspection, revocation and userinfo
// requests against it. The HTTP layer, the CLI, tests and benchmarks all
// call this one API.
package authz

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/tollgate-dev/tollgate/engine/clientauth"
	"github.com/tollgate-dev/tollgate/engine/model"
	"github.com/tollgate-dev/tollgate/engine/policy"
	"github.com/tollgate-dev/tollgate/engine/store"
)

// Snapshot is everything a request needs from one configuration: the
// declarations in memdb, the prepared policy, the parsed secrets and the
// pre-built policy input terms. It is immutable; a reload builds a new one
// and swaps a pointer, so a request never sees half of two configurations.
type Snapshot struct {
	Config   *model.Config
	Store    *store.Store
	Policy   *policy.Policy
	Settings model.Settings
	// Loaded is when the snapshot was built.
	Loaded time.Time
	// Warnings are the load's HCL warnings (a credential expired or
	// expiring soon, ...), for the server to log.
	Warnings hcl.Diagnostics

	secrets   *clientauth.Index
	inputs    *inputBuilder
	decisions *decisionCache // nil when the policy is not deterministic
	// maxIDBytes is the longest declared client or server id.
	maxIDBytes int
	// verified is set once verify found that the policy decides every
	// client's requests.
	verified bool
}

// NewSnapshot builds a snapshot from a validated configuration and a
// compiled policy. kdfCache may be shared between snapshots: its entries
// are keyed by the stored hash, so they stay correct across reloads.
func NewSnapshot(cfg *model.Config, pol *policy.Policy, kdfCache *clientauth.Cache) (*Snapshot, error) {
	return newSnapshot(cfg, pol, kdfCache, nil)
}

// newSnapshot builds the store from previous's when there is one (see
// store.Next), which is what makes a reload after a small edit cheap.
func newSnapshot(cfg *model.Config, pol *policy.Policy, kdfCache *clientauth.Cache, previous *Snapshot) (*Snapshot, error) {
	var st *store.Store
	var err error
	if previous != nil {
		st, err = previous.Store.Next(cfg)
	} else {
		st, err = store.New(cfg)
	}
	if err != nil {
		return nil, err
	}
	secrets, err := clientauth.NewIndex(cfg.Clients, cfg.Servers, kdfCache)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	snap := &Snapshot{
		Config:   cfg,
		Store:    st,
		Policy:   pol,
		Settings: cfg.Settings,
		Loaded:   time.Now(),
		secrets:  secrets,
		inputs:   newInputBuilder(st, cfg.Settings),

		maxIDBytes: longestID(cfg),
	}
	if pol.Deterministic() {
		snap.decisions = newDecisionCache(DecisionCacheBytes)
	}
	return snap, nil
}

// Load reads, validates and compiles everything serve would from src,
// builds a snapshot and verifies it: the policy must decide every client's
// requests (see verify). Every problem found is in the returned *LoadError.
func Load(ctx context.Context, src Sources, kdfCache *clientauth.Cache) (*Snapshot, error) {
	snap, _, _, err := src.build(ctx, kdfCache, nil)
	return snap, err
}

// LoadObserved is Load that also hands observe every result of the
// verifying sweep (see Sweep), so that `tollgate access` and `plan` read
// the effective access off the very evaluations that verified the
// snapshot. observe is called from several goroutines at once.
func LoadObserved(ctx context.Context, src Sources, kdfCache *clientauth.Cache, observe func(*ProbeResult)) (*Snapshot, error) {
	snap, _, _, err := src.build(ctx, kdfCache, observe)
	return snap, err
}

// build is every load: read, validate, compile, build the snapshot and
// verify it. It also returns the HCL warnings and files, for check.
func (src Sources) build(ctx context.Context, kdfCache *clientauth.Cache, observe func(*ProbeResult)) (*Snapshot, hcl.Diagnostics, map[string][]byte, error) {
	cfg, pol, warnings, files, err := src.load(ctx)
	if err != nil {
		return nil, nil, files, err
	}
	snap, err := newSnapshot(cfg, pol, kdfCache, src.Previous)
	if err != nil {
		return nil, warnings, files, &LoadError{Files: files, Err: err}
	}
	snap.Warnings = warnings
	if err := snap.verify(ctx, src.Previous, src.Pace, observe); err != nil {
		le, ok := err.(*LoadError)
		if !ok {
			le = &LoadError{Err: err}
		}
		le.Files = files
		return nil, warnings, files, le
	}
	return snap, warnings, files, nil
}
