// Package token holds the signing keys and mints and verifies RFC 9068 JWT
// access tokens with lestrrat-go/jwx. Everything that does not change per
// token (the protected header, the signer, the public JWKS) is prepared once
// per key set, so minting costs one JSON encoding and one signature.
package token

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// createdParam is a private JWK member recording when a key was made, so
// "the newest key signs" does not depend on file times, which git and
// copies do not keep.
const createdParam = "iat"

// signFromParam and retireParam are private JWK members, in Unix seconds
// like createdParam, that schedule a key (the meaning Azure Key Vault
// gives a key's nbf and exp): it signs no token before nbf, so it can be
// published ahead of use, and from exp on it is neither published nor
// accepted. The public JWKS carries none of the three.
const (
	signFromParam = "nbf"
	retireParam   = "exp"
)

// Algorithms maps the supported alg names to jwx's.
var Algorithms = map[string]jwa.SignatureAlgorithm{
	"ES256": jwa.ES256,
	"EdDSA": jwa.EdDSA,
	"RS256": jwa.RS256,
	"PS256": jwa.PS256,
}

// signingKey is one private key, prepared for minting.
type signingKey struct {
	kid     string
	alg     string
	created time.Time
	// signFrom is when the key starts to sign (its creation time unless
	// the file says later); retireAt, when set, is when it stops being
	// published and accepted.
	signFrom time.Time
	retireAt time.Time
	private  any // crypto key for the signer
	public   any // crypto key for the verifier
	signer   jws.Signer
	verify   jws.Verifier
	// header is the base64url protected header followed by ".".
	header string
	// published is the public JWK, without the private members.
	published jwk.Key
}

// retiredAt reports whether the key is no longer published at t.
func (sk *signingKey) retiredAt(t time.Time) bool {
	return !sk.retireAt.IsZero() && !t.Before(sk.retireAt)
}

// newer orders keys for "the newest signs": by the time they start to
// sign, then by creation, then by kid, so every replica reading the same
// files picks the same key.
func (sk *signingKey) newer(other *signingKey) bool {
	if !sk.signFrom.Equal(other.signFrom) {
		return sk.signFrom.After(other.signFrom)
	}
	if !sk.created.Equal(other.created) {
		return sk.created.After(other.created)
	}
	return sk.kid > other.kid
}

// epoch is a stretch of time in which the signer and the published keys
// stay the same.
type epoch struct {
	from   time.Time // zero for the first epoch
	signer *signingKey
	jwks   []byte
	kids   []string // published, newest first
}

// KeySet holds the signing keys and their schedule: which key signs and
// which keys are published at any instant follows from the keys' times
// alone (created, sign-from, retire), so replicas reading the same folder
// agree without talking to each other, and a key starts to sign when its
// time comes without a reload. It is immutable and safe for concurrent use.
type KeySet struct {
	alg    string
	byKID  map[string]*signingKey
	epochs []epoch // by from, the first from the zero time
}

// Ephemeral makes a key set of one fresh key, for serving without --keys.
func Ephemeral(alg string) (*KeySet, error) {
	key, err := GenerateKey(alg)
	if err != nil {
		return nil, err
	}
	return newKeySet([]jwk.Key{key}, alg, time.Now(), "")
}

// newKeySet prepares keys and computes their schedule. dir, when set,
// names the folder in error messages.
func newKeySet(keys []jwk.Key, alg string, now time.Time, dir string) (*KeySet, error) {
	ks := &KeySet{byKID: make(map[string]*signingKey, len(keys))}
	prepared := make([]*signingKey, 0, len(keys))
	for _, key := range keys {
		sk, err := prepare(key)
		if err != nil {
			return nil, err
		}
		if _, dup := ks.byKID[sk.kid]; dup {
			return nil, fmt.Errorf("keys: two keys with kid %q", sk.kid)
		}
		ks.byKID[sk.kid] = sk
		prepared = append(prepared, sk)
	}
	sort.Slice(prepared, func(i, j int) bool { return prepared[i].newer(prepared[j]) })
	if alg == "" {
		alg = prepared[0].alg
	}
	ks.alg = alg
	if !slices.ContainsFunc(prepared, func(sk *signingKey) bool { return sk.alg == alg }) {
		return nil, fmt.Errorf("keys: no key for signing_alg %s: make one with `tollgate keys rotate --alg %s`", alg, alg)
	}
	if err := ks.schedule(prepared); err != nil {
		return nil, err
	}
	if ks.signerAt(now) == nil {
		where := ""
		if dir != "" {
			where = " --keys " + dir
		}
		return nil, fmt.Errorf("keys: every %s key is retired (past its %q time): add one with `tollgate keys rotate%s --alg %s`", alg, retireParam, where, alg)
	}
	return ks, nil
}

