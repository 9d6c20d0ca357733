package serve_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/tollgate-dev/tollgate/engine/secret"
	"github.com/tollgate-dev/tollgate/engine/serve"
)

// Two loopback addresses stand for two hosts.
const (
	hostA = "127.0.0.1"
	hostB = "127.0.0.2"
)

// from is an HTTP client whose connections come from ip.
func from(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 64}}
}

// answer is what a request got: status, body and the headers that say
// anything about the failure.
type answer struct {
	status     int
	body       string
	authHeader string
	retryAfter string
}

// ask posts form to path, from client c, with optional Basic credentials
// and extra headers.
func ask(t testing.TB, c *http.Client, base, path string, form url.Values, user, pass string, header http.Header) answer {
	t.Helper()
	a, err := try(c, base, path, form, user, pass, header)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// try is ask for a goroutine: it returns the error.
func try(c *http.Client, base, path string, form url.Values, user, pass string, header http.Header) (answer, error) {
	req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
	if err != nil {
		return answer{}, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	resp, err := c.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, string(body), resp.Header.Get("WWW-Authenticate"), resp.Header.Get("Retry-After")}, nil
}

var grant = url.Values{"grant_type": {"client_credentials"}}

// guessAtOnce sends n wrong secrets for id at the same time, so that
// however slow each check is, they all meet the throttle before any
// bucket refills.
func guessAtOnce(t *testing.T, c *http.Client, base, path string, form url.Values, id string, n int, header http.Header) []answer {
	t.Helper()
	out := make([]answer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			a, err := try(c, base, path, form, id, fmt.Sprintf("guess-%d", i), header)
			if err != nil {
				t.Error(err)
			}
			out[i] = a
		})
	}
	wg.Wait()
	return out
}

// personClient writes a client whose secret a person chose (argon2id).
func personClient(t testing.TB, dir, id, plain string) {
	t.Helper()
	hash, err := secret.Argon2idHash(plain)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t.(*testing.T), filepath.Join(dir, id+".hcl"), fmt.Sprintf("client %q {\n  secret { hash = %q }\n}\n", id, hash))
}

const personSecret = "correct horse battery"

// TestStrangerCannotLockOutAClient: however many wrong secrets another
// host sends for a client id, the client's own requests with its secret
// get tokens (RFC 6819 §4.4.1.11), at the token endpoint and at
// introspection. A generated secret is verified before any throttle, so
// even the guessing host gets in with the right one; a person's secret is
// throttled per id and address, so the guesser is slowed and the holder
// is not.
func TestStrangerCannotLockOutAClient(t *testing.T) {
	dir := copyConfig(t)
	personClient(t, dir, "person", personSecret)
	srv := start(t, serve.Config{ConfigDir: dir})
	stranger, holder := from(hostB), from(hostA)
	tok := decode[tokenResponse](t, srv.post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"Server2"}}, "Client1", Client1Secret))

	tests := []struct {
		name, path, id, secret string
		form                   url.Values
		guesses                int
		strangerThrottled      bool
	}{
		{name: "generated secret at the token endpoint", path: "/oauth2/token", id: "Client1", secret: Client1Secret, form: grant, guesses: 30},
		{name: "server secret at introspection", path: "/oauth2/introspect", id: "Server2", secret: server2Secret,
			form: url.Values{"token": {tok.AccessToken}}, guesses: 30},
		{name: "person's secret at the token endpoint", path: "/oauth2/token", id: "person", secret: personSecret, form: grant,
			guesses: 12, strangerThrottled: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			throttled := false
			for _, a := range guessAtOnce(t, stranger, srv.url, tt.path, tt.form, tt.id, tt.guesses, nil) {
				switch a.status {
				case 401, 503: // 503: checked later than the derivations' wait allows
				case 429:
					throttled = true
				default:
					t.Fatalf("a guess: %d %s", a.status, a.body)
				}
			}
			if throttled != tt.strangerThrottled {
				t.Errorf("the stranger's guesses were throttled: %v, want %v", throttled, tt.strangerThrottled)
			}
			for _, who := range []struct {
				name   string
				client *http.Client
			}{{"the holder, from another host", holder}, {"the holder, again", holder}} {
				if a := ask(t, who.client, srv.url, tt.path, tt.form, tt.id, tt.secret, nil); a.status != 200 {
					t.Errorf("%s with the right secret: %d %s", who.name, a.status, a.body)
				}
			}
			if !tt.strangerThrottled {
				if a := ask(t, stranger, srv.url, tt.path, tt.form, tt.id, tt.secret, nil); a.status != 200 {
					t.Errorf("the right secret from the guessing host itself: %d %s", a.status, a.body)
				}
			}
		})
	}
}

