package authz

import (
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tollgate-dev/tollgate/engine/clientauth"
	"github.com/tollgate-dev/tollgate/engine/state"
	"github.com/tollgate-dev/tollgate/engine/token"
)

// Service answers requests against the current snapshot. Its state that
// must outlive a reload (signing keys, revocations, rate limit buckets,
// failed-authentication counters, the KDF cache) lives here, not in the
// snapshot.
type Service struct {
	current atomic.Pointer[Snapshot]
	// keys are swapped on their own: the keys folder reloads apart from
	// the configuration.
	keys   atomic.Pointer[token.KeySet]
	issuer string
	// authn authenticates clients and servers: its key derivation
	// slots, throttles and used assertions outlive reloads.
	authn    *clientauth.Authenticator
	audit    Auditor
	observer Observer
	log      *slog.Logger
	now      func() time.Time
	// revocations and rate limits outlive reloads too.
	revocations state.Revocations
	rateLimits  state.RateLimits
}

// Options configure a Service. Keys is required; the rest have defaults.
type Options struct {
	Keys *token.KeySet
	// Issuer is used when the settings block names none: "http://" + the
	// listen address, decided by whoever serves.
	Issuer string
	// Audit is told of every token, introspection and revocation
	// request; nil tells no one.
	Audit    Auditor
	Observer Observer
	// State keeps revocations, used assertion ids, rate limits and the
	// failed-authentication throttles; nil keeps them in memory
	// (state.Open without a Dir).
	State state.Store
	// Log is the server log, for what the operator must see that is no
	// audit line's business alone (a policy that fails). Default: none.
	Log *slog.Logger
	// Now is the clock; tests set it.
	Now func() time.Time
}

// NewService starts serving snap.
func NewService(snap *Snapshot, opts Options) *Service {
	s := &Service{
		issuer:   opts.Issuer,
		audit:    opts.Audit,
		observer: opts.Observer,
		log:      opts.Log,
		now:      opts.Now,
	}
	if s.audit == nil {
		s.audit = nopAuditor{}
	}
	if s.observer == nil {
		s.observer = nopObserver{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	st := opts.State
	if st == nil {
		st, _ = state.Open(state.Options{Now: s.now}) // in memory: cannot fail
	}
	s.revocations, s.rateLimits = st, st
	s.authn = clientauth.NewAuthenticator(clientauth.Options{State: st, Now: s.now, Observe: s.observer.ClientAuthenticated})
	s.current.Store(snap)
	s.keys.Store(opts.Keys)
	return s
}

// Snapshot returns the snapshot in service now.
func (s *Service) Snapshot() *Snapshot { return s.current.Load() }

// Swap puts a new, fully built snapshot in service. Requests already
// running finish on the snapshot they started with.
func (s *Service) Swap(snap *Snapshot) { s.current.Store(snap) }

// Keys returns the signing keys in service now.
func (s *Service) Keys() *token.KeySet { return s.keys.Load() }

// SwapKeys puts a new key set in service. Tokens of every key it
// publishes verify; a request that loaded the old set finishes with it.
func (s *Service) SwapKeys(keys *token.KeySet) { s.keys.Store(keys) }

// JWKS is the public key set published now.
func (s *Service) JWKS() []byte { return s.keys.Load().JWKS(s.now()) }

// Issuer returns the iss value of tokens issued under snap.
func (s *Service) Issuer(snap *Snapshot) string {
	if snap.Settings.Issuer != "" {
		return snap.Settings.Issuer
	}
	return s.issuer
}

// TokenEndpoint is the token endpoint's URL under snap: the metadata
// names it, and client assertions may be addressed to it.
func (s *Service) TokenEndpoint(snap *Snapshot) string {
	return strings.TrimSuffix(s.Issuer(snap), "/") + "/oauth2/token"
}

// SetDefaultIssuer sets the issuer used when the settings name none; the
// server calls it once it knows the address it listens on, before serving.
func (s *Service) SetDefaultIssuer(issuer string) { s.issuer = issuer }

func newTokenID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Observer receives the timings and outcomes the metrics are made of. The
// engine calls it; engine/metrics implements it with Prometheus.
type Observer interface {
	ClientAuthenticated(d time.Duration, ok bool)
	Decided(d time.Duration, cached bool)
	Signed(d time.Duration)
	// TokenIssued counts a token by client and audience: every audience
	// is a declared server's audience or id, the client's own id, or
	// AudienceLabelOther, so the values are bounded by the declarations.
	TokenIssued(client string, audience []string)
	// TokenRequested counts a token request's outcome: errorCode is empty
	// on success, client is empty unless the client authenticated.
	TokenRequested(client, errorCode string)
}

type nopObserver struct{}

func (nopObserver) ClientAuthenticated(time.Duration, bool) {}
func (nopObserver) Decided(time.Duration, bool)             {}
func (nopObserver) Signed(time.Duration)                    {}
func (nopObserver) TokenIssued(string, []string)            {}
func (nopObserver) TokenRequested(string, string)           {}
