package authz

import (
	"context"
	"errors"
	"time"

	"github.com/tollgate-dev/tollgate/engine/assertion"
	"github.com/tollgate-dev/tollgate/engine/clientauth"
	"github.com/tollgate-dev/tollgate/engine/oauth"
	"github.com/tollgate-dev/tollgate/engine/state"
)

// A private_key_jwt assertion's jti is used up in two steps around the
// token endpoint's rate limit: assertionUnused refuses a replay before
// the rate limit, so replaying a captured assertion cannot drain the
// client's bucket; consumeAssertion spends the jti after it, so that a
// request the rate limit refuses leaves the assertion usable. Each
// client's used jtis are bounded on their own (state.QuotaError): a
// client that fills its quota stops itself alone.

// assertionUnused refuses an assertion whose jti its client already used.
// Principals that did not authenticate with an assertion pass.
func (s *Service) assertionUnused(ctx context.Context, principal clientauth.Principal) error {
	if principal.Assertion == nil {
		return nil
	}
	return assertionError(s.assertions.Unused(ctx, principal.Client.ID, principal.Assertion))
}

// consumeAssertion uses up the jti of the assertion the principal
// authenticated with, once every cheaper check has passed; a replay is
// invalid_client, as any failed authentication.
func (s *Service) consumeAssertion(ctx context.Context, principal clientauth.Principal) error {
	if principal.Assertion == nil {
		return nil
	}
	return assertionError(s.assertions.Use(ctx, principal.Client.ID, principal.Assertion))
}

func assertionError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, assertion.ErrInvalid) {
		e := errInvalidClient()
		e.Cause = err
		return e
	}
	var quota *state.QuotaError
	if errors.As(err, &quota) {
		e := oauth.New(oauth.SlowDown, "too many unexpired client assertions of this client are in use; retry later")
		e.RetryAfter = retryAfterSeconds(max(quota.RetryAfter, time.Second))
		e.Cause = err
		return e
	}
	return errStateUnavailable("the client assertion could not be recorded against replay", err)
}

// causeReasons is what the audit line says of an error with a cause the
// caller is not told.
func causeReasons(err error) []string {
	var e *oauth.Error
	if errors.As(err, &e) && e.Cause != nil {
		return []string{e.Cause.Error()}
	}
	return nil
}
