package authz

import (
	"crypto/x509"
	"strconv"
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
// servers authenticate too (introspection). Failures are throttled per id
// and per remote address before any secret is checked.
//
// A failed assertion's or certificate's reason travels as the error's
// Cause, for the audit log; the caller only ever learns that
// authentication failed.
func (s *Service) authenticate(snap *Snapshot, creds Credentials, remoteAddr string, allowServers bool) (clientauth.Principal, error) {
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
		return clientauth.Principal{}, errInvalidClient()
	}
	if err := snap.refuseOverlongID(creds.ID); err != nil {
		return clientauth.Principal{}, err
	}
	now := s.now()
	if blocked, retry := s.throttle.Check(creds.ID, remoteAddr, now); blocked {
		e := oauth.New(oauth.SlowDown, "too many failed authentication attempts; retry later")
		e.RetryAfter = retryAfterSeconds(retry)
		return clientauth.Principal{}, e
	}
	start := time.Now()
	var who clientauth.Principal
	var ok bool
	var cause error
	switch creds.Method {
	case model.AuthPrivateKeyJWT:
		who, cause = snap.secrets.AuthenticateAssertion(creds.ID, creds.Assertion, s.assertions, s.assertionAudiences(snap))
		ok = cause == nil
	case model.AuthTLSClientAuth:
		who, cause = snap.secrets.AuthenticateCertificate(creds.ID, creds.Certificate)
		ok = cause == nil
	default:
		who, ok = snap.secrets.Authenticate(creds.ID, creds.Secret, now)
	}
	switch {
	case !ok:
	case who.Client != nil:
		// A client must use the method it declared (RFC 7591 §2
		// token_endpoint_auth_method); a disabled client cannot
		// authenticate at all.
		ok = !who.Client.Disabled && who.Client.AuthMethod == creds.Method
	default:
		ok = allowServers
	}
	s.observer.ClientAuthenticated(time.Since(start), ok)
	if !ok {
		s.throttle.Failure(creds.ID, remoteAddr, now)
		e := errInvalidClient()
		e.Cause = cause
		return clientauth.Principal{}, e
	}
	s.throttle.Success(creds.ID, remoteAddr)
	return who, nil
}

// assertionAudiences are the aud values that name this server in a client
// assertion: its issuer identifier first (draft-ietf-oauth-rfc7523bis),
// then its token endpoint URL (RFC 7523 §3); see assertion.Verifier.Check.
func (s *Service) assertionAudiences(snap *Snapshot) []string {
	return []string{s.Issuer(snap), s.TokenEndpoint(snap)}
}

// authFailureReasons is what the audit log says of a failed client
// authentication that has a reason to give (a rejected assertion or
// certificate).
func authFailureReasons(err error) []string {
	if e := oauth.As(err); e.Code == oauth.InvalidClient && e.Cause != nil {
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

// RetryAfterHeader formats an error's Retry-After value.
func RetryAfterHeader(e *oauth.Error) string { return strconv.Itoa(e.RetryAfter) }
