package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// writeSigningKey writes a P-256 key pair as PEM files: the private key
// for bundle build, the public one for --verification-key.
func writeSigningKey(t *testing.T) (private, public string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	private, public = filepath.Join(dir, "signing.pem"), filepath.Join(dir, "signing.pub.pem")
	if err := os.WriteFile(private, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(public, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}), 0o644); err != nil {
		t.Fatal(err)
	}
	return private, public
}

var wroteSigned = regexp.MustCompile(`^wrote (\S+) \(revision (sha256:[0-9a-f]{64})\), signed ES256 with key sha256:[0-9a-f]{64}\n$`)

// TestSignedBundleWorkflow: bundle build --signing-key signs; check and
// eval with --verification-key accept that bundle and refuse an unsigned
// one, or one signed with another key.
func TestSignedBundleWorkflow(t *testing.T) {
	private, public := writeSigningKey(t)
	_, otherPublic := writeSigningKey(t)
	dir := t.TempDir()
	signed, unsigned := filepath.Join(dir, "signed.tar.gz"), filepath.Join(dir, "unsigned.tar.gz")
	stdout, stderr, code := tollgate(t, nil, "", "bundle", "build", "--signing-key", private, "--out", signed)
	m := wroteSigned.FindStringSubmatch(stdout)
	if code != 0 || m == nil {
		t.Fatalf("bundle build --signing-key: exit %d %q %q", code, stdout, stderr)
	}
	revision := m[2]
	if _, _, code := tollgate(t, nil, "", "bundle", "build", "--out", unsigned); code != 0 {
		t.Fatal("bundle build failed")
	}

	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		wantCode int
		want     string
	}{
		{name: "check a signed bundle", args: []string{"check", "--bundle", signed, "--verification-key", public},
			want: "ok: " + signed + " is valid (revision " + revision + ")"},
		{name: "eval a signed bundle", args: []string{"eval", "--bundle", signed, "--verification-key", public, "--client", "Client1", "--scope", "Server2"},
			want: `"allow": true`},
		{name: "the key from the environment", env: map[string]string{"TOLLGATE_VERIFICATION_KEY": public}, args: []string{"check", "--bundle", signed},
			want: "is valid"},
		{name: "check an unsigned bundle", args: []string{"check", "--bundle", unsigned, "--verification-key", public}, wantCode: 1,
			want: "not signed: the bundle has no .signatures.json"},
		{name: "eval an unsigned bundle", args: []string{"eval", "--bundle", unsigned, "--verification-key", public, "--client", "Client1"}, wantCode: 1,
			want: "not signed"},
		{name: "another key", args: []string{"check", "--bundle", signed, "--verification-key", otherPublic}, wantCode: 1,
			want: "bad signature: it does not verify with the verification key"},
		{name: "a signed bundle without a key", args: []string{"check", "--bundle", signed}, want: "is valid"},
		{name: "a key with the folders", args: []string{"check", "--verification-key", public}, wantCode: 1,
			want: "--verification-key applies to bundles"},
		{name: "TOLLGATE_VERIFICATION_KEY with --config", env: map[string]string{"TOLLGATE_BUNDLE": signed, "TOLLGATE_VERIFICATION_KEY": public},
			args: []string{"check", "--config", "config"}, want: "ok: config and ./policies are valid"},
		{name: "a private key to verify with", args: []string{"check", "--bundle", signed, "--verification-key", private}, wantCode: 1,
			want: "is a private key"},
		{name: "a URL to check", args: []string{"check", "--bundle", "https://user:pw@bundles.example/t.tar.gz"}, wantCode: 1,
			want: "check reads a bundle file; download https://bundles.example/t.tar.gz first"},
		{name: "signing options without a key", args: []string{"bundle", "build", "--signing-alg", "ES256", "--out", filepath.Join(dir, "x.tar.gz")}, wantCode: 1,
			want: "need --signing-key"},
		{name: "a public key to sign with", args: []string{"bundle", "build", "--signing-key", public, "--out", filepath.Join(dir, "x.tar.gz")}, wantCode: 1,
			want: "not a private key"},
		{name: "an algorithm the key does not fit", args: []string{"bundle", "build", "--signing-key", private, "--signing-alg", "RS256", "--out", filepath.Join(dir, "x.tar.gz")}, wantCode: 1,
			want: "--signing-alg RS256 does not fit the key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := tollgate(t, tt.env, "", tt.args...)
			if code != tt.wantCode || !strings.Contains(stdout+stderr, tt.want) {
				t.Errorf("exit %d %q %q, want %d and %q", code, stdout, stderr, tt.wantCode, tt.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "x.tar.gz")); !os.IsNotExist(err) {
		t.Errorf("a refused build wrote a bundle: %v", err)
	}

	// serve: the key only with a bundle; the cache only with a URL.
	_, stderr, code = tollgate(t, nil, "", "serve", "--addr", "127.0.0.1:0", "--verification-key", public)
	if code != 1 || !strings.Contains(stderr, "--verification-key applies to bundles") {
		t.Errorf("serve --verification-key with folders: exit %d %q", code, stderr)
	}
	_, stderr, code = tollgate(t, nil, "", "serve", "--addr", "127.0.0.1:0", "--bundle", unsigned, "--verification-key", public)
	if code != 1 || !strings.Contains(stderr, "not signed") {
		t.Errorf("serve an unsigned bundle with a key: exit %d %q", code, stderr)
	}
	_, stderr, code = tollgate(t, nil, "", "serve", "--addr", "127.0.0.1:0", "--bundle", signed, "--bundle-cache", dir)
	if code != 1 || !strings.Contains(stderr, "--bundle-cache keeps bundles fetched from a --bundle URL") {
		t.Errorf("serve --bundle-cache with a file: exit %d %q", code, stderr)
	}
}
