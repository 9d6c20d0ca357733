package serve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/tollgate-dev/tollgate/engine/repotest"
	"github.com/tollgate-dev/tollgate/engine/serve"
)

// TestAuth0StyleJSONRequest: Gift Deliveries asks for the World Mappers API
// with a JSON body and its secret in the body, as Auth0 clients do.
func TestAuth0StyleJSONRequest(t *testing.T) {
	srv := start(t, serve.Config{})
	body := `{"grant_type":"client_credentials","client_id":"gift-deliveries","client_secret":"` + giftSecret +
		`","audience":"` + worldAudience + `","scope":"read:directions"}`
	resp, err := http.Post(srv.url+"/oauth2/token", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, readAll(resp))
	}
	if cc, pragma := resp.Header.Get("Cache-Control"), resp.Header.Get("Pragma"); cc != "no-store" || pragma != "no-cache" {
		t.Errorf("Cache-Control %q, Pragma %q; want no-store, no-cache", cc, pragma)
	}
	tr := decode[tokenResponse](t, resp)
	if tr.TokenType != "Bearer" || tr.Scope != "read:directions" || tr.RefreshToken != "" || tr.ExpiresIn != 1800 {
		t.Errorf("response = %+v; want Bearer, read:directions, no refresh token, expires_in 1800 (world-mappers caps at 30m)", tr)
	}
	tok := srv.verify(t, tr.AccessToken, worldAudience)
	if tok.Subject() != "gift-deliveries" {
		t.Errorf("sub = %q", tok.Subject())
	}
	assertClaim(t, tok.PrivateClaims(), "client_id", "gift-deliveries")
	assertClaim(t, tok.PrivateClaims(), "scope", "read:directions")
	if tok.JwtID() == "" {
		t.Error("no jti")
	}
	// RFC 9068 / SPEC: aud is a string when single.
	if payload := payloadOf(t, tr.AccessToken); string(payload["aud"]) != `"`+worldAudience+`"` {
		t.Errorf("aud = %s, want a plain string", payload["aud"])
	}
}

// TestClientCredentialsLibrary uses golang.org/x/oauth2/clientcredentials as
// any Go service would, with both client authentication methods.
func TestClientCredentialsLibrary(t *testing.T) {
	srv := start(t, serve.Config{})
	tests := []struct {
		name      string
		cfg       clientcredentials.Config
		audience  string
		wantSub   string
		wantScope string
	}{
		{
			name: "client_secret_post with an audience parameter",
			cfg: clientcredentials.Config{ClientID: "gift-deliveries", ClientSecret: giftSecret, AuthStyle: oauth2.AuthStyleInParams,
				EndpointParams: url.Values{"audience": {worldAudience}}},
			audience: worldAudience, wantSub: "gift-deliveries", wantScope: "read:directions",
		},
		{
			name:     "single application: no audience, aud is the client itself",
			cfg:      clientcredentials.Config{ClientID: "client1", ClientSecret: client1Secret, AuthStyle: oauth2.AuthStyleInHeader},
			audience: "client1", wantSub: "client1",
		},
		{
			name:     "impersonation by a scope that names the server",
			cfg:      clientcredentials.Config{ClientID: "Client1", ClientSecret: Client1Secret, Scopes: []string{"Server2"}, AuthStyle: oauth2.AuthStyleInHeader},
			audience: "Server2", wantSub: "User1", wantScope: "read",
		},
		{
			name: "resource indicator (RFC 8707)",
			cfg: clientcredentials.Config{ClientID: "gift-deliveries", ClientSecret: giftSecret, AuthStyle: oauth2.AuthStyleInParams,
				Scopes: []string{"read:directions"}, EndpointParams: url.Values{"resource": {worldAudience}}},
			audience: worldAudience, wantSub: "gift-deliveries", wantScope: "read:directions",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.TokenURL = srv.url + "/oauth2/token"
			tok, err := tt.cfg.Token(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			jwtTok := srv.verify(t, tok.AccessToken, tt.audience)
			if jwtTok.Subject() != tt.wantSub {
				t.Errorf("sub = %q, want %q", jwtTok.Subject(), tt.wantSub)
			}
			scope, _ := jwtTok.PrivateClaims()["scope"].(string)
			if scope != tt.wantScope {
				t.Errorf("scope = %q, want %q", scope, tt.wantScope)
			}
		})
	}
}

