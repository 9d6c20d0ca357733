package bundle_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
	opabundle "github.com/open-policy-agent/opa/v1/bundle"

	"github.com/tollgate-dev/tollgate/engine/bundle"
	"github.com/tollgate-dev/tollgate/engine/reload"
	"github.com/tollgate-dev/tollgate/engine/repotest"
)

// testKey is a signing key pair as the files a user keeps: a PEM private
// key and its PEM public key.
type testKey struct {
	private    crypto.Signer
	privatePEM []byte
	publicPEM  []byte
}

var (
	keysMu sync.Mutex
	keys   = map[string]*testKey{}
)

// key returns the named test key, made once per test binary: "rsa",
// "rsa-other", "p256", "p384", "p521", "ed25519", "rsa1024".
func key(t testing.TB, name string) *testKey {
	t.Helper()
	keysMu.Lock()
	defer keysMu.Unlock()
	if k, ok := keys[name]; ok {
		return k
	}
	var private crypto.Signer
	var err error
	switch name {
	case "rsa", "rsa-other":
		private, err = rsa.GenerateKey(rand.Reader, 2048)
	case "rsa1024":
		private, err = rsa.GenerateKey(rand.Reader, 1024)
	case "p256", "p256-other":
		private, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "p384":
		private, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "p521":
		private, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "ed25519":
		_, private, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("no test key %q", name)
	}
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(private)
	if err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(private.Public())
	if err != nil {
		t.Fatal(err)
	}
	k := &testKey{
		private:    private,
		privatePEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
		publicPEM:  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}),
	}
	keys[name] = k
	return k
}