// schedule cuts time into epochs at every key's sign-from and retire
// time, and decides each epoch's signer and published keys once, so
// minting only looks up the epoch of its iat. keys are newest first.
func (ks *KeySet) schedule(keys []*signingKey) error {
	cuts := []time.Time{{}}
	for _, sk := range keys {
		cuts = append(cuts, sk.signFrom)
		if !sk.retireAt.IsZero() {
			cuts = append(cuts, sk.retireAt)
		}
	}
	slices.SortFunc(cuts, func(a, b time.Time) int { return a.Compare(b) })
	cuts = slices.CompactFunc(cuts, time.Time.Equal)
	for _, at := range cuts {
		e := epoch{from: at, signer: ks.pickSigner(keys, at)}
		for _, sk := range keys {
			if !sk.retiredAt(at) {
				e.kids = append(e.kids, sk.kid)
			}
		}
		if n := len(ks.epochs); n > 0 && ks.epochs[n-1].signer == e.signer && slices.Equal(ks.epochs[n-1].kids, e.kids) {
			continue
		}
		public := jwk.NewSet()
		for _, kid := range e.kids {
			if err := public.AddKey(ks.byKID[kid].published); err != nil {
				return err
			}
		}
		var err error
		if e.jwks, err = json.Marshal(public); err != nil {
			return err
		}
		ks.epochs = append(ks.epochs, e)
	}
	return nil
}

// pickSigner is the signer at t: the newest published key of the set's
// alg whose sign-from time has passed. When none has started yet (a
// folder whose every key was made to sign later, or a clock behind the
// one that wrote them), the first to start signs: a server must be able
// to sign, and that key is published already. nil when every key of the
// alg is retired.
func (ks *KeySet) pickSigner(keys []*signingKey, t time.Time) *signingKey {
	var first *signingKey
	for _, sk := range keys { // newest first
		if sk.alg != ks.alg || sk.retiredAt(t) {
			continue
		}
		if !sk.signFrom.After(t) {
			return sk
		}
		first = sk
	}
	return first
}

// epochAt returns the epoch holding t. Sets have one or two epochs but
// during a rotation, so the walk from the end is short.
func (ks *KeySet) epochAt(t time.Time) *epoch {
	for i := len(ks.epochs) - 1; i > 0; i-- {
		if !t.Before(ks.epochs[i].from) {
			return &ks.epochs[i]
		}
	}
	return &ks.epochs[0]
}

func (ks *KeySet) signerAt(t time.Time) *signingKey { return ks.epochAt(t).signer }

func prepare(key jwk.Key) (*signingKey, error) {
	switch key.KeyType() {
	case "EC", "OKP", "RSA":
	default:
		return nil, fmt.Errorf("keys: %s: unsupported key type %s", key.KeyID(), key.KeyType())
	}
	algName := key.Algorithm().String()
	alg, ok := Algorithms[algName]
	if !ok {
		return nil, fmt.Errorf("keys: %s: unsupported or missing alg %q", key.KeyID(), algName)
	}
	sk := &signingKey{kid: key.KeyID(), alg: algName}
	var err error
	if sk.created, err = keyTime(key, createdParam); err != nil {
		return nil, err
	}
	if sk.signFrom, err = keyTime(key, signFromParam); err != nil {
		return nil, err
	}
	if sk.signFrom.IsZero() {
		sk.signFrom = sk.created
	}
	if sk.retireAt, err = keyTime(key, retireParam); err != nil {
		return nil, err
	}
	if err = key.Raw(&sk.private); err != nil {
		return nil, fmt.Errorf("keys: %s: %w", sk.kid, err)
	}
	pub, err := key.PublicKey()
	if err != nil {
		return nil, err
	}
	if err = pub.Raw(&sk.public); err != nil {
		return nil, err
	}
	for _, private := range []string{createdParam, signFromParam, retireParam} {
		_ = pub.Remove(private)
	}
	sk.published = pub
	if isPublic(sk.private) {
		return nil, fmt.Errorf("keys: %s is a public key: --keys needs private keys", sk.kid)
	}
	if sk.signer, err = jws.NewSigner(alg); err != nil {
		return nil, err
	}
	if sk.verify, err = jws.NewVerifier(alg); err != nil {
		return nil, err
	}
	header, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{algName, sk.kid, "at+jwt"})
	if err != nil {
		return nil, err
	}
	sk.header = base64.RawURLEncoding.EncodeToString(header) + "."
	return sk, nil
}

