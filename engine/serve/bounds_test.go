package serve_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/engine/serve"
)

// auditLines reads the audit file of a stopped server.
func auditLines(t *testing.T, path string) []string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(raw)), "\n")
}

// TestOverlongClientIDIsRefusedUnlogged: a client_id longer than any
// declared id gets the invalid_client answer an unknown client gets, byte
// for byte, however often it is sent (never throttled, so nothing is kept
// per such id), and its audit line stays short and does not hold it.
func TestOverlongClientIDIsRefusedUnlogged(t *testing.T) {
	auditPath := filepath.Join(t.TempDir(), "audit.log")
	srv := start(t, serve.Config{AuditLog: auditPath})
	send := func(form url.Values, basicID string) (int, http.Header, string) {
		t.Helper()
		resp := srv.post(t, "/oauth2/token", form, basicID, "wrong-secret")
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		resp.Header.Del("Date")
		return resp.StatusCode, resp.Header, string(body)
	}
	grant := url.Values{"grant_type": {"client_credentials"}}
	wantStatus, wantHeader, wantBody := send(grant, "no-such-client")

	inBody := strings.Repeat("b", 60<<10)   // as much as the body allows
	inHeader := strings.Repeat("h", 10<<10) // as much as the headers allow
	const attempts = 15                     // past the failed-authentication throttle
	for i := range attempts {
		for _, c := range []struct {
			form    url.Values
			basicID string
		}{
			{url.Values{"grant_type": {"client_credentials"}, "client_id": {inBody}, "client_secret": {"wrong-secret"}}, ""},
			{grant, inHeader},
		} {
			status, header, body := send(c.form, c.basicID)
			if status != wantStatus || body != wantBody || header.Get("WWW-Authenticate") != wantHeader.Get("WWW-Authenticate") {
				t.Fatalf("attempt %d: %d %v %s, want what an unknown client gets: %d %v %s", i, status, header, body, wantStatus, wantHeader, wantBody)
			}
		}
	}
	for _, path := range []string{"/oauth2/introspect", "/oauth2/revoke"} {
		resp := srv.post(t, path, url.Values{"token": {"x.y.z"}}, inHeader, "wrong-secret")
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("%s with an over-long id: %d, want 401", path, resp.StatusCode)
		}
	}
	srv.stop()

	lines := auditLines(t, auditPath)
	if want := 1 + 2*attempts + 2; len(lines) != want {
		t.Fatalf("%d audit lines, want %d", len(lines), want)
	}
	for _, line := range lines {
		if len(line) > 1<<10 {
			t.Errorf("an audit line of %d bytes: %.200s...", len(line), line)
		}
		if strings.Contains(line, "bbbbbbbbbbbbbbbb") || strings.Contains(line, "hhhhhhhhhhhhhhhh") {
			t.Errorf("the audit line holds the over-long id: %.200s...", line)
		}
	}
	for _, line := range lines[1:] {
		e := map[string]any{}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		if e["error"] != "invalid_client" || !strings.Contains(fmt.Sprint(e["reasons"]), "longer than any declared id") {
			t.Errorf("the audit line does not say why: %v", e)
		}
	}
}

// TestEchoedValuesAreBounded: a policy denial that names every unknown
// audience a client sent is bounded in the answer's error_description and
// in the audit line's reasons.
func TestEchoedValuesAreBounded(t *testing.T) {
	auditPath := filepath.Join(t.TempDir(), "audit.log")
	srv := start(t, serve.Config{AuditLog: auditPath})
	form := url.Values{"grant_type": {"client_credentials"}}
	for i := range 30 {
		form.Add("audience", fmt.Sprintf("https://%02d.unknown.example/%s", i, strings.Repeat("p", 1900)))
	}
	resp := srv.post(t, "/oauth2/token", form, "client1", client1Secret)
	body := decode[tokenResponse](t, resp)
	if resp.StatusCode != 400 || body.Error != "invalid_target" {
		t.Fatalf("got %d %+v, want 400 invalid_target", resp.StatusCode, body)
	}
	if len(body.Description) > 1100 {
		t.Errorf("error_description of %d bytes", len(body.Description))
	}
	srv.stop()

	lines := auditLines(t, auditPath)
	line := lines[len(lines)-1]
	var e struct {
		Error   string   `json:"error"`
		Reasons []string `json:"reasons"`
	}
	if err := json.Unmarshal([]byte(line), &e); err != nil {
		t.Fatal(err)
	}
	reasonBytes := 0
	for _, r := range e.Reasons {
		reasonBytes += len(r)
	}
	if e.Error != "invalid_target" || len(e.Reasons) == 0 || reasonBytes > 5<<10 || len(line) > 8<<10 {
		t.Errorf("audit line of %d bytes, %d reasons of %d bytes: %.300s...", len(line), len(e.Reasons), reasonBytes, line)
	}
	if !strings.Contains(line, "more") {
		t.Errorf("the audit line does not mark what it left out: %.300s...", line)
	}
}

// TestTokenRequestLimits: parameter values and counts past their bounds,
// and a JSON body sent as a form, are refused with a description that
// says what to change.
func TestTokenRequestLimits(t *testing.T) {
	srv := start(t, serve.Config{})
	long := strings.Repeat("a", 3000)
	many := func(name string, n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = fmt.Sprintf("%s=https://%d.example", name, i)
		}
		return strings.Join(parts, "&")
	}
	manyScopes := make([]string, 100)
	for i := range manyScopes {
		manyScopes[i] = fmt.Sprintf("s%d", i)
	}
	form := "application/x-www-form-urlencoded"
	tests := []struct {
		name, contentType, body, wantInDescription string
	}{
		{"audience too long", form, "grant_type=client_credentials&audience=" + long, "audience"},
		{"resource too long", form, "grant_type=client_credentials&resource=https://x.example/" + long, "resource"},
		{"scope token too long", form, "grant_type=client_credentials&scope=read+" + long, "scope"},
		{"too many audiences", form, "grant_type=client_credentials&" + many("audience", 40), "at most"},
		{"too many resources", form, "grant_type=client_credentials&" + many("resource", 40), "at most"},
		{"too many scope tokens", form, "grant_type=client_credentials&scope=" + strings.Join(manyScopes, "+"), "at most"},
		{"JSON sent as a form", form, `{"grant_type":"client_credentials","audience":"Server2"}`, "Content-Type: application/json"},
		{"JSON sent without a type", "", `  {"grant_type":"client_credentials"}`, "Content-Type: application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, srv.url+"/oauth2/token", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			req.SetBasicAuth("client1", client1Secret)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body := decode[tokenResponse](t, resp)
			if resp.StatusCode != 400 || body.Error != "invalid_request" || !strings.Contains(body.Description, tt.wantInDescription) {
				t.Errorf("got %d %+v, want 400 invalid_request saying %q", resp.StatusCode, body, tt.wantInDescription)
			}
		})
	}
}