func (k *testKey) signer(t testing.TB, opts bundle.SigningOptions) *bundle.Signer {
	t.Helper()
	s, err := bundle.NewSigner(k.privatePEM, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (k *testKey) verifier(t testing.TB) *bundle.Verifier {
	t.Helper()
	v, err := bundle.NewVerifier(k.publicPEM)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// repoSources are the repository's config/ and policies/, with data.
func repoSources(t testing.TB) bundle.Files {
	t.Helper()
	root := repotest.Path(t)
	data := filepath.Join(t.TempDir(), "data.json")
	if err := os.WriteFile(data, []byte(`{"extra": {"n": 12345678901234567890, "list": [1, "two"]}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := bundle.ReadDirs(filepath.Join(root, "config"), filepath.Join(root, "policies"), data)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func signedArchive(t testing.TB, k *testKey, opts bundle.SigningOptions) (archive []byte, revision string) {
	t.Helper()
	var buf bytes.Buffer
	revision, err := bundle.WriteSigned(&buf, repoSources(t), k.signer(t, opts))
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), revision
}

// TestSignedBundlesVerify: a bundle signed with each kind of key OPA
// supports reads back verified with the public key, with its revision,
// and loads; read without a key it is signed but not verified.
func TestSignedBundlesVerify(t *testing.T) {
	tests := []struct {
		key, alg, wantAlg string
	}{
		{key: "rsa", wantAlg: "RS256"},
		{key: "rsa", alg: "PS256", wantAlg: "PS256"},
		{key: "rsa", alg: "RS512", wantAlg: "RS512"},
		{key: "p256", wantAlg: "ES256"},
		{key: "p384", wantAlg: "ES384"},
		{key: "p521", wantAlg: "ES512"},
	}
	for _, tt := range tests {
		t.Run(tt.key+" "+tt.wantAlg, func(t *testing.T) {
			k := key(t, tt.key)
			s := k.signer(t, bundle.SigningOptions{Alg: tt.alg})
			if s.Alg() != tt.wantAlg {
				t.Errorf("alg %s, want %s", s.Alg(), tt.wantAlg)
			}
			archive, revision := signedArchive(t, k, bundle.SigningOptions{Alg: tt.alg})
			b, err := bundle.ParseVerified(archive, k.verifier(t))
			if err != nil {
				t.Fatal(err)
			}
			if !b.Signed || !b.SignatureVerified || !b.Verified || b.Revision != revision {
				t.Errorf("signed %v, signature verified %v, revision %q (verified %v), want %q", b.Signed, b.SignatureVerified, b.Revision, b.Verified, revision)
			}
			if _, err := reload.Load(context.Background(), sourcesOf(b.Files), reload.NewKDFCache()); err != nil {
				t.Fatalf("the signed bundle does not load: %v", err)
			}
			if header := signatureHeader(t, archive); header["alg"] != tt.wantAlg || header["kid"] != bundle.DefaultSigningKeyID {
				t.Errorf("header %v", header)
			}
			unverified, err := bundle.Parse(archive)
			if err != nil {
				t.Fatal(err)
			}
			if !unverified.Signed || unverified.SignatureVerified {
				t.Errorf("read without a key: signed %v, signature verified %v", unverified.Signed, unverified.SignatureVerified)
			}
		})
	}
}

// TestSignedRSABundlesAreReproducible: RSA signatures (PKCS #1 v1.5) are
// deterministic, so a signed build gives the same bytes twice.
func TestSignedRSABundlesAreReproducible(t *testing.T) {
	first, _ := signedArchive(t, key(t, "rsa"), bundle.SigningOptions{})
	second, _ := signedArchive(t, key(t, "rsa"), bundle.SigningOptions{})
	if !bytes.Equal(first, second) {
		t.Error("two signed builds of the same inputs differ")
	}
}

// TestClaimsFileGoesIntoTheSignature: extra claims ride in the payload,
// and the bundle still verifies.
func TestClaimsFileGoesIntoTheSignature(t *testing.T) {
	claims := writeTemp(t, "claims.json", `{"iss": "ci.example", "build": 42}`)
	k := key(t, "rsa")
	archive, _ := signedArchive(t, k, bundle.SigningOptions{ClaimsFile: claims, KeyID: "ci"})
	if _, err := bundle.ParseVerified(archive, k.verifier(t)); err != nil {
		t.Fatal(err)
	}
	payload := signaturePayload(t, archive)
	if payload["iss"] != "ci.example" || payload["files"] == nil {
		t.Errorf("payload %v", payload)
	}
	if header := signatureHeader(t, archive); header["kid"] != "ci" {
		t.Errorf("header %v", header)
	}
}

// TestVerificationRefusesTampering: with a verification key, a bundle is
// accepted only whole, unchanged and signed with that key; each refusal
// names what is wrong.
func TestVerificationRefusesTampering(t *testing.T) {
	k := key(t, "rsa")
	good, _ := signedArchive(t, k, bundle.SigningOptions{})
	otherKey, _ := signedArchive(t, key(t, "rsa-other"), bundle.SigningOptions{})
	unsigned := rewrite(t, good, func(files map[string][]byte) { delete(files, ".signatures.json") })
	tests := []struct {
		name    string
		archive []byte
		wantErr error
		want    string
	}{
		{name: "a declaration changed", archive: rewrite(t, good, func(files map[string][]byte) {
			files["config/settings.hcl"] = append(files["config/settings.hcl"], "# changed\n"...)
		}), wantErr: bundle.ErrBadSignature, want: `changed since signing: "config/settings.hcl"`},
		{name: "a policy changed", archive: rewrite(t, good, func(files map[string][]byte) {
			files["policies/token.rego"] = bytes.Replace(files["policies/token.rego"], []byte("false"), []byte("true"), 1)
		}), wantErr: bundle.ErrBadSignature, want: `changed since signing: "policies/token.rego"`},
		{name: "the data changed", archive: rewrite(t, good, func(files map[string][]byte) {
			files["data.json"] = []byte(`{"extra": {"n": 1, "list": [1, "two"]}}`)
		}), wantErr: bundle.ErrBadSignature, want: `"data.json"`},
		{name: "the revision changed", archive: rewrite(t, good, func(files map[string][]byte) {
			files[".manifest"] = bytes.Replace(files[".manifest"], []byte("sha256:"), []byte("sha256:0"), 1)
		}), wantErr: bundle.ErrBadSignature, want: `changed since signing: ".manifest"`},
		{name: "a declaration added", archive: rewrite(t, good, func(files map[string][]byte) {
			files["config/added.hcl"] = []byte("# nothing\n")
		}), wantErr: bundle.ErrBadSignature, want: `not covered by the signature (added since signing): "config/added.hcl"`},
		{name: "a test added", archive: rewrite(t, good, func(files map[string][]byte) {
			files["policies/x_test.rego"] = []byte("package x_test\n")
		}), wantErr: bundle.ErrBadSignature, want: `"policies/x_test.rego"`},
		{name: "a policy removed", archive: rewrite(t, good, func(files map[string][]byte) {
			delete(files, "policies/scope.rego")
		}), wantErr: bundle.ErrBadSignature, want: `removed since signing): "policies/scope.rego"`},
		{name: "signed with another key", archive: otherKey, wantErr: bundle.ErrBadSignature, want: "does not verify with the verification key " + k.verifier(t).Fingerprint()},
		{name: "unsigned", archive: unsigned, wantErr: bundle.ErrNotSigned, want: "no .signatures.json"},
		{name: "a signature that does not parse", archive: rewrite(t, good, func(files map[string][]byte) {
			files[".signatures.json"] = []byte(`{"signatures": "x"`)
		}), wantErr: bundle.ErrBadSignature, want: ".signatures.json"},
		{name: "no signature in the signatures file", archive: rewrite(t, good, func(files map[string][]byte) {
			files[".signatures.json"] = []byte(`{}`)
		}), wantErr: bundle.ErrBadSignature, want: "holds 0 signatures"},
		{name: "two signatures", archive: rewrite(t, good, func(files map[string][]byte) {
			var sc opabundle.SignaturesConfig
			if err := json.Unmarshal(files[".signatures.json"], &sc); err != nil {
				t.Fatal(err)
			}
			sc.Signatures = append(sc.Signatures, sc.Signatures[0])
			files[".signatures.json"], _ = json.Marshal(sc)
		}), wantErr: bundle.ErrBadSignature, want: "holds 2 signatures"},
		{name: "a signing plugin", archive: rewrite(t, good, func(files map[string][]byte) {
			files[".signatures.json"] = bytes.Replace(files[".signatures.json"], []byte(`"signatures"`), []byte(`"plugin": "mine", "signatures"`), 1)
		}), wantErr: bundle.ErrBadSignature, want: `plugin "mine"`},
		{name: "a signatures file in a folder", archive: rewrite(t, good, func(files map[string][]byte) {
			files["policies/.signatures.json"] = files[".signatures.json"]
		}), wantErr: bundle.ErrBadSignature, want: `not covered by the signature (added since signing): "policies/.signatures.json"`},
		{name: "no keyid, no kid, another key", archive: resign(t, unsigned, key(t, "rsa-other"), jwa.RS256, nil, nil),
			wantErr: bundle.ErrBadSignature, want: "does not verify"},
		{name: "alg none", archive: withToken(t, unsigned, unsignedToken(t, unsigned, "none")),
			wantErr: bundle.ErrBadSignature, want: `algorithm "none" does not fit`},
		{name: "HMAC with the public key as the secret", archive: resign(t, unsigned, nil, jwa.HS256, nil, nil),
			wantErr: bundle.ErrBadSignature, want: `algorithm "HS256" does not fit`},
		{name: "an EC algorithm for an RSA key", archive: withToken(t, unsigned, unsignedToken(t, unsigned, "ES256")),
			wantErr: bundle.ErrBadSignature, want: `algorithm "ES256" does not fit`},
		{name: "a scope", archive: resign(t, unsigned, k, jwa.RS256, nil, map[string]any{"scope": "write"}),
			wantErr: bundle.ErrBadSignature, want: "carries a scope"},
		{name: "a weak digest", archive: resign(t, unsigned, k, jwa.RS256, nil, map[string]any{"algorithm": "MD5"}),
			wantErr: bundle.ErrBadSignature, want: `hashing algorithm "MD5"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := bundle.ParseVerified(tt.archive, k.verifier(t))
			if err == nil {
				t.Fatalf("accepted, revision %s", b.Revision)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %q, want %q", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to say %q", err, tt.want)
			}
		})
	}
}

// TestSignatureWithoutKeyIDIsVerified: GHSA-g2pf-6v5v-qcc8 was OPA
// skipping verification when nothing named the key. Here the key is
// always the configured one: a signature with no kid and no keyid is
// verified with it (accepted when it made the signature, refused
// otherwise, see TestVerificationRefusesTampering), and a kid naming some
// other key changes nothing.
func TestSignatureWithoutKeyIDIsVerified(t *testing.T) {
	k := key(t, "rsa")
	good, _ := signedArchive(t, k, bundle.SigningOptions{})
	unsigned := rewrite(t, good, func(files map[string][]byte) { delete(files, ".signatures.json") })
	tests := []struct {
		name    string
		headers map[string]any
		claims  map[string]any
	}{
		{name: "no kid and no keyid"},
		{name: "a kid of another key", headers: map[string]any{"kid": "someone-else"}},
		{name: "a keyid claim of another key", claims: map[string]any{"keyid": "someone-else"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			archive := resign(t, unsigned, k, jwa.RS256, tt.headers, tt.claims)
			header := signatureHeader(t, archive)
			if _, ok := header["kid"]; ok != (tt.headers["kid"] != nil) {
				t.Fatalf("header %v", header)
			}
			b, err := bundle.ParseVerified(archive, k.verifier(t))
			if err != nil {
				t.Fatal(err)
			}
			if !b.SignatureVerified {
				t.Error("not verified")
			}
			if _, err := bundle.ParseVerified(archive, key(t, "rsa-other").verifier(t)); !errors.Is(err, bundle.ErrBadSignature) {
				t.Errorf("verified with another key: %v", err)
			}
		})
	}
}