// keyTime reads a private time member of key, in Unix seconds; zero
// when absent.
func keyTime(key jwk.Key, name string) (time.Time, error) {
	v, ok := key.Get(name)
	if !ok {
		return time.Time{}, nil
	}
	switch n := v.(type) {
	case float64:
		return time.Unix(int64(n), 0), nil
	case int64:
		return time.Unix(n, 0), nil
	case int:
		return time.Unix(int64(n), 0), nil
	case json.Number:
		if i, err := n.Int64(); err == nil {
			return time.Unix(i, 0), nil
		}
	}
	return time.Time{}, fmt.Errorf("keys: %s: %q must be a time in Unix seconds, not %v", key.KeyID(), name, v)
}

func isPublic(k any) bool {
	switch k.(type) {
	case *ecdsa.PublicKey, ecdsa.PublicKey, *rsa.PublicKey, rsa.PublicKey, ed25519.PublicKey:
		return true
	}
	return false
}

// Alg is the algorithm of the keys that sign.
func (ks *KeySet) Alg() string { return ks.alg }

// SigningKeyID is the kid of the key that signs a token issued at t.
func (ks *KeySet) SigningKeyID(t time.Time) string {
	if sk := ks.signerAt(t); sk != nil {
		return sk.kid
	}
	return ""
}

// Published lists the kids the JWKS holds at t, newest first.
func (ks *KeySet) Published(t time.Time) []string { return slices.Clone(ks.epochAt(t).kids) }

// JWKS is the public key set at t as JSON (RFC 7517 §5): public members
// only, every key that is not retired, including a key published ahead
// of signing.
func (ks *KeySet) JWKS(t time.Time) []byte { return ks.epochAt(t).jwks }

// NextChange is the first time after t at which the signer or the
// published keys change, and the signer from then ("" when none can
// sign); a zero time when nothing is scheduled.
func (ks *KeySet) NextChange(t time.Time) (at time.Time, signer string) {
	for _, e := range ks.epochs {
		if e.from.After(t) {
			if e.signer != nil {
				signer = e.signer.kid
			}
			return e.from, signer
		}
	}
	return time.Time{}, ""
}

// RetiredEarly lists the keys that stop being published before every
// token they signed has expired, for tokens living up to maxTTL: a
// retire time closer than maxTTL to the moment the key stopped signing.
func (ks *KeySet) RetiredEarly(maxTTL time.Duration) []string {
	var early []string
	for i, e := range ks.epochs {
		sk := e.signer
		if sk == nil || sk.retireAt.IsZero() || (i+1 < len(ks.epochs) && ks.epochs[i+1].signer == sk) {
			continue
		}
		stopped := sk.retireAt
		if i+1 < len(ks.epochs) {
			stopped = ks.epochs[i+1].from
		}
		if sk.retireAt.Before(stopped.Add(maxTTL)) && !slices.Contains(early, sk.kid) {
			early = append(early, sk.kid)
		}
	}
	return early
}

// ErrInvalidToken is wrapped by every Verify rejection.
var ErrInvalidToken = errors.New("invalid token")

// ErrNoSigningKey is returned by Mint when no key may sign at the token's
// iat: every key of the set's alg is retired by then.
var ErrNoSigningKey = errors.New("token: no signing key: every key is retired")
