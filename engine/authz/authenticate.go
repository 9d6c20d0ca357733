package authz

import (
	"strconv"
	"time"

	"github.com/tollgate-dev/tollgate/engine/clientauth"
	"github.com/tollgate-dev/tollgate/engine/oauth"
)

// Credentials are what a caller presented to authenticate itself.
type Credentials struct {
	ID     string
	Secret string
	// Method is how they came: model.AuthClientSecretBasic (the
	// Authorization header) or model.AuthClientSecretPost (the body);
	// empty when none came.
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
func (s *Service) authenticate(snap *Snapshot, creds Credentials, remoteAddr string, allowServers bool) (clientauth.Principal, error) {
	if creds.Method == "" || creds.ID == "" {
		return clientauth.Principal{}, errInvalidClient()
	}
	now := s.now()
	if blocked, retry := s.throttle.Check(creds.ID, remoteAddr, now); blocked {
		e := oauth.New(oauth.SlowDown, "too many failed authentication attempts; retry later")
		e.RetryAfter = retryAfterSeconds(retry)
		return clientauth.Principal{}, e
	}
	start := time.Now()
	who, ok := snap.secrets.Authenticate(creds.ID, creds.Secret, now)
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
		return clientauth.Principal{}, errInvalidClient()
	}
	s.throttle.Success(creds.ID, remoteAddr)
	return who, nil
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