// TestImpersonationAndIntrospection: Client1 acting as User1 gets Server2;
// Server2's introspection says active, Server1's says inactive.
func TestImpersonationAndIntrospection(t *testing.T) {
	srv := start(t, serve.Config{})
	tr := decode[tokenResponse](t, srv.post(t, "/oauth2/token",
		url.Values{"grant_type": {"client_credentials"}, "scope": {"Server2"}}, "Client1", Client1Secret))
	if tr.AccessToken == "" {
		t.Fatalf("no token: %+v", tr)
	}
	tok := srv.verify(t, tr.AccessToken, "Server2")
	if tok.Subject() != "User1" {
		t.Errorf("sub = %q, want User1", tok.Subject())
	}
	act, _ := tok.PrivateClaims()["act"].(map[string]any)
	if act["sub"] != "Client1" {
		t.Errorf("act = %v, want {sub: Client1}", tok.PrivateClaims()["act"])
	}

	introspect := func(user, pass string) map[string]any {
		resp := srv.post(t, "/oauth2/introspect", url.Values{"token": {tr.AccessToken}}, user, pass)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("introspection by %s: status %d", user, resp.StatusCode)
		}
		return decode[map[string]any](t, resp)
	}
	active := introspect("Server2", server2Secret)
	if active["active"] != true || active["sub"] != "User1" || active["client_id"] != "Client1" || active["aud"] != "Server2" ||
		active["scope"] != "read" || active["token_type"] != "Bearer" || active["iss"] != srv.url || active["jti"] != tok.JwtID() {
		t.Errorf("Server2 introspection = %v", active)
	}
	for _, field := range []string{"exp", "iat"} {
		if _, ok := active[field].(float64); !ok {
			t.Errorf("introspection lacks %s: %v", field, active)
		}
	}
	if inactive := introspect("Server1", server1Secret); len(inactive) != 1 || inactive["active"] != false {
		t.Errorf("Server1 introspection = %v, want exactly {active: false}", inactive)
	}
	if own := introspect("Client1", Client1Secret); own["active"] != true {
		t.Errorf("the token's own client may introspect it, got %v", own)
	}
	resp := srv.post(t, "/oauth2/introspect", url.Values{"token": {tr.AccessToken}}, "", "")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("unauthenticated introspection: status %d, want 401", resp.StatusCode)
	}
	resp.Body.Close()
}

// TestUserInfo: the bearer token's subject claims, with the account's
// attributes when impersonating.
func TestUserInfo(t *testing.T) {
	srv := start(t, serve.Config{})
	token := func(user, pass string, form url.Values) string {
		form.Set("grant_type", "client_credentials")
		return decode[tokenResponse](t, srv.post(t, "/oauth2/token", form, user, pass)).AccessToken
	}
	userinfo := func(method, bearer string) (int, map[string]any, string) {
		req, _ := http.NewRequest(method, srv.url+"/oauth2/userinfo", nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		challenge := resp.Header.Get("WWW-Authenticate")
		return resp.StatusCode, decode[map[string]any](t, resp), challenge
	}
	status, info, _ := userinfo(http.MethodGet, token("client1", client1Secret, url.Values{}))
	if status != 200 || info["sub"] != "client1" || info["client_id"] != "client1" || info["aud"] != "client1" {
		t.Errorf("client1 userinfo = %d %v", status, info)
	}
	status, info, _ = userinfo(http.MethodPost, token("Client1", Client1Secret, url.Values{"scope": {"Server2"}}))
	if status != 200 || info["sub"] != "User1" || info["department"] != "logistics" || info["email"] != "user1@example.com" {
		t.Errorf("User1 userinfo = %d %v", status, info)
	}
	status, info, challenge := userinfo(http.MethodGet, "not-a-token")
	if status != 401 || info["error"] != "invalid_token" || !strings.Contains(challenge, `error="invalid_token"`) {
		t.Errorf("bad token: %d %v %q", status, info, challenge)
	}
	status, _, challenge = userinfo(http.MethodGet, "")
	if status != 401 || !strings.HasPrefix(challenge, "Bearer") {
		t.Errorf("no token: %d %q", status, challenge)
	}
}

// TestRevocation: the token's own client revokes it; introspection then
// says inactive; unknown tokens get 200; another client may not revoke.
func TestRevocation(t *testing.T) {
	srv := start(t, serve.Config{})
	tr := decode[tokenResponse](t, srv.post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "client1", client1Secret))

	resp := srv.post(t, "/oauth2/revoke", url.Values{"token": {tr.AccessToken}}, "Client1", Client1Secret)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("revocation by another client: status %d, want 400", resp.StatusCode)
	}
	resp.Body.Close()
	if got := decode[map[string]any](t, srv.post(t, "/oauth2/introspect", url.Values{"token": {tr.AccessToken}}, "client1", client1Secret)); got["active"] != true {
		t.Fatalf("before revocation: %v", got)
	}
	for _, tok := range []string{tr.AccessToken, tr.AccessToken, "unknown-token"} {
		resp := srv.post(t, "/oauth2/revoke", url.Values{"token": {tok}, "token_type_hint": {"access_token"}}, "client1", client1Secret)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("revoke %.10s...: status %d, want 200", tok, resp.StatusCode)
		}
		resp.Body.Close()
	}
	if got := decode[map[string]any](t, srv.post(t, "/oauth2/introspect", url.Values{"token": {tr.AccessToken}}, "client1", client1Secret)); got["active"] != false {
		t.Errorf("after revocation: %v, want inactive", got)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.url+"/oauth2/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tr.AccessToken)
	if resp, _ := http.DefaultClient.Do(req); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("userinfo with a revoked token: status %d, want 401", resp.StatusCode)
	}
}

