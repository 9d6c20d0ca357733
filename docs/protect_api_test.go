package docs

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	jwtmiddleware "github.com/auth0/go-jwt-middleware/v2"
	"github.com/auth0/go-jwt-middleware/v2/jwks"
	"github.com/auth0/go-jwt-middleware/v2/validator"
	"golang.org/x/oauth2/clientcredentials"
)

// scopeClaim is the custom claim of docs/howto/protect-an-api.md: the
// space-delimited scope of an RFC 9068 token.
type scopeClaim struct {
	Scope string `json:"scope"`
}

// Validate accepts any scope: each route checks the one it needs.
func (c *scopeClaim) Validate(context.Context) error { return nil }

// has reports whether the token carries scope.
func (c *scopeClaim) has(scope string) bool {
	return slices.Contains(strings.Fields(c.Scope), scope)
}

// protect is the how-to's code: a handler that answers only requests with
// a token of issuer for audience carrying scope.
func protect(issuer, audience, scope string, next http.HandlerFunc) (http.Handler, error) {
	issuerURL, err := url.Parse(issuer)
	if err != nil {
		return nil, err
	}
	provider := jwks.NewCachingProvider(issuerURL, 5*time.Minute)
	v, err := validator.New(provider.KeyFunc, validator.ES256, issuer, []string{audience},
		validator.WithCustomClaims(func() validator.CustomClaims { return &scopeClaim{} }))
	if err != nil {
		return nil, err
	}
	return jwtmiddleware.New(v.ValidateToken).CheckJWT(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims := r.Context().Value(jwtmiddleware.ContextKey{}).(*validator.ValidatedClaims)
		if !claims.CustomClaims.(*scopeClaim).has(scope) {
			http.Error(w, "insufficient_scope", http.StatusForbidden)
			return
		}
		next(w, r)
	})), nil
}

// TestHowtoGoJWTMiddlewareAcceptsTollgateTokens protects an API with
// Auth0's go-jwt-middleware as the how-to does, and checks that it accepts
// a tollgate token for it and refuses the others.
func TestHowtoGoJWTMiddlewareAcceptsTollgateTokens(t *testing.T) {
	requireTools(t, "sh", "make", "go")
	issuer := serveLikeMakeRun(t, "make run\n")
	const audience = "https://api.worldmappers.example"
	route := func(scope string) *httptest.Server {
		api, err := protect(issuer, audience, scope, func(w http.ResponseWriter, r *http.Request) {
			claims := r.Context().Value(jwtmiddleware.ContextKey{}).(*validator.ValidatedClaims)
			_ = json.NewEncoder(w).Encode(map[string]string{"caller": claims.RegisteredClaims.Subject})
		})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(api)
		t.Cleanup(srv.Close)
		return srv
	}
	directions, geocode := route("read:directions"), route("read:geocode")

	token := func(id, secret string, scopes []string, audiences ...string) string {
		cfg := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: issuer + "/oauth2/token",
			Scopes: scopes, EndpointParams: url.Values{"audience": audiences}}
		tok, err := cfg.Token(context.Background())
		if err != nil {
			t.Fatalf("token for %s: %v", id, err)
		}
		return tok.AccessToken
	}
	call := func(srv *httptest.Server, token string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(body))
	}

	giftDeliveries := "demo-gift-deliveries-secret-not-for-production"
	tests := []struct {
		name  string
		route *httptest.Server
		token string
		code  int
		body  string
	}{
		{"a token for the API with the scope is accepted", directions,
			token("gift-deliveries", giftDeliveries, []string{"read:directions"}, audience), 200, `{"caller":"gift-deliveries"}`},
		{"a token without the route's scope is forbidden", geocode,
			token("gift-deliveries", giftDeliveries, nil, audience), 403, "insufficient_scope"},
		{"a token for another audience is refused", directions,
			token("client1", "demo-client1-secret-not-for-production", nil), 401, ""},
		{"no token is refused", directions, "", 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := call(tt.route, tt.token)
			if code != tt.code || (tt.body != "" && body != tt.body) {
				t.Errorf("got %d %q, want %d %q", code, body, tt.code, tt.body)
			}
		})
	}
}

// TestHowtoExpressAcceptsTollgateTokens runs interop/node's
// resource-server.test.mjs, Auth0's express-oauth2-jwt-bearer protecting an
// Express API as the how-to does, against make run.
func TestHowtoExpressAcceptsTollgateTokens(t *testing.T) {
	dir := filepath.Join(repoRoot, "interop", "node")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "express-oauth2-jwt-bearer")); err != nil {
		if os.Getenv("TOLLGATE_REQUIRE_INTEROP") == "1" {
			t.Fatalf("interop/node has no node_modules (cd interop/node && npm ci), and TOLLGATE_REQUIRE_INTEROP=1 requires this test")
		}
		t.Skip("interop/node has no node_modules: cd interop/node && npm ci")
	}
	requireTools(t, "sh", "make", "go", "node")
	issuer := serveLikeMakeRun(t, "make run\n")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "--test", "resource-server.test.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TOLLGATE_ISSUER="+issuer)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test resource-server.test.mjs: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "# pass 4") {
		t.Fatalf("resource-server.test.mjs did not pass all 4 tests:\n%s", out)
	}
}
