package bundle_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/engine/bundle"
)

// TestKeysRefused: keys OPA cannot sign bundles with, weak keys, secrets
// and the wrong half of a pair are refused with a reason.
func TestKeysRefused(t *testing.T) {
	withPrivate := append(slices.Clone(key(t, "rsa").publicPEM), key(t, "p256").privatePEM...)
	verifierTests := []struct {
		name string
		pem  []byte
		want string
	}{
		{name: "an HMAC secret", pem: []byte("a-shared-secret"), want: "HMAC secret is not supported"},
		{name: "a private key", pem: key(t, "rsa").privatePEM, want: "is a private key"},
		{name: "a public and a private key", pem: withPrivate, want: "PEM block 2: is a private key"},
		{name: "an Ed25519 key", pem: key(t, "ed25519").publicPEM, want: "RSA or ECDSA keys only"},
		{name: "a short RSA key", pem: key(t, "rsa1024").publicPEM, want: "1024 bits"},
	}
	for _, tt := range verifierTests {
		t.Run("verifier: "+tt.name, func(t *testing.T) {
			if _, err := bundle.NewVerifier(tt.pem); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
	signerTests := []struct {
		name string
		pem  []byte
		opts bundle.SigningOptions
		want string
	}{
		{name: "an HMAC secret", pem: []byte("a-shared-secret"), want: "HMAC secret is not supported"},
		{name: "a public key", pem: key(t, "rsa").publicPEM, want: "not a private key"},
		{name: "an Ed25519 key", pem: key(t, "ed25519").privatePEM, want: "RSA or ECDSA keys only"},
		{name: "a short RSA key", pem: key(t, "rsa1024").privatePEM, want: "1024 bits"},
		{name: "an algorithm the key does not fit", pem: key(t, "rsa").privatePEM, opts: bundle.SigningOptions{Alg: "ES256"}, want: "does not fit the key"},
		{name: "HMAC", pem: key(t, "rsa").privatePEM, opts: bundle.SigningOptions{Alg: "HS256"}, want: "does not fit the key"},
		{name: "the wrong curve", pem: key(t, "p256").privatePEM, opts: bundle.SigningOptions{Alg: "ES384"}, want: "does not fit the key"},
		{name: "claims that replace the files", pem: key(t, "rsa").privatePEM,
			opts: bundle.SigningOptions{ClaimsFile: writeTemp(t, "claims.json", `{"files": []}`)}, want: `"files" is set by the signature`},
		{name: "claims with a scope", pem: key(t, "rsa").privatePEM,
			opts: bundle.SigningOptions{ClaimsFile: writeTemp(t, "claims.json", `{"scope": "write"}`)}, want: `"scope" is set by the signature`},
		{name: "claims that are not an object", pem: key(t, "rsa").privatePEM,
			opts: bundle.SigningOptions{ClaimsFile: writeTemp(t, "claims.json", `[1]`)}, want: "must be a JSON object"},
	}
	for _, tt := range signerTests {
		t.Run("signer: "+tt.name, func(t *testing.T) {
			if _, err := bundle.NewSigner(tt.pem, tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

// TestVerifierWithTwoKeysAcceptsEither: while the signing key rotates,
// the verification key file holds the old and the new public key, and a
// bundle signed by either verifies; one signed by a third key does not,
// and the refusal names both keys.
func TestVerifierWithTwoKeysAcceptsEither(t *testing.T) {
	oldKey, newKey := key(t, "rsa"), key(t, "p256")
	v, err := bundle.NewVerifier(append(slices.Clone(oldKey.publicPEM), newKey.publicPEM...))
	if err != nil {
		t.Fatal(err)
	}
	for name, k := range map[string]*testKey{"the old key": oldKey, "the new key": newKey} {
		archive, _ := signedArchive(t, k, bundle.SigningOptions{})
		if _, err := bundle.ParseVerified(archive, v); err != nil {
			t.Errorf("signed with %s: %v", name, err)
		}
	}
	third, _ := signedArchive(t, key(t, "rsa-other"), bundle.SigningOptions{})
	_, err = bundle.ParseVerified(third, v)
	if !errors.Is(err, bundle.ErrBadSignature) || !strings.Contains(err.Error(), oldKey.verifier(t).Fingerprint()+","+newKey.verifier(t).Fingerprint()) {
		t.Errorf("signed with a third key: %v", err)
	}
	tooMany := bytes.Repeat(oldKey.publicPEM, 9)
	if _, err := bundle.NewVerifier(tooMany); err == nil || !strings.Contains(err.Error(), "more than 8 keys") {
		t.Errorf("nine keys: %v", err)
	}
}

// TestVerifierReadsPublicKeyForms: PKIX, PKCS #1 and a certificate name
// the same key.
func TestVerifierReadsPublicKeyForms(t *testing.T) {
	k := key(t, "rsa")
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(k.private.Public().(*rsa.PublicKey))})
	template := &x509.Certificate{SerialNumber: bigOne()}
	der, err := x509.CreateCertificate(rand.Reader, template, template, k.private.Public(), k.private)
	if err != nil {
		t.Fatal(err)
	}
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	archive, _ := signedArchive(t, k, bundle.SigningOptions{})
	for name, body := range map[string][]byte{"PKIX": k.publicPEM, "PKCS #1": pkcs1, "certificate": cert} {
		v, err := bundle.NewVerifier(body)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if v.Fingerprint() != k.verifier(t).Fingerprint() {
			t.Errorf("%s: fingerprint %s", name, v.Fingerprint())
		}
		if _, err := bundle.ParseVerified(archive, v); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
