package authz

import (
	"github.com/tollgate-dev/tollgate/engine/oauth"
	"github.com/tollgate-dev/tollgate/engine/state"
	"github.com/tollgate-dev/tollgate/engine/token"
)

// revocationOf is what the state keeps of a token, or looks up.
func revocationOf(c *token.Claims) state.Token {
	return state.Token{Client: c.ClientID, ID: c.ID, IssuedAt: c.IssuedAt, ExpiresAt: c.ExpiresAt}
}

// errStateUnavailable answers a request whose check or change of the
// state failed: nothing is skipped in silence (SPEC §8).
func errStateUnavailable(what string, cause error) error {
	e := oauth.New(oauth.TemporarilyUnavail, "%s; retry", what)
	e.RetryAfter = 1
	e.Cause = cause
	return e
}