// TestRandomIDsFromOneAddressLockNobodyOut: behind one NAT or proxy
// address, a flood of made-up client ids does not keep the real clients
// behind the same address from authenticating.
func TestRandomIDsFromOneAddressLockNobodyOut(t *testing.T) {
	srv := start(t, serve.Config{})
	c := from(hostA)
	for i := range 150 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		if a := ask(t, c, srv.url, "/oauth2/token", grant, "random-"+hex.EncodeToString(b[:]), "guess", nil); a.status != 401 && a.status != 429 {
			t.Fatalf("made-up id %d: %d %s", i, a.status, a.body)
		}
	}
	if a := ask(t, c, srv.url, "/oauth2/token", grant, "client1", client1Secret, nil); a.status != 200 {
		t.Errorf("a real client behind the flooded address: %d %s", a.status, a.body)
	}
	tok := decode[tokenResponse](t, srv.post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"Server2"}}, "Client1", Client1Secret))
	if a := ask(t, c, srv.url, "/oauth2/introspect", url.Values{"token": {tok.AccessToken}}, "Server2", server2Secret, nil); a.status != 200 {
		t.Errorf("a server's introspection behind the flooded address: %d %s", a.status, a.body)
	}
}

// TestConcurrentGuessesReserveBeforeTheKDF: 60 wrong argon2id secrets for
// one id, sent at once, run at most the burst of key derivations; the
// others are refused before any work.
func TestConcurrentGuessesReserveBeforeTheKDF(t *testing.T) {
	dir := copyConfig(t)
	personClient(t, dir, "person", personSecret)
	srv := start(t, serve.Config{ConfigDir: dir})
	counts := map[int]int{}
	for _, a := range guessAtOnce(t, from(hostB), srv.url, "/oauth2/token", grant, "person", 60, nil) {
		counts[a.status]++
	}
	t.Logf("answers: %v", counts)
	if counts[401] > 10 || counts[401]+counts[429]+counts[503] != 60 {
		t.Errorf("answers %v: want at most 10 guesses checked (401), the rest refused (429, or 503 while the KDF is busy)", counts)
	}
	if a := ask(t, from(hostA), srv.url, "/oauth2/token", grant, "person", personSecret, nil); a.status != 200 {
		t.Errorf("the holder from another host: %d %s", a.status, a.body)
	}
}

// auditEvents waits for the audit file to hold at least n lines and
// returns them.
func auditEvents(t *testing.T, path string, n int) []map[string]any {
	t.Helper()
	var out []map[string]any
	eventually(t, fmt.Sprintf("%d audit lines", n), func() bool {
		raw, _ := os.ReadFile(path)
		out = nil
		for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
			if line == "" {
				continue
			}
			var e map[string]any
			if err := jsonUnmarshal(line, &e); err != nil {
				t.Fatalf("audit line is not JSON: %q", line)
			}
			out = append(out, e)
		}
		return len(out) >= n
	})
	return out
}

// TestFailedAuthenticationExplainsItself: every way client authentication
// fails gets the very same answer, and the audit line's reasons tell the
// operator which it was. A client that names no auth_method may send its
// secret either way (openid-client defaults to client_secret_post, most
// others to client_secret_basic); one that names a method must use it.
func TestFailedAuthenticationExplainsItself(t *testing.T) {
	dir, _ := keyClientConfig(t)
	writeFile(t, filepath.Join(dir, "expired.hcl"), fmt.Sprintf("client %q {\n  secret {\n    hash = %q\n    not_after = %q\n  }\n}\n",
		"expired", secret.SHA256Hash(extraClientSecret), time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)))
	writeFile(t, filepath.Join(dir, "off.hcl"), strings.Replace(extraClient("off"), "}\n}", "}\n  disabled = true\n}", 1))
	auditPath := filepath.Join(t.TempDir(), "audit.log")
	srv := start(t, serve.Config{ConfigDir: dir, AuditLog: auditPath})
	c := from(hostA)
	post := func(id, pass string) url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {pass}}
	}

	for _, ok := range []struct {
		name       string
		form       url.Values
		user, pass string
	}{
		{"no auth_method, secret in the header", grant, "client1", client1Secret},
		{"no auth_method, secret in the body", post("client1", client1Secret), "", ""},
	} {
		if a := ask(t, c, srv.url, "/oauth2/token", ok.form, ok.user, ok.pass, nil); a.status != 200 {
			t.Errorf("%s: %d %s", ok.name, a.status, a.body)
		}
	}
	cfg := clientcredentials.Config{ClientID: "client1", ClientSecret: client1Secret, TokenURL: srv.url + "/oauth2/token", AuthStyle: oauth2.AuthStyleInParams}
	if _, err := cfg.Token(context.Background()); err != nil {
		t.Errorf("a client_secret_post library against a client that names no method: %v", err)
	}

	tests := []struct {
		name       string
		form       url.Values
		user, pass string
		reason     string
	}{
		{"unknown client", grant, "nobody", client1Secret, "unknown client"},
		{"wrong secret", grant, "client1", "wrong", "wrong secret"},
		{"expired secret", grant, "expired", extraClientSecret, "secret expired"},
		{"disabled client", grant, "off", extraClientSecret, "client is disabled"},
		{"explicit method not followed", grant, "gift-deliveries", giftSecret, "client_secret_post"},
		{"a secret for a key client", post("batch-job", "anything"), "", "", "private_key_jwt"},
	}
	var first answer
	for i, tt := range tests {
		a := ask(t, c, srv.url, "/oauth2/token", tt.form, tt.user, tt.pass, nil)
		if a.status != 401 {
			t.Errorf("%s: %d %s", tt.name, a.status, a.body)
			continue
		}
		if i == 0 {
			first = a
		} else if a != first {
			t.Errorf("%s answers %+v, unlike %s: %+v", tt.name, a, tests[0].name, first)
		}
	}
	lines := auditEvents(t, auditPath, 3+len(tests))
	for i, tt := range tests {
		e := lines[3+i]
		reasons := fmt.Sprint(e["reasons"])
		t.Logf("%s: %s", tt.name, reasons)
		if !strings.Contains(reasons, tt.reason) {
			t.Errorf("%s: audit reasons %s, want them to say %q", tt.name, reasons, tt.reason)
		}
	}
}

