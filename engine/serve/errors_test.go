package serve_test

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/engine/serve"
)

// TestTokenEndpointErrors covers every error case of SPEC §5: status, JSON
// error code, and the headers the RFCs require.
func TestTokenEndpointErrors(t *testing.T) {
	srv := start(t, serve.Config{})
	basic := func(id, secret string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
	}
	form := "application/x-www-form-urlencoded"
	tests := []struct {
		name        string
		method      string
		contentType string
		body        string
		auth        string
		wantStatus  int
		wantError   string
		wantHeader  map[string]string
	}{
		{"missing grant_type", "POST", form, "", basic("client1", client1Secret), 400, "invalid_request", nil},
		{"unsupported grant type", "POST", form, "grant_type=password&username=a&password=b", basic("client1", client1Secret), 400, "unsupported_grant_type", nil},
		{"repeated grant_type", "POST", form, "grant_type=client_credentials&grant_type=client_credentials", basic("client1", client1Secret), 400, "invalid_request", nil},
		{"repeated scope", "POST", form, "grant_type=client_credentials&scope=a&scope=b", basic("client1", client1Secret), 400, "invalid_request", nil},
		{"two authentication methods", "POST", form, "grant_type=client_credentials&client_id=client1&client_secret=" + client1Secret, basic("client1", client1Secret), 400, "invalid_request", nil},
		{"client_id disagrees with Basic", "POST", form, "grant_type=client_credentials&client_id=Client1", basic("client1", client1Secret), 400, "invalid_request", nil},
		{"malformed JSON", "POST", "application/json", `{"grant_type":`, "", 400, "invalid_request", nil},
		{"JSON number parameter", "POST", "application/json", `{"grant_type":"client_credentials","scope":5}`, basic("client1", client1Secret), 400, "invalid_request", nil},
		{"unsupported content type", "POST", "text/plain", "grant_type=client_credentials", basic("client1", client1Secret), 400, "invalid_request", nil},
		{"no client authentication", "POST", form, "grant_type=client_credentials", "", 401, "invalid_client", map[string]string{"WWW-Authenticate": "Basic"}},
		{"unknown client", "POST", form, "grant_type=client_credentials", basic("nobody", "secret"), 401, "invalid_client", map[string]string{"WWW-Authenticate": "Basic"}},
		{"wrong secret", "POST", form, "grant_type=client_credentials", basic("client1", "wrong"), 401, "invalid_client", nil},
		{"wrong auth method for the client", "POST", form, "grant_type=client_credentials", basic("gift-deliveries", giftSecret), 401, "invalid_client", nil},
		{"a server is not a client", "POST", form, "grant_type=client_credentials", basic("Server2", server2Secret), 401, "invalid_client", nil},
		{"bearer scheme", "POST", form, "grant_type=client_credentials", "Bearer abc", 401, "invalid_client", nil},
		{"client_assertion unsupported", "POST", form, "grant_type=client_credentials&client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer&client_assertion=x.y.z", "", 401, "invalid_client", nil},
		{"scope not granted", "POST", form, "grant_type=client_credentials&client_id=gift-deliveries&client_secret=" + giftSecret + "&audience=" + url.QueryEscape(worldAudience) + "&scope=read:geocode", "", 400, "invalid_scope", nil},
		{"unknown audience", "POST", form, "grant_type=client_credentials&audience=https://unknown.example", basic("client1", client1Secret), 400, "invalid_target", nil},
		{"resource not an absolute URI", "POST", form, "grant_type=client_credentials&resource=relative/path", basic("client1", client1Secret), 400, "invalid_target", nil},
		{"server not reachable", "POST", form, "grant_type=client_credentials&audience=Server1", basic("client1", client1Secret), 400, "unauthorized_client", nil},
		{"scopes without an audience", "POST", form, "grant_type=client_credentials&scope=read", basic("client1", client1Secret), 400, "invalid_scope", nil},
		{"invalid scope characters", "POST", form, "grant_type=client_credentials&scope=%22quoted%22", basic("client1", client1Secret), 400, "invalid_scope", nil},
		{"wrong method", "GET", "", "", "", 405, "invalid_request", map[string]string{"Allow": "POST"}},
		{"body over 64 KiB", "POST", form, "grant_type=client_credentials&scope=" + strings.Repeat("a", 70<<10), basic("client1", client1Secret), 413, "invalid_request", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.url+"/oauth2/token", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body := decode[map[string]any](t, resp)
			if resp.StatusCode != tt.wantStatus || body["error"] != tt.wantError {
				t.Fatalf("got %d %v, want %d %s", resp.StatusCode, body, tt.wantStatus, tt.wantError)
			}
			if _, ok := body["error_description"].(string); !ok {
				t.Errorf("no error_description: %v", body)
			}
			if resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type = %q", resp.Header.Get("Content-Type"))
			}
			if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Pragma") != "no-cache" {
				t.Errorf("missing no-store/no-cache headers: %v", resp.Header)
			}
			for name, prefix := range tt.wantHeader {
				if !strings.HasPrefix(resp.Header.Get(name), prefix) {
					t.Errorf("%s = %q, want it to start with %q", name, resp.Header.Get(name), prefix)
				}
			}
		})
	}
}

// TestUnknownClientLooksLikeWrongSecret: from outside, an unknown client and
// a known client with a wrong secret get byte-identical responses.
func TestUnknownClientLooksLikeWrongSecret(t *testing.T) {
	srv := start(t, serve.Config{})
	response := func(id string) (int, http.Header, string) {
		resp := srv.post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, id, "wrong-secret")
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		resp.Header.Del("Date")
		return resp.StatusCode, resp.Header, string(body)
	}
	unknownStatus, unknownHeader, unknownBody := response("no-such-client")
	knownStatus, knownHeader, knownBody := response("client1")
	if unknownStatus != knownStatus || unknownBody != knownBody {
		t.Errorf("unknown client: %d %s\nwrong secret:   %d %s", unknownStatus, unknownBody, knownStatus, knownBody)
	}
	for name := range knownHeader {
		if knownHeader.Get(name) != unknownHeader.Get(name) {
			t.Errorf("header %s differs: %q vs %q", name, knownHeader.Get(name), unknownHeader.Get(name))
		}
	}
}
