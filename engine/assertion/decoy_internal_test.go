package assertion

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"testing"
)

// TestRSADecoyHasTheCommonModulusSize: RSA verification costs by modulus
// size, so the decoy takes the size most of the configuration's RSA keys
// have.
func TestRSADecoyHasTheCommonModulusSize(t *testing.T) {
	k, err := rsa.GenerateKey(rand.Reader, 3072)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ParseKey(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		like []*Key
		want int
	}{{nil, MinRSABits}, {[]*Key{key}, 3072}} {
		var raw rsa.PublicKey
		if err := NewDecoys(tt.like).For("PS256", "kid").key.Raw(&raw); err != nil {
			t.Fatal(err)
		}
		if raw.N.BitLen() != tt.want {
			t.Errorf("decoy of %d bits, want %d", raw.N.BitLen(), tt.want)
		}
	}
	if NewDecoys(nil).For("HS256", "") != nil || NewDecoys(nil).For("none", "") != nil {
		t.Error("a decoy for an algorithm no key may use")
	}
}