// TestDiscovery: RFC 8414 metadata, its issuer equal to the tokens' iss.
func TestDiscovery(t *testing.T) {
	srv := start(t, serve.Config{})
	for _, path := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		resp, err := http.Get(srv.url + path)
		if err != nil {
			t.Fatal(err)
		}
		meta := decode[map[string]any](t, resp)
		want := map[string]string{
			"issuer":                 srv.url,
			"token_endpoint":         srv.url + "/oauth2/token",
			"jwks_uri":               srv.url + "/.well-known/jwks.json",
			"introspection_endpoint": srv.url + "/oauth2/introspect",
			"revocation_endpoint":    srv.url + "/oauth2/revoke",
			"userinfo_endpoint":      srv.url + "/oauth2/userinfo",
		}
		for field, value := range want {
			if meta[field] != value {
				t.Errorf("%s: %s = %v, want %s", path, field, meta[field], value)
			}
		}
		if !containsAll(meta["grant_types_supported"], "client_credentials") ||
			!containsAll(meta["token_endpoint_auth_methods_supported"], "client_secret_basic", "client_secret_post", "private_key_jwt") ||
			!containsAll(meta["token_endpoint_auth_signing_alg_values_supported"], "ES256", "EdDSA", "RS256", "PS256") ||
			!containsAll(meta["scopes_supported"], "read:directions", "read:geocode", "read", "write") {
			t.Errorf("%s: %v", path, meta)
		}
	}
	resp, err := http.Get(srv.url + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(resp)
	for _, private := range []string{`"d"`, `"p"`, `"q"`, `"dp"`} {
		if strings.Contains(body, private) {
			t.Errorf("JWKS contains private member %s: %s", private, body)
		}
	}
}

// TestNodeInterop runs openid-client (discovery + clientCredentialsGrant,
// with secrets and with private_key_jwt) and jose (jwtVerify, typ at+jwt,
// remote JWKS) against the server. Without Node.js or the packages it
// skips, so that `go test ./...` passes on a fresh clone, unless
// TOLLGATE_REQUIRE_INTEROP=1 (as make test and CI set it): then it fails.
func TestNodeInterop(t *testing.T) {
	dir := repotest.Path(t, "interop", "node")
	missing := ""
	if _, err := exec.LookPath("node"); err != nil {
		missing = "Node.js is not installed"
	} else if _, err := os.Stat(filepath.Join(dir, "node_modules", "openid-client")); err != nil {
		missing = "the Node packages are not installed (run `make interop-deps`)"
	}
	if missing != "" {
		if os.Getenv("TOLLGATE_REQUIRE_INTEROP") == "1" {
			t.Fatalf("%s, and TOLLGATE_REQUIRE_INTEROP=1 requires the interop test", missing)
		}
		t.Skipf("%s; make test runs this test (TOLLGATE_REQUIRE_INTEROP=1 makes it required)", missing)
	}
	confDir, key := keyClientConfig(t)
	srv := start(t, serve.Config{ConfigDir: confDir})
	batchJobKey, err := jwk.FromRaw(key)
	if err != nil {
		t.Fatal(err)
	}
	batchJobJWK, err := json.Marshal(batchJobKey)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*1e9)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "--test", "tollgate.test.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TOLLGATE_ISSUER="+srv.url, "TOLLGATE_BATCH_JOB_KEY="+string(batchJobJWK))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node interop test failed: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("# pass 7")) || !bytes.Contains(out, []byte("# fail 0")) || !bytes.Contains(out, []byte("# skipped 0")) {
		t.Fatalf("node interop test did not run all 7 tests:\n%s", out)
	}
}

func readAll(resp *http.Response) string {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func assertClaim(t *testing.T, claims map[string]any, name, want string) {
	t.Helper()
	if claims[name] != want {
		t.Errorf("%s = %v, want %q", name, claims[name], want)
	}
}

func payloadOf(t *testing.T, raw string) map[string]json.RawMessage {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %d parts", len(parts))
	}
	b, err := base64URLDecode(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var payload map[string]json.RawMessage
	if err := json.Unmarshal(b, &payload); err != nil {
		t.Fatal(err)
	}
	return payload
}

func containsAll(list any, want ...string) bool {
	items, _ := list.([]any)
	var got []string
	for _, item := range items {
		s, _ := item.(string)
		got = append(got, s)
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			return false
		}
	}
	return true
}
