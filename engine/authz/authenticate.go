package authz

import (
	"context"
	"errors"
	"time"

	"github.com/tollgate-dev/tollgate/engine/clientauth"
	"github.com/tollgate-dev/tollgate/engine/model"
	"github.com/tollgate-dev/tollgate/engine/oauth"
	"github.com/tollgate-dev/tollgate/engine/state"
)

// Credentials are what a caller presented to authenticate itself (see
// clientauth.Credentials).
type Credentials = clientauth.Credentials

// ClientAssertionType is the one client_assertion_type accepted: a JWT
// (RFC 7523 §2.2).
const ClientAssertionType = clientauth.AssertionType

// AssertionAlgorithms are the signature algorithms a client assertion may
// use, as server metadata lists them (RFC 8414).
var AssertionAlgorithms = clientauth.AssertionAlgorithms

// AssertionCredentials are a private_key_jwt client's: the assertion and
// its type, and clientID when sent, else the assertion's iss, which
// verification checks anyway.
func AssertionCredentials(clientID, assertionType, raw string) (Credentials, error) {
	switch {
	case assertionType != ClientAssertionType:
		return Credentials{}, oauth.New(oauth.InvalidRequest, "client_assertion_type must be %s", ClientAssertionType)
	case raw == "":
		return Credentials{}, oauth.New(oauth.InvalidRequest, "client_assertion is required with client_assertion_type")
	}
	if clientID == "" {
		clientID = clientauth.AssertionClientID(raw)
	}
	return Credentials{ID: clientID, Assertion: raw, Method: model.AuthPrivateKeyJWT}, nil
}

// errInvalidClient is the one answer to every failed client authentication:
// an unknown id, a wrong or expired secret, a disabled client and a wrong
// method look the same from outside (RFC 6749 §5.2).
// It is always 401 (RFC 6749 §5.2); the HTTP edge adds WWW-Authenticate.
func errInvalidClient() *oauth.Error {
	return oauth.New(oauth.InvalidClient, "client authentication failed")
}

// authenticate verifies creds against snap (see
// clientauth.Authenticator.Authenticate). allowServers lets resource
// servers authenticate too (introspection).
//
// Why an authentication failed travels as the error's Cause, for the
// audit log; the caller only ever learns that it failed, in the same
// words whatever the reason.
func (s *Service) authenticate(ctx context.Context, snap *Snapshot, creds Credentials, remoteAddr string, allowServers bool) (clientauth.Principal, error) {
	at := clientauth.Attempt{Credentials: creds, RemoteAddr: remoteAddr, AllowServers: allowServers}
	if creds.Method == model.AuthPrivateKeyJWT {
		at.Audiences = s.assertionAudiences(snap)
	}
	principal, err := s.authn.Authenticate(ctx, snap.secrets, at)
	return principal, authError(err)
}

// assertionUnused refuses an assertion whose jti its client already used
// (see clientauth.Authenticator.Unused).
func (s *Service) assertionUnused(ctx context.Context, principal clientauth.Principal) error {
	return authError(s.authn.Unused(ctx, principal))
}

// consumeAssertion uses up the jti of the assertion the principal
// authenticated with, once every cheaper check has passed (see
// clientauth.Authenticator.Consume).
func (s *Service) consumeAssertion(ctx context.Context, principal clientauth.Principal) error {
	return authError(s.authn.Consume(ctx, principal))
}

// authError is the OAuth answer to an error of clientauth's, its reason
// the Cause.
func authError(err error) error {
	if err == nil {
		return nil // before the targets of errors.As, which escape
	}
	var (
		failure     *clientauth.Failure
		throttled   *clientauth.Throttled
		busy        *clientauth.Busy
		unavailable *clientauth.Unavailable
		quota       *state.QuotaError
	)
	switch {
	case errors.As(err, &failure):
		e := errInvalidClient()
		e.Cause = failure.Reason
		return e
	case errors.As(err, &throttled):
		e := oauth.New(oauth.SlowDown, "too many failed authentication attempts; retry later")
		e.RetryAfter = retryAfterSeconds(throttled.RetryAfter)
		e.Cause = throttled.Reason
		return e
	case errors.As(err, &busy):
		e := oauth.New(oauth.TemporarilyUnavail, "the server is busy; retry later")
		e.RetryAfter = 1
		e.Cause = busy.Reason
		return e
	case errors.As(err, &unavailable):
		return errStateUnavailable(unavailable.What, unavailable.Err)
	case errors.As(err, &quota):
		e := oauth.New(oauth.SlowDown, "too many unexpired client assertions of this client are in use; retry later")
		e.RetryAfter = retryAfterSeconds(max(quota.RetryAfter, time.Second))
		e.Cause = err
		return e
	}
	return oauth.Internal(err)
}

// assertionAudiences are the aud values that name this server in a client
// assertion: its issuer identifier first (draft-ietf-oauth-rfc7523bis),
// then its token endpoint URL (RFC 7523 §3); see assertion.Verifier.Check.
func (s *Service) assertionAudiences(snap *Snapshot) []string {
	return []string{s.Issuer(snap), s.TokenEndpoint(snap)}
}

// authFailureReasons is what the audit log says of a failed or refused
// client authentication: why it failed.
func authFailureReasons(err error) []string {
	switch e := oauth.As(err); {
	case e.Cause == nil:
	case e.Code == oauth.InvalidClient, e.Code == oauth.SlowDown, e.Code == oauth.TemporarilyUnavail:
		return []string{e.Cause.Error()}
	}
	return nil
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

func retryAfterSeconds(d time.Duration) int {
	secs := int((d + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return secs
}