// TestAuditNamesTheCredentialUsed: during a rotation, the audit line says
// which secret authenticated, by a fingerprint of its stored hash.
func TestAuditNamesTheCredentialUsed(t *testing.T) {
	dir := copyConfig(t)
	oldHash, newHash := secret.SHA256Hash("old-"+extraClientSecret), secret.SHA256Hash("new-"+extraClientSecret)
	writeFile(t, filepath.Join(dir, "rotating.hcl"), fmt.Sprintf("client %q {\n  secret { hash = %q }\n  secret { hash = %q }\n}\n",
		"rotating", oldHash, newHash))
	auditPath := filepath.Join(t.TempDir(), "audit.log")
	srv := start(t, serve.Config{ConfigDir: dir, AuditLog: auditPath})
	for _, plain := range []string{"old-" + extraClientSecret, "new-" + extraClientSecret} {
		if a := ask(t, from(hostA), srv.url, "/oauth2/token", grant, "rotating", plain, nil); a.status != 200 {
			t.Fatalf("%d %s", a.status, a.body)
		}
	}
	lines := auditEvents(t, auditPath, 2)
	for i, hash := range []string{oldHash, newHash} {
		if got, want := lines[i]["credential"], "secret "+secret.Fingerprint(hash); got != want {
			t.Errorf("request %d: credential %v, want %q", i, got, want)
		}
	}
	raw, _ := os.ReadFile(auditPath)
	if strings.Contains(string(raw), strings.TrimPrefix(oldHash, "sha256:")) {
		t.Error("the audit log holds a stored hash")
	}
}

// TestLoadWarnsOfExpiringCredentials: every load and reload logs one
// warning per secret or key that has expired or expires within 7 days,
// naming where it is declared.
func TestLoadWarnsOfExpiringCredentials(t *testing.T) {
	dir := copyConfig(t)
	soon := time.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339)
	later := time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339)
	writeFile(t, filepath.Join(dir, "rotating.hcl"), fmt.Sprintf(
		"client %q {\n  secret {\n    hash = %q\n    not_after = %q\n  }\n  secret {\n    hash = %q\n    not_after = %q\n  }\n}\n",
		"rotating", secret.SHA256Hash("a-"+extraClientSecret), soon, secret.SHA256Hash("b-"+extraClientSecret), later))
	srv := start(t, serve.Config{ConfigDir: dir})
	count := func() int { return strings.Count(grepLines(srv.stderr.String(), "level=WARN"), "rotating.hcl:4") }
	if n := count(); n != 1 {
		t.Fatalf("%d warnings naming rotating.hcl:4 at start, want 1; log:\n%s", n, srv.stderr.String())
	}
	if strings.Contains(srv.stderr.String(), "rotating.hcl:8") {
		t.Error("a secret valid for 30 more days was warned about")
	}
	if err := srv.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 2 {
		t.Errorf("%d warnings after a reload, want 2", n)
	}
	t.Logf("the warning: %s", strings.SplitN(grepLines(srv.stderr.String(), "rotating.hcl:4"), "\n", 2)[0])
}
