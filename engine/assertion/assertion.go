// Package assertion verifies the JWTs that clients authenticate with under
// private_key_jwt (RFC 7523 §2.2 and §3, OpenID Connect Core §9): signed
// with a public key the client declared, issued by the client about itself,
// meant for this server, short-lived and used once.
package assertion

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/tollgate-dev/tollgate/engine/state"
)

// Type is the client_assertion_type of a JWT assertion (RFC 7523 §2.2).
const Type = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

const (
	// MaxLifetime bounds how far in the future an assertion's exp may be,
	// and so how long its jti must be remembered.
	MaxLifetime = 10 * time.Minute
	// Leeway tolerates clock skew between the client and the server.
	Leeway = 30 * time.Second
	// MinRSABits is the smallest RSA key accepted (NIST SP 800-131A).
	MinRSABits = 2048
)

// Algorithms are the signature algorithms an assertion may use, as server
// metadata lists them (RFC 8414 token_endpoint_auth_signing_alg_values_supported);
// each key allows those of its type.
var Algorithms = []string{"ES256", "ES384", "ES512", "EdDSA", "PS256", "PS384", "PS512", "RS256", "RS384", "RS512"}

// ErrInvalid is wrapped by every rejection. The reasons are for logs and
// tests; clients only ever learn that authentication failed.
var ErrInvalid = errors.New("invalid client assertion")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Verifier checks assertions for one server: the audiences it answers to
// and the jtis already used. Its replay store outlives configuration
// reloads, so that a reload cannot make a used assertion new again.
type Verifier struct {
	replay state.Replay
	now    func() time.Time
}

// NewVerifier remembers used jtis in this process's memory, up to
// maxPerClient unexpired ones per client; past that, that client's
// assertions are refused until its old ones expire.
func NewVerifier(maxPerClient int, now func() time.Time) *Verifier {
	if now == nil {
		now = time.Now
	}
	replay, _ := state.Open(state.Options{MaxAssertionsPerClient: maxPerClient, Now: now}) // in memory: cannot fail
	return NewVerifierWith(replay, now)
}

// NewVerifierWith remembers used jtis in replay.
func NewVerifierWith(replay state.Replay, now func() time.Time) *Verifier {
	if now == nil {
		now = time.Now
	}
	return &Verifier{replay: replay, now: now}
}

// Verified is an assertion whose signature and claims hold, and whose jti
// is yet to be used up (Verifier.Use).
type Verified struct {
	JTI string
	// Until is the last moment the assertion could be accepted: its exp
	// and the leeway.
	Until time.Time
}

// Verify checks raw as Check does and uses up its jti at once: a jti is
// accepted once per client.
func (v *Verifier) Verify(raw, clientID string, keys []*Key, audiences []string) error {
	verified, err := v.Check(raw, clientID, keys, audiences)
	if err != nil {
		return err
	}
	return v.Use(context.Background(), clientID, verified)
}

// Check verifies raw as an assertion of clientID, signed by one of keys
// that is still valid, for this server. It records nothing: the caller
// uses the jti up (Use) once its own cheap checks have passed, so that a
// request refused before then does not spend it.
//
// audiences name this server: its issuer identifier first, then the other
// names RFC 7523 §3 lets a client use (the token endpoint URL). The aud
// must hold one of them alone, as a string or an array of one
// (draft-ietf-oauth-rfc7523bis: an assertion meant for several servers is
// refused, even if it names this one), and only the issuer when the
// assertion is typed as the draft's (TypeHeader).
func (v *Verifier) Check(raw, clientID string, keys []*Key, audiences []string) (*Verified, error) {
	now := v.now()
	header, claims, err := parseCompact(raw)
	if err != nil {
		return nil, err
	}
	typed, err := explicitType(header)
	if err != nil {
		return nil, err
	}
	if err := checkClaimTypes(claims); err != nil {
		return nil, err
	}
	msg, err := jws.ParseString(raw)
	if err != nil {
		return nil, invalid("not a JWS: %v", err)
	}
	sigs := msg.Signatures()
	if len(sigs) != 1 {
		return nil, invalid("want one signature, got %d", len(sigs))
	}
	protected := sigs[0].ProtectedHeaders()
	alg, kid := protected.Algorithm(), protected.KeyID()
	var verified jwt.Token
	tried := false
	for _, k := range keys {
		if !k.NotAfter.IsZero() && !now.Before(k.NotAfter) {
			continue
		}
		if (kid != "" && kid != k.kid) || !slices.Contains(k.algs, alg) {
			continue
		}
		tried = true
		tok, err := jwt.ParseString(raw,
			jwt.WithKey(alg, k.key),
			jwt.WithValidate(true),
			jwt.WithClock(jwt.ClockFunc(func() time.Time { return now })),
			jwt.WithAcceptableSkew(Leeway),
			jwt.WithIssuer(clientID),
			jwt.WithSubject(clientID),
			jwt.WithRequiredClaim(jwt.ExpirationKey),
			jwt.WithRequiredClaim(jwt.JwtIDKey),
			jwt.WithValidator(audienceIs(audiences, typed)),
			jwt.WithValidator(expiresAtAll),
			jwt.WithValidator(lifetimeAtMost(MaxLifetime, now)),
		)
		if err != nil {
			if jwt.IsValidationError(err) {
				// The signature held: the claims are wrong, whichever key.
				return nil, invalid("%v", err)
			}
			continue
		}
		verified = tok
		break
	}
	switch {
	case verified != nil:
	case !tried:
		return nil, invalid("no current key of client %s signs with %s (kid %q)", clientID, alg, kid)
	default:
		return nil, invalid("the signature matches no current key of client %s", clientID)
	}
	if verified.JwtID() == "" {
		return nil, invalid("jti is empty")
	}
	return &Verified{JTI: verified.JwtID(), Until: verified.Expiration().Add(Leeway)}, nil
}

