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
		inputs:   newInputBuilder(st),

		maxIDBytes: longestID(cfg),
	}
	if pol.Deterministic() {
		snap.decisions = newDecisionCache(DecisionCacheBytes)
	}
	return snap, nil
}

// Load reads, validates and compiles everything serve would from src, and
// builds a snapshot. Every problem found is in the returned *LoadError.
func Load(ctx context.Context, src Sources, kdfCache *clientauth.Cache) (*Snapshot, error) {
	cfg, pol, warnings, _, err := src.load(ctx)
	if err != nil {
		return nil, err
	}
	snap, err := newSnapshot(cfg, pol, kdfCache, src.Previous)
	if err != nil {
		return nil, &LoadError{Err: err}
	}
	snap.Warnings = warnings
	if err := snap.selfTest(ctx); err != nil {
		return nil, &LoadError{Err: err}
	}
	return snap, nil
}

// selfTest evaluates the decision once for a real client before the
// snapshot may serve, so a policy that fails at evaluation time (a runtime
// error, a malformed or undefined decision for everything) never replaces
// a working one.
func (s *Snapshot) selfTest(ctx context.Context) error {
	clients := s.Config.Clients
	if len(clients) == 0 {
		return nil
	}
	req := &EvalRequest{ClientID: clients[0].ID, AuthMethod: clients[0].AuthMethod, Time: time.Now()}
	if _, err := s.Evaluate(ctx, req); err != nil {
		return fmt.Errorf("policy self-test for client %q: %w", req.ClientID, err)
	}
	return nil
}
