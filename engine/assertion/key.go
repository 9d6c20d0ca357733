package assertion

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

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
	source, err := parseAny([]byte(src))
	if err != nil {
		return nil, err
	}
	return keyOf(source)
}

// keyOf checks a parsed key as ParseKey says and keeps its public half.
func keyOf(source jwk.Key) (*Key, error) {
	var raw any
	if err := source.Raw(&raw); err != nil {
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
	if declared := source.Algorithm().String(); declared != "" {
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
	kid := source.KeyID()
	if kid == "" {
		thumb, err := key.Thumbprint(crypto.SHA256)
		if err != nil {
			return nil, err
		}
		kid = base64.RawURLEncoding.EncodeToString(thumb)
	}
	return &Key{key: key, kid: kid, algs: algs}, nil
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
