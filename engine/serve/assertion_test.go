package serve_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwt"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/tollgate-dev/tollgate/engine/serve"
)

const jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// keyClientConfig is the example configuration plus a private_key_jwt
// client, batch-job, whose key is made for the test.
func keyClientConfig(t *testing.T) (dir string, key *ecdsa.PrivateKey) {
	t.Helper()
	dir = copyConfig(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pub := strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
	writeFile(t, filepath.Join(dir, "batch.hcl"), fmt.Sprintf(`client "batch-job" {
  auth_method = "private_key_jwt"
  public_key {
    pem = <<-EOT
%s
    EOT
  }
  access "world-mappers" { scopes = ["read:directions"] }
}
`, pub))
	return dir, key
}

// clientAssertion signs an RFC 7523 assertion for batch-job.
func clientAssertion(t *testing.T, key any, aud string, exp time.Duration, jti string) string {
	t.Helper()
	tok, err := jwt.NewBuilder().Issuer("batch-job").Subject("batch-job").Audience([]string{aud}).
		JwtID(jti).IssuedAt(time.Now()).Expiration(time.Now().Add(exp)).Build()
	if err != nil {
		t.Fatal(err)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256, key))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}

// TestPrivateKeyJWT: a private_key_jwt client gets a token with
// golang.org/x/oauth2/clientcredentials by sending an assertion signed
// with its key instead of a secret (RFC 7523 §2.2), and the token verifies
// through JWKS. Every bad assertion is 401 invalid_client, the audit log
// says why, and no assertion is ever written to it.
func TestPrivateKeyJWT(t *testing.T) {
	dir, key := keyClientConfig(t)
	auditLog := filepath.Join(t.TempDir(), "audit.log")
	srv := start(t, serve.Config{ConfigDir: dir, AuditLog: auditLog})
	tokenURL := srv.url + "/oauth2/token"
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

	fetch := func(assertion string) (*oauth2.Token, error) {
		cfg := clientcredentials.Config{
			ClientID: "batch-job", TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInParams,
			EndpointParams: url.Values{
				"audience":              {worldAudience},
				"client_assertion_type": {jwtBearer},
				"client_assertion":      {assertion},
			},
		}
		return cfg.Token(context.Background())
	}
	good := clientAssertion(t, key, tokenURL, time.Minute, "first")
	tok, err := fetch(good)
	if err != nil {
		t.Fatal(err)
	}
	claims := srv.verify(t, tok.AccessToken, worldAudience)
	if claims.Subject() != "batch-job" {
		t.Errorf("sub = %q, want batch-job", claims.Subject())
	}
	if _, err := fetch(clientAssertion(t, key, srv.url, time.Minute, "issuer-as-aud")); err != nil {
		t.Errorf("aud = the issuer: %v", err)
	}

	failures := []struct{ name, assertion, reason string }{
		{"replayed", good, "was used before"},
		{"expired", clientAssertion(t, key, tokenURL, -time.Hour, "expired"), `exp\" not satisfied`},
		{"valid for too long", clientAssertion(t, key, tokenURL, time.Hour, "long"), "more than 10m0s away"},
		{"for another server", clientAssertion(t, key, "https://elsewhere.example/token", time.Minute, "elsewhere"), "aud"},
		{"signed by another key", clientAssertion(t, other, tokenURL, time.Minute, "other-key"), "matches no current key"},
	}
	for _, tc := range failures {
		_, err := fetch(tc.assertion)
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.Response.StatusCode != http.StatusUnauthorized || re.ErrorCode != "invalid_client" {
			t.Errorf("%s: err = %v, want 401 invalid_client", tc.name, err)
		}
	}
	srv.stop() // flushes the audit log

	raw, err := os.ReadFile(auditLog)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) != 2+len(failures) {
		t.Fatalf("%d audit lines, want %d:\n%s", len(lines), 2+len(failures), raw)
	}
	for i, tc := range failures {
		line := lines[2+i]
		if !strings.Contains(line, `"client":"batch-job"`) || !strings.Contains(line, `"error":"invalid_client"`) || !strings.Contains(line, tc.reason) {
			t.Errorf("%s: audit line %s, want invalid_client for batch-job because %q", tc.name, line, tc.reason)
		}
		if everything := string(raw) + srv.stderr.String(); strings.Contains(everything, strings.Split(tc.assertion, ".")[2]) {
			t.Errorf("%s: the assertion's signature is in the logs", tc.name)
		}
	}
}

// TestPrivateKeyJWTElsewhere: the assertion authenticates at revocation
// too, and a client that declared a key cannot fall back to a secret,
// nor a secret client to an assertion.
func TestPrivateKeyJWTElsewhere(t *testing.T) {
	dir, key := keyClientConfig(t)
	srv := start(t, serve.Config{ConfigDir: dir})
	tokenURL := srv.url + "/oauth2/token"
	withAssertion := func(form url.Values, jti string) url.Values {
		form.Set("client_assertion_type", jwtBearer)
		form.Set("client_assertion", clientAssertion(t, key, tokenURL, time.Minute, jti))
		return form
	}
	tr := decode[tokenResponse](t, srv.post(t, "/oauth2/token", withAssertion(url.Values{"grant_type": {"client_credentials"}}, "t1"), "", ""))
	if tr.AccessToken == "" {
		t.Fatalf("no token: %+v", tr)
	}
	resp := srv.post(t, "/oauth2/revoke", withAssertion(url.Values{"token": {tr.AccessToken}}, "t2"), "", "")
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revocation with an assertion: status %d", resp.StatusCode)
	}
	if got := decode[map[string]any](t, srv.post(t, "/oauth2/introspect", url.Values{"token": {tr.AccessToken}}, "client1", client1Secret)); got["active"] != false {
		t.Errorf("after revocation: %v, want inactive", got)
	}

	resp = srv.post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "batch-job", "anything")
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("batch-job with a secret: status %d, want 401", resp.StatusCode)
	}
	giftAssertion, err := jwt.NewBuilder().Issuer("gift-deliveries").Subject("gift-deliveries").Audience([]string{tokenURL}).
		JwtID("g1").Expiration(time.Now().Add(time.Minute)).Build()
	if err != nil {
		t.Fatal(err)
	}
	signed, _ := jwt.Sign(giftAssertion, jwt.WithKey(jwa.ES256, key))
	resp = srv.post(t, "/oauth2/token", url.Values{
		"grant_type": {"client_credentials"}, "client_assertion_type": {jwtBearer}, "client_assertion": {string(signed)},
	}, "", "")
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("gift-deliveries (a secret client) with an assertion: status %d, want 401", resp.StatusCode)
	}
}
