package authz

import (
	"context"
	"crypto/x509"
	"errors"
	"time"

	"github.com/tollgate-dev/tollgate/engine/assertion"
	"github.com/tollgate-dev/tollgate/engine/clientauth"
	"github.com/tollgate-dev/tollgate/engine/model"
	"github.com/tollgate-dev/tollgate/engine/oauth"
)

// Credentials are what a caller presented to authenticate itself.
type Credentials struct {
	// ID is the client_id sent; for an assertion it may be empty, and the
	// assertion's iss says who it is.
	ID     string
	Secret string
	// Assertion is a private_key_jwt client's signed JWT (RFC 7523 §2.2).
	Assertion string
	// Certificate is the client certificate the TLS handshake verified
	// against the client CA, for tls_client_auth (RFC 8705 §2.1).
	Certificate *x509.Certificate
	// Method is how they came: model.AuthClientSecretBasic (the
	// Authorization header), model.AuthClientSecretPost (the body),
	// model.AuthPrivateKeyJWT (an assertion in the body) or
	// model.AuthTLSClientAuth (a client_id over mutual TLS); empty when
	// none came.
	Method string
}

// errInvalidClient is the one answer to every failed client authentication:
// an unknown id, a wrong or expired secret, a disabled client and a wrong
// method look the same from outside (RFC 6749 §5.2).
// It is always 401 (RFC 6749 §5.2); the HTTP edge adds WWW-Authenticate.
func errInvalidClient() *oauth.Error {
	return oauth.New(oauth.InvalidClient, "client authentication failed")
}

// authenticate verifies creds against snap. allowServers lets resource
// servers authenticate too (introspection).
//
// A right credential is always accepted: a generated secret, an
// assertion, a certificate and a person's secret verified before are
// checked first, at no cost worth throttling, so a stranger who knows a
// client id cannot lock the client out (RFC 6819 §4.4.1.11). Only a key
// derivation (argon2id, bcrypt) for a secret not known right is throttled
// before it runs, per client id and address and per address (see
// admitDerivation); an address whose failures of any kind pile up has
// them answered 429 rather than 401.
//
// Why an authentication failed travels as the error's Cause, for the
// audit log; the caller only ever learns that it failed, in the same
// words whatever the reason.
func (s *Service) authenticate(ctx context.Context, snap *Snapshot, creds Credentials, remoteAddr string, allowServers bool) (clientauth.Principal, error) {
	if creds.Method == model.AuthPrivateKeyJWT && creds.ID == "" {
		id, err := assertion.ClientID(creds.Assertion)
		if err != nil {
			e := errInvalidClient()
			e.Cause = err
			return clientauth.Principal{}, e
		}
		creds.ID = id
	}
	if creds.Method == "" || creds.ID == "" {
		e := errInvalidClient()
		e.Cause = errNoCredentials
		return clientauth.Principal{}, e
	}
	if err := snap.refuseOverlongID(creds.ID); err != nil {
		return clientauth.Principal{}, err
	}
	now := s.now()
	start := time.Now()
	var res clientauth.Result
	switch creds.Method {
	case model.AuthPrivateKeyJWT:
		res = snap.secrets.AuthenticateAssertion(creds.ID, creds.Assertion, s.assertions, s.assertionAudiences(snap), now)
	case model.AuthTLSClientAuth:
		res = snap.secrets.AuthenticateCertificate(creds.ID, creds.Certificate)
	default:
		res = snap.secrets.Authenticate(creds.ID, creds.Secret, now, func() (func(bool), error) {
			return s.admitDerivation(ctx, creds.ID, remoteAddr, now)
		})
	}
	if res.Err != nil {
		return clientauth.Principal{}, res.Err
	}
	who, ok, reason := res.Declared, res.OK, res.Reason
	switch {
	case who.Client == nil && who.Server == nil:
	case who.Client != nil && !who.Client.Accepts(creds.Method):
		// A client must use the method it declared (RFC 7591 §2
		// token_endpoint_auth_method).
		reason = "wrong auth method: the request used " + creds.Method + ", the client declares " + declaredMethod(who.Client)
		if ok {
			reason += " (the credential itself was right)"
		}
		ok = false
	case !ok:
	case who.Client != nil && who.Client.Disabled:
		ok, reason = false, "the client is disabled"
	case who.Server != nil && !allowServers:
		ok, reason = false, "a server authenticates only to introspection"
	}
	s.observer.ClientAuthenticated(time.Since(start), ok)
	if ok {
		return who, nil
	}
	e := errInvalidClient()
	e.Cause = errors.New(reason)
	// With the store unreachable the failure is answered 401 all the
	// same, uncounted: counting only turns a 401 into a 429, and the
	// store's error is counted and logged by state.Observed.
	if throttled, retry, err := s.throttles.Failed(ctx, remoteAddr, now); err == nil && throttled {
		e = errThrottled(retry)
		e.Cause = errors.New(reason + "; this address failed too often, so the answer is 429")
	}
	return clientauth.Principal{}, e
}

var errNoCredentials = errors.New("no client credentials were sent")

func declaredMethod(c *model.Client) string {
	if c.AuthMethodImplicit {
		return model.AuthClientSecretBasic + " or " + model.AuthClientSecretPost + " (it declares no auth_method)"
	}
	return c.AuthMethod
}

func errThrottled(retry time.Duration) *oauth.Error {
	e := oauth.New(oauth.SlowDown, "too many failed authentication attempts; retry later")
	e.RetryAfter = retryAfterSeconds(retry)
	return e
}

// admitDerivation lets a key derivation for a guess at id's secret from
// remoteAddr run: it takes a token in the throttle before the work, so
// that concurrent guesses cannot all pass, and a slot of s.kdf, so that
// the derivations running at once stay within the cores (each argon2id
// one holds its memory cost). Past the throttle the answer is 429; with
// every slot busy past its wait, 503. A derivation that finds the
// holder's secret gives its token back and forgives the pair. With the
// throttle's store unreachable the derivation does not run (503): a
// guess that cannot be counted is not checked, or a guesser would only
// have to wait for an outage.
func (s *Service) admitDerivation(ctx context.Context, id, remoteAddr string, now time.Time) (func(matched bool), error) {
	r, ok, retry, err := s.throttles.Reserve(ctx, id, remoteAddr, now)
	switch {
	case err != nil:
		return nil, errStateUnavailable("the failed-authentication throttle could not be consulted", err)
	case !ok:
		e := errThrottled(retry)
		e.Cause = errGuessesThrottled
		return nil, e
	}
	if !s.kdf.Acquire() {
		// A refund that fails leaves the token spent: it only slows.
		_ = r.Refund(ctx, false)
		e := oauth.New(oauth.TemporarilyUnavail, "the server is busy; retry later")
		e.RetryAfter = 1
		e.Cause = errDerivationsBusy
		return nil, e
	}
	return func(matched bool) {
		s.kdf.Release()
		if matched {
			_ = r.Refund(ctx, true)
		}
	}, nil
}

var (
	errGuessesThrottled = errors.New("too many guesses at this client's person-chosen secret from this address: refused before its key derivation")
	errDerivationsBusy  = errors.New("every key derivation slot stayed busy: refused before its key derivation")
)

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

func retryAfterSeconds(d time.Duration) int {
	secs := int((d + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return secs
}
