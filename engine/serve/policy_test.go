package serve_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/engine/repotest"
	"github.com/tollgate-dev/tollgate/engine/serve"
)

// Test secrets of testdata/config/shared-scopes.
const (
	shopSecret    = "demo-shop-secret-not-for-production"
	billingSecret = "demo-billing-secret-not-for-production"
	ordersSecret  = "demo-orders-secret-not-for-production"
)

// TestScopesNeverLeakAcrossAudiences: orders and billing both define read
// and write; shop may write on orders only. However a request names both
// servers, the token never carries write, so billing's introspection
// never says write (SPEC §4). Asking for write explicitly is invalid_scope.
func TestScopesNeverLeakAcrossAudiences(t *testing.T) {
	srv := start(t, serve.Config{ConfigDir: repotest.Path(t, "testdata", "config", "shared-scopes")})
	tests := []struct {
		name      string
		form      url.Values
		wantScope string // empty: want invalid_scope
	}{
		{"both audiences, no scope: only what both grant", url.Values{"audience": {"orders", "billing"}}, "read"},
		{"both audiences, read", url.Values{"audience": {"orders", "billing"}, "scope": {"read"}}, "read"},
		{"both audiences, read write", url.Values{"audience": {"orders", "billing"}, "scope": {"read write"}}, ""},
		{"both servers named in scope, read write", url.Values{"scope": {"orders billing read write"}}, ""},
		{"both servers named in scope, no scope", url.Values{"scope": {"orders billing"}}, "read"},
		{"both as resources, read write", url.Values{"resource": {"https://orders.example", "https://billing.example"}, "scope": {"read write"}}, ""},
		{"both as resources, no scope", url.Values{"resource": {"https://orders.example", "https://billing.example"}}, "read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.form.Set("grant_type", "client_credentials")
			resp := srv.post(t, "/oauth2/token", tt.form, "shop", shopSecret)
			status := resp.StatusCode
			tr := decode[tokenResponse](t, resp)
			if tt.wantScope == "" {
				if status != http.StatusBadRequest || tr.Error != "invalid_scope" || !strings.Contains(tr.Description, `"write"`) {
					t.Fatalf("status %d %+v; want 400 invalid_scope naming write", status, tr)
				}
				return
			}
			if status != http.StatusOK || tr.Scope != tt.wantScope {
				t.Fatalf("status %d %+v; want a token with scope %q", status, tr, tt.wantScope)
			}
			for _, rs := range []struct{ id, secret string }{{"billing", billingSecret}, {"orders", ordersSecret}} {
				got := decode[map[string]any](t, srv.post(t, "/oauth2/introspect", url.Values{"token": {tr.AccessToken}}, rs.id, rs.secret))
				scope, _ := got["scope"].(string)
				if got["active"] != true || scope != tt.wantScope {
					t.Errorf("%s introspection = %v, want active with scope %q", rs.id, got, tt.wantScope)
				}
				if rs.id == "billing" && strings.Contains(" "+scope+" ", " write ") {
					t.Errorf("billing reads write in a token it never granted: %v", got)
				}
			}
		})
	}
	// Orders alone still grants write.
	tr := decode[tokenResponse](t, srv.post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "audience": {"orders"}, "scope": {"read write"}}, "shop", shopSecret))
	if tr.Scope != "read write" {
		t.Errorf("orders alone: %+v, want a token with read write", tr)
	}
}

// TestACustomPolicyCannotLeakScopes: a policy that grants whatever is
// asked (testdata/policies/allow-all) still cannot put a scope in a token
// that a server of its aud does not define: the server refuses the
// decision (500 server_error) and says why in the log, not to the caller.
func TestACustomPolicyCannotLeakScopes(t *testing.T) {
	dir := copyConfig(t)
	writeFile(t, dir+"/shop.hcl", `client "shop" {
  secret { hash = "`+shopSecretHash+`" }
  access "Server1" {
    scopes = ["read"]
  }
  access "Server2" {
    scopes = ["read", "write"]
  }
}
`)
	srv := start(t, serve.Config{ConfigDir: dir, PoliciesDir: repotest.Path(t, "testdata", "policies", "allow-all")})
	form := url.Values{"grant_type": {"client_credentials"}, "audience": {"Server1", "Server2"}, "scope": {"read write"}}
	resp := srv.post(t, "/oauth2/token", form, "shop", shopSecret)
	status := resp.StatusCode
	tr := decode[tokenResponse](t, resp)
	if status != http.StatusInternalServerError || tr.Error != "server_error" || tr.AccessToken != "" {
		t.Fatalf("status %d %+v; want 500 server_error and no token", status, tr)
	}
	if strings.Contains(tr.Description, "write") || strings.Contains(tr.Description, "Server1") {
		t.Errorf("the caller learns why: %q", tr.Description)
	}
	audit := auditLine(t, srv, "shop", "server_error")
	if !strings.Contains(audit, `scope \"write\"`) || !strings.Contains(audit, "Server1") {
		t.Errorf("the audit line does not say which scope and server: %s", audit)
	}
	form.Set("scope", "read")
	if tr := decode[tokenResponse](t, srv.post(t, "/oauth2/token", form, "shop", shopSecret)); tr.Scope != "read" {
		t.Errorf("a scope both servers define: %+v, want a token with read", tr)
	}
}

