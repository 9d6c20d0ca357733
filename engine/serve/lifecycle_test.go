package serve_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/engine/repotest"
	"github.com/tollgate-dev/tollgate/engine/serve"
	"github.com/tollgate-dev/tollgate/engine/state"
	"github.com/tollgate-dev/tollgate/engine/token"
)

// edit rewrites a file of dir with old replaced by new; it fails when old
// is not there, so that a changed example config cannot pass silently.
func edit(t *testing.T, dir, file, old, new string) {
	t.Helper()
	path := filepath.Join(dir, file)
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), old) {
		t.Fatalf("%s does not contain %q", file, old)
	}
	writeFile(t, path, strings.Replace(string(body), old, new, 1))
}

func (r *running) introspect(t *testing.T, tok, user, pass string) map[string]any {
	t.Helper()
	return decode[map[string]any](t, r.post(t, "/oauth2/introspect", url.Values{"token": {tok}}, user, pass))
}

func (r *running) userinfoStatus(t *testing.T, tok string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, r.url+"/oauth2/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestTokensDieWithTheirClient: once a reload disables or removes a
// client, or the account its token impersonates, the token introspects as
// inactive and fails at userinfo (SPEC §6), for every introspecting caller;
// a rotated secret and an unrelated edit leave tokens alive. A token whose
// every audience is gone is inactive too.
func TestTokensDieWithTheirClient(t *testing.T) {
	type caller struct{ id, secret string }
	type holder struct {
		user, pass string
		get        url.Values
		introspect []caller
	}
	gift := holder{
		get:        url.Values{"client_id": {"gift-deliveries"}, "client_secret": {giftSecret}, "audience": {worldAudience}},
		introspect: []caller{{"world-mappers", worldSecret}},
	}
	user1 := holder{
		user: "Client1", pass: Client1Secret,
		get:        url.Values{"scope": {"Server2"}},
		introspect: []caller{{"Server2", server2Secret}},
	}
	single := holder{
		user: "client1", pass: client1Secret,
		introspect: []caller{{"client1", client1Secret}},
	}
	for _, tc := range []struct {
		name   string
		holder holder
		edit   func(t *testing.T, dir string)
		alive  bool
	}{
		{name: "client disabled", holder: gift, alive: false, edit: func(t *testing.T, dir string) {
			edit(t, dir, "world-mappers.hcl", `auth_method = "client_secret_post"`, `auth_method = "client_secret_post"
  disabled = true`)
		}},
		{name: "client removed", holder: gift, alive: false, edit: func(t *testing.T, dir string) {
			body, _ := os.ReadFile(filepath.Join(dir, "world-mappers.hcl"))
			writeFile(t, filepath.Join(dir, "world-mappers.hcl"), string(body[:strings.Index(string(body), `client "gift-deliveries"`)]))
		}},
		{name: "impersonating client disabled", holder: user1, alive: false, edit: func(t *testing.T, dir string) {
			edit(t, dir, "ubisecure.hcl", `impersonate = "User1"`, `impersonate = "User1"
  disabled = true`)
		}},
		{name: "impersonated account disabled", holder: user1, alive: false, edit: func(t *testing.T, dir string) {
			edit(t, dir, "ubisecure.hcl", `impersonators = ["Client1"]`, `impersonators = ["Client1"]
  disabled = true`)
		}},
		{name: "impersonated account removed", holder: user1, alive: false, edit: func(t *testing.T, dir string) {
			edit(t, dir, "ubisecure.hcl", `impersonate = "User1"`, ``)
			edit(t, dir, "ubisecure.hcl", `account "User1"`, `account "User2"`)
			edit(t, dir, "ubisecure.hcl", `impersonators = ["Client1"]`, `impersonators = []`)
			edit(t, dir, "ubisecure.hcl", `members = ["User1"]`, `members = ["User2"]`)
			edit(t, dir, "ubisecure.hcl", `members = ["User1"]`, `members = ["User2"]`)
		}},
		{name: "the one audience removed", holder: gift, alive: false, edit: func(t *testing.T, dir string) {
			// The server cannot introspect any more; userinfo still answers.
			body, _ := os.ReadFile(filepath.Join(dir, "world-mappers.hcl"))
			writeFile(t, filepath.Join(dir, "world-mappers.hcl"), `client "gift-deliveries" {
  auth_method = "client_secret_post"
`+string(body[strings.Index(string(body), "  # demo secret: demo-gift"):strings.Index(string(body), "  # It may read")])+"}\n")
		}},
		{name: "secret rotated", holder: gift, alive: true, edit: func(t *testing.T, dir string) {
			edit(t, dir, "world-mappers.hcl", `secret { hash = "sha256:2e3b`, `secret { hash = "sha256:0000000000000000000000000000000000000000000000000000000000000000" }
  secret { hash = "sha256:2e3b`)
		}},
		{name: "another client removed", holder: gift, alive: true, edit: func(t *testing.T, dir string) {
			edit(t, dir, "ubisecure.hcl", `client "client1"`, `client "client2"`)
		}},
		{name: "the single application's own token, client disabled", holder: single, alive: false, edit: func(t *testing.T, dir string) {
			edit(t, dir, "ubisecure.hcl", `name = "Single application"`, `name = "Single application"
  disabled = true`)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyConfig(t)
			srv := start(t, serve.Config{ConfigDir: dir, Watch: false})
			h := tc.holder
			form := url.Values{"grant_type": {"client_credentials"}}
			for k, v := range h.get {
				form[k] = v
			}
			tr := decode[tokenResponse](t, srv.post(t, "/oauth2/token", form, h.user, h.pass))
			if tr.AccessToken == "" {
				t.Fatalf("no token: %+v", tr)
			}
			for _, c := range h.introspect {
				if got := srv.introspect(t, tr.AccessToken, c.id, c.secret); got["active"] != true {
					t.Fatalf("before the edit, %s introspects %v", c.id, got)
				}
			}
			tc.edit(t, dir)
			if err := srv.Reload(context.Background()); err != nil {
				t.Fatalf("reload: %v", err)
			}
			wantStatus := http.StatusUnauthorized
			if tc.alive {
				wantStatus = http.StatusOK
			}
			if got := srv.userinfoStatus(t, tr.AccessToken); got != wantStatus {
				t.Errorf("userinfo after the edit: %d, want %d", got, wantStatus)
			}
			if tc.name == "the one audience removed" || strings.HasPrefix(tc.name, "the single application") {
				return // the introspecting caller itself is gone or disabled
			}
			for _, c := range h.introspect {
				if got := srv.introspect(t, tr.AccessToken, c.id, c.secret); got["active"] != tc.alive {
					t.Errorf("after the edit, %s introspects %v, want active=%v", c.id, got, tc.alive)
				}
			}
		})
	}
}

// restartable is a config folder with a fixed issuer, and a keys folder,
// so that tokens issued before a restart still verify after it.
func restartable(t *testing.T, dir string) serve.Config {
	t.Helper()
	edit(t, dir, "settings.hcl", `settings {`, `settings {
  issuer = "https://auth.test"`)
	keys := t.TempDir()
	key, err := token.GenerateKey("ES256")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := token.WriteKeyFile(keys, key); err != nil {
		t.Fatal(err)
	}
	return serve.Config{ConfigDir: dir, PoliciesDir: repotest.Path(t, "policies"), KeysDir: keys, DataDir: filepath.Join(t.TempDir(), "data"), Watch: false}
}

// TestRevocationSurvivesARestart: with --data-dir, a token revoked before
// a restart is still inactive after it, while an unrevoked one stays
// active; the file is the owner's only. Without it, the start log says
// revocations do not survive a restart.
func TestRevocationSurvivesARestart(t *testing.T) {
	cfg := restartable(t, copyConfig(t))
	srv := start(t, cfg)
	if !strings.Contains(srv.stderr.String(), "kept in --data-dir") {
		t.Errorf("the start log does not say where revocations are kept:\n%s", srv.stderr.String())
	}
	get := func(srv *running) string {
		return decode[tokenResponse](t, srv.post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "client1", client1Secret)).AccessToken
	}
	revoked, kept := get(srv), get(srv)
	resp := srv.post(t, "/oauth2/revoke", url.Values{"token": {revoked}}, "client1", client1Secret)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	srv.stop()

	again := start(t, cfg)
	if got := again.introspect(t, revoked, "client1", client1Secret); got["active"] != false {
		t.Errorf("the revoked token after a restart: %v, want inactive", got)
	}
	if got := again.introspect(t, kept, "client1", client1Secret); got["active"] != true {
		t.Errorf("an unrevoked token after a restart: %v, want active", got)
	}
	if !strings.Contains(again.stderr.String(), "revocations=1") {
		t.Errorf("the start log does not count the revocation read back:\n%s", again.stderr.String())
	}
	info, err := os.Stat(filepath.Join(cfg.DataDir, state.RevocationsFile))
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("%s has mode %v, want 0600", state.RevocationsFile, perm)
	}

	memory := start(t, serve.Config{})
	if !strings.Contains(memory.stderr.String(), "do not survive a restart") {
		t.Errorf("without --data-dir, the start log does not warn:\n%s", memory.stderr.String())
	}
}

// TestAssertionReplayAfterARestart: with --data-dir, an assertion a
// server accepted is refused by the server that follows it on the same
// folder; a second server on a folder in use does not start.
func TestAssertionReplayAfterARestart(t *testing.T) {
	dir, key := keyClientConfig(t)
	cfg := restartable(t, dir)
	srv := start(t, cfg)
	if _, err := serve.New(context.Background(), cfg, io.Discard); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("a second server on the same --data-dir: %v, want an error saying it is in use", err)
	}
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"client_assertion_type": {jwtBearer},
		"client_assertion":      {clientAssertion(t, key, "https://auth.test", time.Minute, "once")},
	}
	if tr := decode[tokenResponse](t, srv.post(t, "/oauth2/token", form, "", "")); tr.AccessToken == "" {
		t.Fatalf("the assertion: %+v", tr)
	}
	srv.stop()

	again := start(t, cfg)
	resp := again.post(t, "/oauth2/token", form, "", "")
	if body := decode[tokenResponse](t, resp); resp.StatusCode != http.StatusUnauthorized || body.Error != "invalid_client" {
		t.Errorf("the assertion replayed after a restart: %d %+v, want 401 invalid_client", resp.StatusCode, body)
	}
}