// Unused refuses an assertion whose jti clientID already used. It only
// looks, so that a replay can be refused before anything is spent on it;
// Use decides.
func (v *Verifier) Unused(ctx context.Context, clientID string, a *Verified) error {
	used, err := v.replay.Seen(ctx, clientID, a.JTI)
	if err != nil {
		return err
	}
	if used {
		return invalid("jti %q %v", shorten(a.JTI), state.ErrReplayed)
	}
	return nil
}

// Use uses up the assertion's jti for clientID. A replay is ErrInvalid; a
// client with too many unexpired assertions gets the store's
// *state.QuotaError; any other error means the jti could not be recorded,
// and the assertion must be refused all the same.
func (v *Verifier) Use(ctx context.Context, clientID string, a *Verified) error {
	err := v.replay.Use(ctx, clientID, a.JTI, a.Until)
	if errors.Is(err, state.ErrReplayed) {
		return invalid("jti %q %v", shorten(a.JTI), err)
	}
	return err
}

// shorten bounds a jti, which the client chose, before it is logged.
func shorten(jti string) string {
	const max = 64
	if len(jti) <= max {
		return jti
	}
	return jti[:max] + "..."
}

func audienceIs(audiences []string, typed bool) jwt.Validator {
	return jwt.ValidatorFunc(func(_ context.Context, t jwt.Token) jwt.ValidationError {
		aud := t.Audience()
		switch {
		case len(audiences) == 0:
			return jwt.NewValidationError(errors.New("this server has no audience to be named by"))
		case typed && (len(aud) != 1 || aud[0] != audiences[0]):
			return jwt.NewValidationError(fmt.Errorf("aud %q: an assertion typed %s names the issuer %q alone", aud, TypeHeader, audiences[0]))
		case len(aud) != 1:
			return jwt.NewValidationError(fmt.Errorf("aud %q: this server (%q) must be the sole audience", aud, audiences))
		case !slices.Contains(audiences, aud[0]):
			return jwt.NewValidationError(fmt.Errorf("aud %q names none of %q", aud, audiences))
		}
		return nil
	})
}

// expiresAtAll refuses what jwx's required-claim check lets pass: an exp
// of 0, which jwx reads as no exp and never expires (its jti would be
// forgotten as expired, and the assertion accepted again).
var expiresAtAll = jwt.ValidatorFunc(func(_ context.Context, t jwt.Token) jwt.ValidationError {
	if t.Expiration().Unix() == 0 {
		return jwt.NewValidationError(errors.New(`"exp" is 0`))
	}
	return nil
})

func lifetimeAtMost(max time.Duration, now time.Time) jwt.Validator {
	return jwt.ValidatorFunc(func(_ context.Context, t jwt.Token) jwt.ValidationError {
		if t.Expiration().After(now.Add(max + Leeway)) {
			return jwt.NewValidationError(fmt.Errorf("exp is more than %s away", max))
		}
		return nil
	})
}