// shopSecretHash is sha256 of shopSecret.
const shopSecretHash = "sha256:11b5cffcc4a43de672a4836a797af079999565d6ea9ded502aa7ac3201adc9ba"

// TestSingleApplicationAsksForOpenID: the Ubisecure seed's single
// application asks scope=openid and no audience; the token is for the
// client itself and answers at userinfo (SPEC §4).
func TestSingleApplicationAsksForOpenID(t *testing.T) {
	srv := start(t, serve.Config{})
	resp := srv.post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"openid"}}, "client1", client1Secret)
	status := resp.StatusCode
	tr := decode[tokenResponse](t, resp)
	if status != http.StatusOK || tr.Scope != "openid" {
		t.Fatalf("status %d %+v; want a token with scope openid", status, tr)
	}
	tok := srv.verify(t, tr.AccessToken, "client1")
	if tok.Subject() != "client1" {
		t.Errorf("sub = %q, want client1", tok.Subject())
	}
	req, _ := http.NewRequest(http.MethodGet, srv.url+"/oauth2/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tr.AccessToken)
	uresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if info := decode[map[string]any](t, uresp); uresp.StatusCode != http.StatusOK || info["sub"] != "client1" || info["aud"] != "client1" {
		t.Errorf("userinfo = %d %v", uresp.StatusCode, info)
	}
	// A scope that is not OpenID still needs an audience.
	tr = decode[tokenResponse](t, srv.post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"openid read"}}, "client1", client1Secret))
	if tr.Error != "invalid_scope" || !strings.Contains(tr.Description, `"read"`) || strings.Contains(tr.Description, `"openid"`) {
		t.Errorf("openid read without an audience: %+v, want invalid_scope about read only", tr)
	}
}

// TestABuiltinErrorDenies: with strict built-in errors, a guard whose
// built-in errors (to_number of "abc") fails the evaluation: 500
// server_error, never "not blocked". The server log and the audit line say
// where in the policy; the caller learns nothing of it.
func TestABuiltinErrorDenies(t *testing.T) {
	srv := start(t, serve.Config{PoliciesDir: repotest.Path(t, "testdata", "policies", "strict-errors")})
	form := url.Values{"grant_type": {"client_credentials"}, "audience": {"abc"}}
	resp := srv.post(t, "/oauth2/token", form, "client1", client1Secret)
	status := resp.StatusCode
	tr := decode[tokenResponse](t, resp)
	if status != http.StatusInternalServerError || tr.Error != "server_error" || tr.AccessToken != "" {
		t.Fatalf("status %d %+v; want 500 server_error and no token", status, tr)
	}
	if strings.Contains(tr.Description, "to_number") || strings.Contains(tr.Description, "rego") {
		t.Errorf("the caller learns the policy error: %q", tr.Description)
	}
	where := regexp.MustCompile(`strict-errors/token\.rego:11:\d+: .*to_number`)
	audit := auditLine(t, srv, "client1", "server_error")
	if !where.MatchString(audit) {
		t.Errorf("the audit line does not say where the policy failed: %s", audit)
	}
	if !where.MatchString(grepLines(srv.stderr.String(), "level=ERROR")) {
		t.Errorf("the server log does not say where the policy failed:\n%s", srv.stderr.String())
	}
	// The guard still works where it can be evaluated.
	form.Set("audience", "500")
	if tr := decode[tokenResponse](t, srv.post(t, "/oauth2/token", form, "client1", client1Secret)); tr.Error != "invalid_target" {
		t.Errorf("audience 500: %+v, want invalid_target", tr)
	}
}

// TestAPolicyThatCallsOutDoesNotLoad: http.send (and every other built-in
// that reaches outside the server) is refused at load, at its position.
func TestAPolicyThatCallsOutDoesNotLoad(t *testing.T) {
	_, err := serve.New(t.Context(), serve.Config{
		ConfigDir: repotest.Path(t, "config"), PoliciesDir: repotest.Path(t, "testdata", "policies", "calls-out"), Addr: "127.0.0.1:0",
	}, &syncBuffer{})
	if err == nil {
		t.Fatal("a policy calling http.send was served")
	}
	if !regexp.MustCompile(`calls-out/token\.rego:6:\d+: error: .*http\.send`).MatchString(err.Error()) {
		t.Errorf("error %q does not name http.send at its position", err)
	}
}

// auditLine is the one audit line (on stderr) of a token request by
// client that ended with code. The audit log writes behind the answer, so
// it waits for the line.
func auditLine(t *testing.T, srv *running, client, code string) string {
	t.Helper()
	var found []string
	eventually(t, "the audit line is written", func() bool {
		found = nil
		for _, line := range strings.Split(srv.stderr.String(), "\n") {
			if strings.HasPrefix(line, "{") && strings.Contains(line, `"client":"`+client+`"`) && strings.Contains(line, `"error":"`+code+`"`) {
				found = append(found, line)
			}
		}
		return len(found) > 0
	})
	if len(found) != 1 {
		t.Fatalf("want one audit line for %s with %s, got %q", client, code, found)
	}
	return found[0]
}
