// Package decide answers "may this client have this token?" for one
// configuration: it builds the policy input from the declarations,
// runs the policy, applies what tollgate adds to a decision (the capped
// lifetime, the actor, SPEC §4's scope rule), memoizes the answers of a
// deterministic policy, and sweeps every client's requests so that a
// load can refuse a policy that fails to decide any of them.
package decide

import (
	"github.com/tollgate-dev/tollgate/engine/model"
	"github.com/tollgate-dev/tollgate/engine/policy"
	"github.com/tollgate-dev/tollgate/engine/store"
)

// Decider decides the token requests of one configuration: its
// declarations, their store and the compiled policy. It is immutable
// once built, but for the decision cache it fills; a reload builds a new
// one.
type Decider struct {
	Config   *model.Config
	Store    *store.Store
	Policy   *policy.Policy
	Settings model.Settings

	inputs    *inputBuilder
	decisions *decisionCache // nil when the policy is not deterministic
	// verified is set once Verify found that the policy decides every
	// client's requests.
	verified bool
}

// New builds the decider of a validated configuration, the store built
// from it and its compiled policy.
func New(cfg *model.Config, st *store.Store, pol *policy.Policy) *Decider {
	d := &Decider{
		Config:   cfg,
		Store:    st,
		Policy:   pol,
		Settings: cfg.Settings,
		inputs:   newInputBuilder(st, cfg.Settings),
	}
	if pol.Deterministic() {
		d.decisions = newDecisionCache(DecisionCacheBytes)
	}
	return d
}
