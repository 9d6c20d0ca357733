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
// once built, but for the decision cache it fills and the mark Verify
// leaves; a reload builds a new one.
type Decider struct {
	// Config is the store's (store.Store.Config): a declaration that did
	// not change since the last load is the very object it was then.
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

// New builds the decider of the configuration st holds and its compiled
// policy.
func New(st *store.Store, pol *policy.Policy) *Decider {
	cfg := st.Config()
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
