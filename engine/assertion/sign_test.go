package assertion_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/engine/assertion"
)

// TestSignMakesWhatVerifyAccepts: an assertion made with a key file, as
// `tollgate token --key` makes it, verifies against the public_key that
// PublicPEM prints for the same file.
func TestSignMakesWhatVerifyAccepts(t *testing.T) {
	now := time.Now()
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rs, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecDER, _ := x509.MarshalECPrivateKey(ec)
	for name, file := range map[string]string{
		"EC JWK with alg": jwkJSON(t, ec, map[string]any{"alg": "ES256", "kid": "mine"}),
		"EC PEM":          pemOf(t, "EC PRIVATE KEY", ecDER),
		"Ed25519 JWK":     jwkJSON(t, ed, nil),
		"RSA JWK":         jwkJSON(t, rs, nil),
	} {
		t.Run(name, func(t *testing.T) {
			pub, err := assertion.PublicPEM([]byte(file))
			if err != nil {
				t.Fatal(err)
			}
			raw, err := assertion.Sign([]byte(file), client, issuer, now)
			if err != nil {
				t.Fatal(err)
			}
			// As draft-ietf-oauth-rfc7523bis asks: typed, aud the issuer as a string.
			parts := strings.Split(raw, ".")
			header, _ := base64.RawURLEncoding.DecodeString(parts[0])
			payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
			if !strings.Contains(string(header), `"typ":"client-authentication+jwt"`) || !strings.Contains(string(payload), `"aud":"`+issuer+`"`) {
				t.Errorf("header %s payload %s", header, payload)
			}
			v := assertion.NewVerifier(10, func() time.Time { return now })
			if err := v.Verify(raw, client, []*assertion.Key{parse(t, pub)}, audiences); err != nil {
				t.Fatal(err)
			}
			if id, _ := assertion.ClientID(raw); id != client {
				t.Errorf("iss = %q", id)
			}
		})
	}
}
