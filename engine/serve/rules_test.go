package serve_test

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/engine/repotest"
	"github.com/tollgate-dev/tollgate/engine/serve"
)

// planFixtureSecret is every client's secret in testdata/plan/base/config.
const planFixtureSecret = "evfvf_0ALlyAhHJxhzxXu1zknhhHQgEFsQzf1al5iyA"

// denyGiftDeliveries is a deny rule of one's own, next to the freeze
// example (write:ledger withheld on ledger-api).
const denyGiftDeliveries = `package tollgate.rules

deny contains "gift-deliveries may not reach world-mappers" if {
	input.client.id == "gift-deliveries"
	input.servers["world-mappers"]
}
`

// TestRulesOfYourOwnHoldWhateverTheRequestAsks: a withhold and a deny rule
// hold however a request names the server (audience by value or id,
// resource, a scope token naming the server) and whatever scope it asks
// for, none included; tokens are checked as a resource server would.
func TestRulesOfYourOwnHoldWhateverTheRequestAsks(t *testing.T) {
	policies := t.TempDir()
	for _, file := range []string{"audience.rego", "impersonation.rego", "scope.rego", "token.rego", "examples/freeze_scope.rego"} {
		body, err := os.ReadFile(repotest.Path(t, "policies", file))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(policies, filepath.Base(file)), string(body))
	}
	writeFile(t, filepath.Join(policies, "deny.rego"), denyGiftDeliveries)
	srv := start(t, serve.Config{ConfigDir: repotest.Path(t, "testdata", "plan", "base", "config"), PoliciesDir: policies})

	withhold := []struct {
		name      string
		form      url.Values
		wantScope string // "" for invalid_scope
	}{
		{"audience, no scope", url.Values{"audience": {"ledger-api"}}, "read:ledger"},
		{"resource, no scope", url.Values{"resource": {"https://ledger.example"}}, "read:ledger"},
		{"server named in scope", url.Values{"scope": {"ledger-api"}}, "read:ledger"},
		{"audience, the other scope", url.Values{"audience": {"ledger-api"}, "scope": {"read:ledger"}}, "read:ledger"},
		{"audience, the withheld scope", url.Values{"audience": {"ledger-api"}, "scope": {"read:ledger write:ledger"}}, ""},
		{"resource, the withheld scope", url.Values{"resource": {"https://ledger.example"}, "scope": {"write:ledger"}}, ""},
		{"server and withheld scope in scope", url.Values{"scope": {"ledger-api write:ledger"}}, ""},
	}
	for _, tt := range withhold {
		t.Run("withhold: "+tt.name, func(t *testing.T) {
			tt.form.Set("grant_type", "client_credentials")
			resp := srv.post(t, "/oauth2/token", tt.form, "billing-batch", planFixtureSecret)
			status := resp.StatusCode
			tr := decode[tokenResponse](t, resp)
			if tt.wantScope == "" {
				if status != http.StatusBadRequest || tr.Error != "invalid_scope" || !strings.Contains(tr.Description, "withheld") {
					t.Fatalf("status %d %+v, want invalid_scope saying it is withheld", status, tr)
				}
				return
			}
			if status != http.StatusOK || tr.Scope != tt.wantScope {
				t.Fatalf("status %d %+v, want a token with scope %q", status, tr, tt.wantScope)
			}
			tok := srv.verify(t, tr.AccessToken, "https://ledger.example")
			if scope, _ := tok.Get("scope"); scope != tt.wantScope {
				t.Errorf("the token's scope is %v", scope)
			}
		})
	}

	deny := map[string]url.Values{
		"audience by value": {"audience": {"https://api.worldmappers.example"}},
		"audience by id":    {"audience": {"world-mappers"}, "scope": {"read:directions"}},
		"resource":          {"resource": {"https://api.worldmappers.example"}},
		"scope naming it":   {"scope": {"world-mappers read:directions"}},
	}
	for name, form := range deny {
		t.Run("deny: "+name, func(t *testing.T) {
			form.Set("grant_type", "client_credentials")
			resp := srv.post(t, "/oauth2/token", form, "gift-deliveries", planFixtureSecret)
			status := resp.StatusCode
			tr := decode[tokenResponse](t, resp)
			if status != http.StatusBadRequest || tr.Error != "unauthorized_client" || tr.AccessToken != "" ||
				!strings.Contains(tr.Description, "gift-deliveries may not reach world-mappers") {
				t.Fatalf("status %d %+v, want unauthorized_client with the rule's message", status, tr)
			}
		})
	}
	// The rule is about world-mappers only: its own token still comes.
	tr := decode[tokenResponse](t, srv.post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "gift-deliveries", planFixtureSecret))
	if tr.AccessToken == "" {
		t.Errorf("gift-deliveries' token for itself: %+v", tr)
	}
}
