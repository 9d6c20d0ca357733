// Package assertion verifies the JWTs that clients authenticate with under
// private_key_jwt (RFC 7523 §2.2 and §3, OpenID Connect Core §9): signed
// with a public key the client declared, issued by the client about itself,
// meant for this server, short-lived and used once.
package assertion

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
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

// Key is a client's declared public key, parsed, with the algorithms it
// may sign with and until when.
type Key struct {
	key      jwk.Key
	kid      string
	algs     []jwa.SignatureAlgorithm
	NotAfter time.Time
}

// KeyID is the key's kid: its own, else its RFC 7638 thumbprint.
func (k *Key) KeyID() string { return k.kid }

// Algorithms are the algorithms the key may sign assertions with.
func (k *Key) Algorithms() []string {
	out := make([]string, len(k.algs))
	for i, a := range k.algs {
		out[i] = a.String()
	}
	return out
}

// ParseKey parses a public key written as PEM (a PUBLIC KEY or a
// CERTIFICATE) or as a JWK. Private keys are refused: a declaration only
// ever holds the public half. Supported: EC P-256, P-384 and P-521
// (ES256/384/512), Ed25519 (EdDSA), and RSA of MinRSABits bits or more
// (RS256/384/512 and PS256/384/512). A JWK's alg, when set, narrows that
// to its one algorithm.
func ParseKey(src string) (*Key, error) {
	parsed, err := parseAny([]byte(src))
	if err != nil {
		return nil, err
	}
	return keyOf(parsed)
}

// keyOf checks a parsed key as ParseKey says and keeps its public half.
func keyOf(parsed jwk.Key) (*Key, error) {
	var raw any
	if err := parsed.Raw(&raw); err != nil {
		return nil, fmt.Errorf("unreadable key: %v", err)
	}
	var algs []jwa.SignatureAlgorithm
	switch k := raw.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			algs = []jwa.SignatureAlgorithm{jwa.ES256}
		case elliptic.P384():
			algs = []jwa.SignatureAlgorithm{jwa.ES384}
		case elliptic.P521():
			algs = []jwa.SignatureAlgorithm{jwa.ES512}
		default:
			return nil, fmt.Errorf("unsupported EC curve %s: use P-256, P-384 or P-521", k.Curve.Params().Name)
		}
	case ed25519.PublicKey:
		algs = []jwa.SignatureAlgorithm{jwa.EdDSA}
	case *rsa.PublicKey:
		if k.N.BitLen() < MinRSABits {
			return nil, fmt.Errorf("RSA key of %d bits: at least %d are needed", k.N.BitLen(), MinRSABits)
		}
		algs = []jwa.SignatureAlgorithm{jwa.RS256, jwa.RS384, jwa.RS512, jwa.PS256, jwa.PS384, jwa.PS512}
	case *ecdsa.PrivateKey, ed25519.PrivateKey, *rsa.PrivateKey:
		return nil, errors.New("this is a private key: declare only its public half, and keep the private key with the client")
	default:
		return nil, fmt.Errorf("unsupported key type %T", raw)
	}
	if declared := parsed.Algorithm().String(); declared != "" {
		i := slices.IndexFunc(algs, func(a jwa.SignatureAlgorithm) bool { return a.String() == declared })
		if i < 0 {
			return nil, fmt.Errorf("the key's alg %s does not suit a key of its type", declared)
		}
		algs = algs[i : i+1]
	}
	// A fresh JWK of the public key alone: nothing of the source (private
	// members of an odd JWK, certificate chains) travels further.
	key, err := jwk.FromRaw(raw)
	if err != nil {
		return nil, err
	}
	kid := parsed.KeyID()
	if kid == "" {
		thumb, err := key.Thumbprint(crypto.SHA256)
		if err != nil {
			return nil, err
		}
		kid = base64.RawURLEncoding.EncodeToString(thumb)
	}
	return &Key{key: key, kid: kid, algs: algs}, nil
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

// Sign makes what a private_key_jwt client sends: an assertion of
// clientID for the server whose issuer identifier is issuer, valid for a
// minute, with a random jti, signed with the private key in keySrc (a JWK,
// as `tollgate keys generate` writes, or PEM). The algorithm is the JWK's
// own alg, else the first its type allows (RS256 for RSA). It is made as
// draft-ietf-oauth-rfc7523bis asks: typed TypeHeader, its aud the issuer
// as a string.
func Sign(keySrc []byte, clientID, issuer string, now time.Time) (string, error) {
	key, pub, err := keyPair(keySrc)
	if err != nil {
		return "", err
	}
	declared, err := keyOf(pub)
	if err != nil {
		return "", err
	}
	alg := declared.algs[0] // RS256 first for RSA
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", err
	}
	tok, err := jwt.NewBuilder().Issuer(clientID).Subject(clientID).Audience([]string{issuer}).
		JwtID(base64.RawURLEncoding.EncodeToString(jti[:])).IssuedAt(now).Expiration(now.Add(time.Minute)).Build()
	if err != nil {
		return "", err
	}
	tok.Options().Enable(jwt.FlattenAudience)
	header := jws.NewHeaders()
	if err := header.Set(jws.TypeKey, TypeHeader); err != nil {
		return "", err
	}
	// No kid: the server's kid for the key depends on how it was declared
	// (a PEM has none, so it is the thumbprint); without one it tries each
	// current key of the client. jwx would copy the JWK's kid over.
	if err := key.Remove(jwk.KeyIDKey); err != nil {
		return "", err
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(alg, key, jws.WithProtectedHeaders(header)))
	if err != nil {
		return "", err
	}
	return string(signed), nil
}

// PublicPEM returns the public half of the key in keySrc (a JWK or PEM,
// private or public) as a PEM PUBLIC KEY, the form a public_key block
// declares.
func PublicPEM(keySrc []byte) (string, error) {
	_, pub, err := keyPair(keySrc)
	if err != nil {
		return "", err
	}
	var raw any
	if err := pub.Raw(&raw); err != nil {
		return "", err
	}
	der, err := x509.MarshalPKIXPublicKey(raw)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}

// keyPair reads a key file and returns the key and its public half.
func keyPair(src []byte) (key, pub jwk.Key, err error) {
	if key, err = parseAny(src); err != nil {
		return nil, nil, err
	}
	if pub, err = key.PublicKey(); err != nil {
		return nil, nil, err
	}
	return key, pub, nil
}

// parseAny reads a key, public or private, written as JWK or PEM.
func parseAny(src []byte) (jwk.Key, error) {
	trimmed := strings.TrimSpace(string(src))
	var key jwk.Key
	var err error
	if strings.HasPrefix(trimmed, "-----BEGIN") {
		key, err = jwk.ParseKey([]byte(trimmed), jwk.WithPEM(true))
	} else {
		key, err = jwk.ParseKey([]byte(trimmed))
	}
	if err != nil {
		return nil, fmt.Errorf("not a PEM key or a JWK: %v", errors.Unwrap(err))
	}
	return key, nil
}
