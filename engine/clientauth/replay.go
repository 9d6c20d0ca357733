package clientauth

import (
	"context"
	"errors"

	"github.com/tollgate-dev/tollgate/engine/assertion"
	"github.com/tollgate-dev/tollgate/engine/state"
)

// A private_key_jwt assertion's jti is used up in two steps around the
// token endpoint's rate limit: Unused refuses a replay before the rate
// limit, so replaying a captured assertion cannot drain the client's
// bucket; Consume spends the jti after it, so that a request the rate
// limit refuses leaves the assertion usable. Each client's used jtis are
// bounded on their own (state.QuotaError): a client that fills its quota
// stops itself alone.

// Unused refuses an assertion whose jti its client already used.
// Principals that did not authenticate with an assertion pass.
func (a *Authenticator) Unused(ctx context.Context, principal Principal) error {
	if principal.Assertion == nil {
		return nil
	}
	return replayError(a.assertions.Unused(ctx, principal.Client.ID, principal.Assertion))
}

// Consume uses up the jti of the assertion the principal authenticated
// with, once every cheaper check has passed; a replay is a *Failure, as
// any failed authentication.
func (a *Authenticator) Consume(ctx context.Context, principal Principal) error {
	if principal.Assertion == nil {
		return nil
	}
	return replayError(a.assertions.Use(ctx, principal.Client.ID, principal.Assertion))
}

// replayError is a *Failure for a replay, the *state.QuotaError of a
// client whose unexpired assertions fill its quota, and *Unavailable when
// the state could not tell.
func replayError(err error) error {
	var quota *state.QuotaError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, assertion.ErrInvalid):
		return &Failure{Reason: err}
	case errors.As(err, &quota):
		return err
	}
	return &Unavailable{What: "the client assertion could not be recorded against replay", Err: err}
}
