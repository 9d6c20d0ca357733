package clientauth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tollgate-dev/tollgate/engine/assertion"
	"github.com/tollgate-dev/tollgate/engine/model"
	"github.com/tollgate-dev/tollgate/engine/ratelimit"
	"github.com/tollgate-dev/tollgate/engine/state"
)

// Attempt is one authentication: the credentials and what they are
// checked against beyond the Index.
type Attempt struct {
	Credentials
	// RemoteAddr is the caller's address, which the failed-authentication
	// throttles count.
	RemoteAddr string
	// Audiences are the aud values that name this server in a client
	// assertion (see assertion.Verifier.Check).
	Audiences []string
	// AllowServers lets resource servers authenticate too (introspection).
	AllowServers bool
}

// Authenticator authenticates clients and servers against an Index, the
// one of the snapshot in service: it owns what must outlive a reload, the
// slots that bound the key derivations running at once, the
// failed-authentication throttles and the assertions already used.
type Authenticator struct {
	kdf        *ratelimit.Slots
	throttles  state.Throttles
	assertions *assertion.Verifier
	now        func() time.Time
	observe    func(d time.Duration, ok bool)
}

// Options configure an Authenticator. State is required.
type Options struct {
	// State keeps the failed-authentication throttles and the assertion
	// jtis used.
	State interface {
		state.Throttles
		state.Replay
	}
	// KDFSlots bounds the key derivations running at once; nil means
	// ratelimit.DefaultSlots.
	KDFSlots *ratelimit.Slots
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Observe is told how long each authentication that reached its
	// credential check took and whether it succeeded; nil tells no one.
	Observe func(d time.Duration, ok bool)
}

// NewAuthenticator returns an Authenticator over opts.State.
func NewAuthenticator(opts Options) *Authenticator {
	a := &Authenticator{kdf: opts.KDFSlots, throttles: opts.State, now: opts.Now, observe: opts.Observe}
	if a.kdf == nil {
		a.kdf = ratelimit.DefaultSlots()
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.observe == nil {
		a.observe = func(time.Duration, bool) {}
	}
	a.assertions = assertion.NewVerifierWith(opts.State, a.now)
	return a
}

// Authenticate verifies at against idx and returns who authenticated, or
// a *Failure, *Throttled, *Busy or *Unavailable.
//
// A right credential is always accepted: a generated secret, an
// assertion, a certificate and a person's secret verified before are
// checked first, at no cost worth throttling, so a stranger who knows a
// client id cannot lock the client out (RFC 6819 §4.4.1.11). Only a key
// derivation (argon2id, bcrypt) for a secret not known right is throttled
// before it runs, per client id and address and per address (see
// admitDerivation); an address whose failures of any kind pile up is
// answered *Throttled rather than *Failure.
func (a *Authenticator) Authenticate(ctx context.Context, idx *Index, at Attempt) (Principal, error) {
	creds := at.Credentials
	if creds.Method == model.AuthPrivateKeyJWT && creds.ID == "" {
		id, err := assertion.ClientID(creds.Assertion)
		if err != nil {
			return Principal{}, &Failure{Reason: err}
		}
		creds.ID = id
	}
	if creds.Method == "" || creds.ID == "" {
		return Principal{}, &Failure{Reason: errNoCredentials}
	}
	if err := idx.refuseOverlongID(creds.ID); err != nil {
		return Principal{}, err
	}
	now := a.now()
	start := time.Now()
	var res Result
	switch creds.Method {
	case model.AuthPrivateKeyJWT:
		res = idx.AuthenticateAssertion(creds.ID, creds.Assertion, a.assertions, at.Audiences, now)
	case model.AuthTLSClientAuth:
		res = idx.AuthenticateCertificate(creds.ID, creds.Certificate)
	default:
		res = idx.Authenticate(creds.ID, creds.Secret, now, func() (func(bool), error) {
			return a.admitDerivation(ctx, creds.ID, at.RemoteAddr, now)
		})
	}
	if res.Err != nil {
		return Principal{}, res.Err
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
	case who.Server != nil && !at.AllowServers:
		ok, reason = false, "a server authenticates only to introspection"
	}
	a.observe(time.Since(start), ok)
	if ok {
		return who, nil
	}
	// With the store unreachable the failure is answered as a failure
	// all the same, uncounted: counting only turns it into a refusal,
	// and the store's error is counted and logged by state.Observed.
	if throttled, retry, err := a.throttles.Failed(ctx, at.RemoteAddr, now); err == nil && throttled {
		return Principal{}, &Throttled{RetryAfter: retry, Reason: errors.New(reason + "; this address failed too often, so the answer is 429")}
	}
	return Principal{}, &Failure{Reason: errors.New(reason)}
}

var errNoCredentials = errors.New("no client credentials were sent")

func declaredMethod(c *model.Client) string {
	if c.AuthMethodImplicit {
		return model.AuthClientSecretBasic + " or " + model.AuthClientSecretPost + " (it declares no auth_method)"
	}
	return c.AuthMethod
}

// refuseOverlongID refuses an id longer than any declared one before it
// is throttled, looked up or logged (SPEC §6): no client can have it, and
// whatever is kept or written per id is then bounded by the declarations,
// not by what a caller sends. The answer is the one every failed
// authentication gets; the reason says what happened.
func (idx *Index) refuseOverlongID(id string) error {
	if len(id) <= idx.longestID {
		return nil
	}
	return &Failure{Reason: fmt.Errorf("client_id of %d bytes is longer than any declared id (at most %d bytes)", len(id), idx.longestID)}
}

// admitDerivation lets a key derivation for a guess at id's secret from
// remoteAddr run: it takes a token in the throttle before the work, so
// that concurrent guesses cannot all pass, and a slot of a.kdf, so that
// the derivations running at once stay within the cores (each argon2id
// one holds its memory cost). Past the throttle the answer is
// *Throttled; with every slot busy past its wait, *Busy. A derivation
// that finds the holder's secret gives its token back and forgives the
// pair. With the throttle's store unreachable the derivation does not
// run (*Unavailable): a guess that cannot be counted is not checked, or
// a guesser would only have to wait for an outage.
func (a *Authenticator) admitDerivation(ctx context.Context, id, remoteAddr string, now time.Time) (func(matched bool), error) {
	r, ok, retry, err := a.throttles.Reserve(ctx, id, remoteAddr, now)
	switch {
	case err != nil:
		return nil, &Unavailable{What: "the failed-authentication throttle could not be consulted", Err: err}
	case !ok:
		return nil, &Throttled{RetryAfter: retry, Reason: errGuessesThrottled}
	}
	if !a.kdf.Acquire() {
		// A refund that fails leaves the token spent: it only slows.
		_ = r.Refund(ctx, false)
		return nil, &Busy{Reason: errDerivationsBusy}
	}
	return func(matched bool) {
		a.kdf.Release()
		if matched {
			_ = r.Refund(ctx, true)
		}
	}, nil
}

var (
	errGuessesThrottled = errors.New("too many guesses at this client's person-chosen secret from this address: refused before its key derivation")
	errDerivationsBusy  = errors.New("every key derivation slot stayed busy: refused before its key derivation")
)
