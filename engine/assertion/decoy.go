package assertion

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"math/big"
	"slices"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// Candidates returns the keys of keys that may have signed raw, as Verify
// chooses them: current at now, allowing the header's alg, with the
// header's kid when it has one. alg and kid are the header's; both are
// empty when raw is no JWS.
func Candidates(raw string, keys []*Key, now time.Time) (alg, kid string, out []*Key) {
	msg, err := jws.ParseString(raw)
	if err != nil || len(msg.Signatures()) != 1 {
		return "", "", nil
	}
	header := msg.Signatures()[0].ProtectedHeaders()
	a := header.Algorithm()
	kid = header.KeyID()
	for _, k := range keys {
		if !k.NotAfter.IsZero() && !now.Before(k.NotAfter) {
			continue
		}
		if (kid != "" && kid != k.kid) || !slices.Contains(k.algs, a) {
			continue
		}
		out = append(out, k)
	}
	return a.String(), kid, out
}

// SignedBy returns the key of keys whose signature raw carries, or nil.
// Only the signature is checked: Verify decides the rest. It tells which
// of a client's overlapping keys is in use during a rotation.
func SignedBy(raw string, alg string, keys []*Key) *Key {
	for _, k := range keys {
		if _, err := jws.Verify([]byte(raw), jws.WithKey(jwa.SignatureAlgorithm(alg), k.key)); err == nil {
			return k
		}
	}
	return nil
}

// Decoys are public keys, one for each algorithm an assertion may use,
// whose private halves nobody has. Verifying an assertion against one
// costs what verifying it against a client's key costs, and never
// succeeds: they stand in for the keys of an id that has none, so that an
// unknown id cannot be told from a wrong signature by time.
type Decoys struct {
	byAlg map[jwa.SignatureAlgorithm]*Key
}

// NewDecoys makes decoys; an RSA decoy has the modulus size most common
// among like (MinRSABits when like has no RSA key), as RSA verification
// costs by size.
func NewDecoys(like []*Key) *Decoys {
	bits := map[int]int{}
	for _, k := range like {
		var raw rsa.PublicKey
		if k.key.Raw(&raw) == nil && raw.N != nil {
			bits[raw.N.BitLen()]++
		}
	}
	rsaBits := MinRSABits
	for b, n := range bits {
		if n > bits[rsaBits] || n == bits[rsaBits] && b < rsaBits {
			rsaBits = b
		}
	}
	d := &Decoys{byAlg: map[jwa.SignatureAlgorithm]*Key{}}
	add := func(pub any, algs ...jwa.SignatureAlgorithm) {
		key, err := jwk.FromRaw(pub)
		if err != nil {
			return
		}
		for _, a := range algs {
			d.byAlg[a] = &Key{key: key, algs: []jwa.SignatureAlgorithm{a}}
		}
	}
	for curve, alg := range map[elliptic.Curve]jwa.SignatureAlgorithm{elliptic.P256(): jwa.ES256, elliptic.P384(): jwa.ES384, elliptic.P521(): jwa.ES512} {
		if k, err := ecdsa.GenerateKey(curve, rand.Reader); err == nil {
			add(&k.PublicKey, alg)
		}
	}
	if pub, _, err := ed25519.GenerateKey(rand.Reader); err == nil {
		add(pub, jwa.EdDSA)
	}
	// RSA verification works on any odd modulus: a random one costs
	// nothing to make, where generating a key of 4096 bits takes seconds.
	n := make([]byte, rsaBits/8)
	_, _ = rand.Read(n)
	n[0] |= 0xc0
	n[len(n)-1] |= 1
	add(&rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537}, jwa.RS256, jwa.RS384, jwa.RS512, jwa.PS256, jwa.PS384, jwa.PS512)
	return d
}

// For returns the decoy for alg, bearing kid so that Verify tries it;
// nil when no key may sign with alg (none, HMAC, an unknown name), which
// Verify refuses without verifying anything.
func (d *Decoys) For(alg, kid string) *Key {
	k := d.byAlg[jwa.SignatureAlgorithm(alg)]
	if k == nil {
		return nil
	}
	decoy := *k
	decoy.kid = kid
	return &decoy
}
