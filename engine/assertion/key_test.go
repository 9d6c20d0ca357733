package assertion_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/engine/assertion"
)

// TestParseKey: public keys in PEM and JWK form are accepted; private
// keys, weak or unknown keys and an alg that does not fit are refused
// with a reason.
func TestParseKey(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	rsaSmall, _ := rsa.GenerateKey(rand.Reader, 1024)
	ecDER, _ := x509.MarshalECPrivateKey(ec)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(edPriv)
	for _, tc := range []struct {
		name, src, wantErr string
	}{
		{"EC public PEM", publicPEM(t, &ec.PublicKey), ""},
		{"Ed25519 public PEM", publicPEM(t, edPub), ""},
		{"EC public JWK with kid and alg", jwkJSON(t, &ec.PublicKey, map[string]any{"kid": "k1", "alg": "ES256"}), ""},
		{"EC private PEM", pemOf(t, "EC PRIVATE KEY", ecDER), "private key"},
		{"Ed25519 private PKCS8 PEM", pemOf(t, "PRIVATE KEY", pkcs8), "private key"},
		{"EC private JWK", jwkJSON(t, ec, nil), "private key"},
		{"RSA of 1024 bits", publicPEM(t, &rsaSmall.PublicKey), "at least 2048"},
		{"P-224", publicPEM(t, &ec224.PublicKey), ""},
		{"alg that does not fit", jwkJSON(t, &ec.PublicKey, map[string]any{"alg": "RS256"}), "does not suit"},
		{"garbage", "hello", "not a PEM key or a JWK"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := assertion.ParseKey(tc.src)
			if tc.name == "P-224" {
				// jwx itself cannot represent P-224; either way it is refused.
				if err == nil {
					t.Fatal("P-224 accepted")
				}
				return
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("err = %v, want one saying %q", err, tc.wantErr)
			}
		})
	}
	if k := parse(t, jwkJSON(t, &ec.PublicKey, map[string]any{"kid": "k1"})); k.KeyID() != "k1" {
		t.Errorf("kid %q, want the JWK's", k.KeyID())
	}
	if k := parse(t, publicPEM(t, &ec.PublicKey)); len(k.KeyID()) != 43 {
		t.Errorf("kid %q, want the RFC 7638 thumbprint", k.KeyID())
	}
}

// TestAlgorithmsListsEveryKeyAlgorithm: the metadata's list is exactly the
// algorithms some supported key type allows.
func TestAlgorithmsListsEveryKeyAlgorithm(t *testing.T) {
	ec256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	ec521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	ed, _, _ := ed25519.GenerateKey(rand.Reader)
	rs, _ := rsa.GenerateKey(rand.Reader, 2048)
	got := map[string]bool{}
	for _, pub := range []any{&ec256.PublicKey, &ec384.PublicKey, &ec521.PublicKey, ed, &rs.PublicKey} {
		for _, alg := range parse(t, publicPEM(t, pub)).Algorithms() {
			got[alg] = true
		}
	}
	if len(got) != len(assertion.Algorithms) {
		t.Fatalf("keys allow %v, Algorithms lists %v", got, assertion.Algorithms)
	}
	for _, alg := range assertion.Algorithms {
		if !got[alg] {
			t.Errorf("Algorithms lists %s, which no key allows", alg)
		}
	}
}
