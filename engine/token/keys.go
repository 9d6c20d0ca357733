// Package token holds the signing keys and mints and verifies RFC 9068 JWT
// access tokens with lestrrat-go/jwx. Everything that does not change per
// token (the protected header, the signer, the public JWKS) is prepared once
// per key set, so minting costs one JSON encoding and one signature.
package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// createdParam is a private JWK member recording when a key was made, so
// "the newest key signs" does not depend on file times, which git and
// copies do not keep.
const createdParam = "iat"

// Algorithms maps the supported alg names to jwx's.
var Algorithms = map[string]jwa.SignatureAlgorithm{
	"ES256": jwa.ES256,
	"EdDSA": jwa.EdDSA,
	"RS256": jwa.RS256,
	"PS256": jwa.PS256,
}

// GenerateKey makes a new private key for alg: P-256 for ES256, Ed25519 for
// EdDSA, RSA 3072 for RS256 and PS256. It sets kid (the RFC 7638
// thumbprint), alg, use=sig and the creation time.
func GenerateKey(alg string) (jwk.Key, error) {
	if _, ok := Algorithms[alg]; !ok {
		return nil, fmt.Errorf("unsupported signing algorithm %q: want ES256, EdDSA, RS256 or PS256", alg)
	}
	var raw any
	var err error
	switch alg {
	case "ES256":
		raw, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "EdDSA":
		_, raw, err = ed25519.GenerateKey(rand.Reader)
	default:
		raw, err = rsa.GenerateKey(rand.Reader, 3072)
	}
	if err != nil {
		return nil, err
	}
	key, err := jwk.FromRaw(raw)
	if err != nil {
		return nil, err
	}
	thumb, err := key.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, err
	}
	for name, value := range map[string]any{
		jwk.KeyIDKey:     base64.RawURLEncoding.EncodeToString(thumb),
		jwk.AlgorithmKey: Algorithms[alg],
		jwk.KeyUsageKey:  "sig",
		createdParam:     time.Now().Unix(),
	} {
		if err := key.Set(name, value); err != nil {
			return nil, err
		}
	}
	return key, nil
}

// WriteKeyFile writes key as DIR/<kid>.jwk.json, readable by its owner
// only. It never overwrites a file.
func WriteKeyFile(dir string, key jwk.Key) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	body, err := json.MarshalIndent(key, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, key.KeyID()+".jwk.json")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	if _, err := f.Write(append(body, '\n')); err != nil {
		f.Close()
		return "", err
	}
	return path, f.Close()
}

// signingKey is one private key, prepared for minting.
type signingKey struct {
	kid     string
	alg     string
	created time.Time
	private any // crypto key for the signer
	public  any // crypto key for the verifier
	signer  jws.Signer
	verify  jws.Verifier
	// header is the base64url protected header followed by ".".
	header string
}

// KeySet holds the signing keys. The newest signs; all are published and
// accepted. It is immutable and safe for concurrent use.
type KeySet struct {
	signing *signingKey
	byKID   map[string]*signingKey
	jwks    []byte
}

// Ephemeral makes a key set of one fresh key, for serving without --keys.
func Ephemeral(alg string) (*KeySet, error) {
	key, err := GenerateKey(alg)
	if err != nil {
		return nil, err
	}
	return newKeySet([]jwk.Key{key}, alg)
}

// LoadDir reads every *.json file of dir, each a private JWK or a JWK Set.
// The newest key of alg (by its creation time, else its file's mtime)
// signs; an empty alg means the newest key of any algorithm.
func LoadDir(dir, alg string) (*KeySet, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	var keys []jwk.Key
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("keys: %w", err)
		}
		set, err := jwk.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("keys: %s: %w", path, err)
		}
		info, _ := e.Info()
		for i := 0; i < set.Len(); i++ {
			key, _ := set.Key(i)
			if _, ok := key.Get(createdParam); !ok && info != nil {
				_ = key.Set(createdParam, info.ModTime().Unix())
			}
			if key.KeyID() == "" {
				return nil, fmt.Errorf("keys: %s: a key has no kid", path)
			}
			keys = append(keys, key)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("keys: no JWK files (*.json) in %s: make one with `tollgate keys generate --out %s`", dir, dir)
	}
	return newKeySet(keys, alg)
}

func newKeySet(keys []jwk.Key, alg string) (*KeySet, error) {
	ks := &KeySet{byKID: make(map[string]*signingKey, len(keys))}
	public := jwk.NewSet()
	var prepared []*signingKey
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
		pub, err := key.PublicKey()
		if err != nil {
			return nil, err
		}
		_ = pub.Remove(createdParam)
		if err := public.AddKey(pub); err != nil {
			return nil, err
		}
	}
	sort.SliceStable(prepared, func(i, j int) bool { return prepared[i].created.After(prepared[j].created) })
	for _, sk := range prepared {
		if alg == "" || sk.alg == alg {
			ks.signing = sk
			break
		}
	}
	if ks.signing == nil {
		return nil, fmt.Errorf("keys: no key for signing_alg %s: make one with `tollgate keys generate --alg %s`", alg, alg)
	}
	var err error
	if ks.jwks, err = json.Marshal(public); err != nil {
		return nil, err
	}
	return ks, nil
}

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
	if v, ok := key.Get(createdParam); ok {
		switch n := v.(type) {
		case float64:
			sk.created = time.Unix(int64(n), 0)
		case int64:
			sk.created = time.Unix(n, 0)
		case json.Number:
			i, _ := n.Int64()
			sk.created = time.Unix(i, 0)
		}
	}
	var err error
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

func isPublic(k any) bool {
	switch k.(type) {
	case *ecdsa.PublicKey, ecdsa.PublicKey, *rsa.PublicKey, rsa.PublicKey, ed25519.PublicKey:
		return true
	}
	return false
}

// Alg is the signing key's algorithm.
func (ks *KeySet) Alg() string { return ks.signing.alg }

// SigningKeyID is the kid of the key that signs.
func (ks *KeySet) SigningKeyID() string { return ks.signing.kid }

// JWKS is the public key set as JSON (RFC 7517 §5): public members only.
func (ks *KeySet) JWKS() []byte { return ks.jwks }

// ErrInvalidToken is wrapped by every Verify rejection.
var ErrInvalidToken = errors.New("invalid token")
