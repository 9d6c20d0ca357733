package serve_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/engine/secret"
	"github.com/tollgate-dev/tollgate/engine/serve"
)

// TestReloadOnFileChangeAndSIGHUP: a new file adds a client (the watcher
// reloads); removing it and sending SIGHUP removes the client; a broken
// file keeps the last good set, with /readyz still 200 and the failure
// counted.
func TestReloadOnFileChangeAndSIGHUP(t *testing.T) {
	dir := copyConfig(t)
	base, logs, _ := runServe(t, serve.Config{ConfigDir: dir, Watch: true, MetricsAddr: "127.0.0.1:0"})

	if got := tokenStatus(t, base, "added-client", extraClientSecret); got != 401 {
		t.Fatalf("before the change: %d", got)
	}
	writeFile(t, filepath.Join(dir, "added.hcl"), extraClient("added-client"))
	eventually(t, "the watcher loads added-client", func() bool { return tokenStatus(t, base, "added-client", extraClientSecret) == 200 })

	// Stop watching effects by removing the file and reloading by signal.
	if err := os.Remove(filepath.Join(dir, "added.hcl")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "SIGHUP removes added-client", func() bool { return tokenStatus(t, base, "added-client", extraClientSecret) == 401 })

	// A broken file: the running set stays, readiness stays, the failure is counted.
	writeFile(t, filepath.Join(dir, "broken.hcl"), `client "x" { secret { hash = "plain-text" } }`)
	eventually(t, "the broken reload is logged", func() bool { return strings.Contains(logs.String(), "reload failed") })
	if !strings.Contains(logs.String(), "broken.hcl:1:") {
		t.Errorf("the log should name the broken file's position:\n%s", logs.String())
	}
	if got := tokenStatus(t, base, "client1", client1Secret); got != 200 {
		t.Errorf("after a broken reload, client1 gets %d", got)
	}
	resp, err := http.Get(base + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/readyz after a broken reload: %v %v", resp.StatusCode, err)
	}
	metrics := get(t, metricsURL(t, logs))
	if !regexp.MustCompile(`tollgate_config_reloads_total\{result="failure"\} [1-9]`).MatchString(metrics) {
		t.Errorf("the failed reload is not counted:\n%s", grepLines(metrics, "reloads"))
	}
}

// TestReloadUnderLoad: 32 goroutines request tokens for 3 seconds while the
// configuration reloads every 200 ms, alternating between two valid sets:
// not one request may fail.
func TestReloadUnderLoad(t *testing.T) {
	dir := copyConfig(t)
	srv := start(t, serve.Config{ConfigDir: dir})
	// A fixed number of reloads under load, not a time window: on a busy
	// machine a reload takes longer, and that is no failure.
	const wantReloads = 10
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	transport := &http.Transport{MaxIdleConnsPerHost: 64}
	client := &http.Client{Transport: transport}
	defer transport.CloseIdleConnections()
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				req, _ := http.NewRequest(http.MethodPost, srv.url+"/oauth2/token",
					strings.NewReader("grant_type=client_credentials&scope=Server2"))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth("Client1", Client1Secret)
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						failed.Add(1)
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					ok.Add(1)
				} else {
					failed.Add(1)
				}
			}
		}()
	}
	reloads := 0
	for i := 0; reloads < wantReloads; i++ {
		time.Sleep(200 * time.Millisecond)
		if i%2 == 0 {
			writeFile(t, filepath.Join(dir, "extra.hcl"), extraClient(fmt.Sprintf("extra-%d", i)))
		} else {
			_ = os.Remove(filepath.Join(dir, "extra.hcl"))
		}
		if err := srv.Reload(context.Background()); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
		reloads++
	}
	cancel()
	wg.Wait()
	if failed.Load() != 0 || ok.Load() == 0 {
		t.Fatalf("%d ok, %d failed, %d reloads", ok.Load(), failed.Load(), reloads)
	}
	t.Logf("%d tokens, %d reloads, 0 failures", ok.Load(), reloads)
}

// TestAuditLogNeverHoldsSecretsOrTokens runs every kind of request, right
// and wrong, and greps the audit file and the whole log for each secret,
// hash and token used.
func TestAuditLogNeverHoldsSecretsOrTokens(t *testing.T) {
	auditPath := filepath.Join(t.TempDir(), "audit.log")
	srv := start(t, serve.Config{AuditLog: auditPath})
	var tokens []string
	for _, c := range []struct{ id, secret, scope string }{
		{"client1", client1Secret, ""}, {"Client1", Client1Secret, "Server2"},
	} {
		tr := decode[tokenResponse](t, srv.post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {c.scope}}, c.id, c.secret))
		tokens = append(tokens, tr.AccessToken)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"gift-deliveries"}, "client_secret": {giftSecret}, "audience": {worldAudience}}
	tokens = append(tokens, decode[tokenResponse](t, srv.post(t, "/oauth2/token", form, "", "")).AccessToken)
	for _, wrong := range []string{"wrong-secret-1", Client1Secret} {
		srv.post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "client1", wrong).Body.Close()
	}
	srv.post(t, "/oauth2/introspect", url.Values{"token": {tokens[1]}}, "Server2", server2Secret).Body.Close()
	srv.post(t, "/oauth2/introspect", url.Values{"token": {tokens[1]}}, "Server1", server1Secret).Body.Close()
	srv.post(t, "/oauth2/revoke", url.Values{"token": {tokens[0]}}, "client1", client1Secret).Body.Close()
	srv.post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_assertion": {"eyJhbGciOiJIUzI1NiJ9.e30.assertion-secret"}}, "", "").Body.Close()
	srv.stop()

	raw, err := os.ReadFile(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	events := map[string]int{}
	for _, line := range lines {
		var e map[string]any
		if err := jsonUnmarshal(line, &e); err != nil {
			t.Fatalf("audit line is not JSON: %q", line)
		}
		for _, field := range []string{"time", "event", "outcome", "remote_addr", "duration_ms"} {
			if _, ok := e[field]; !ok {
				t.Errorf("audit line lacks %s: %s", field, line)
			}
		}
		events[e["event"].(string)+"/"+e["outcome"].(string)]++
	}
	for _, want := range []string{"token/allow", "token/error", "introspect/active", "introspect/inactive", "revoke/revoked"} {
		if events[want] == 0 {
			t.Errorf("no %s audit line; got %v", want, events)
		}
	}
	everything := string(raw) + srv.stderr.String()
	needles := []string{client1Secret, Client1Secret, giftSecret, server1Secret, server2Secret, "wrong-secret-1", "assertion-secret",
		secret.SHA256Hash(client1Secret), strings.TrimPrefix(secret.SHA256Hash(client1Secret), "sha256:")}
	for _, tok := range tokens {
		needles = append(needles, tok, strings.Split(tok, ".")[2])
	}
	for _, needle := range needles {
		if needle != "" && strings.Contains(everything, needle) {
			t.Errorf("the logs contain a secret or token: %.20s...", needle)
		}
	}
}

// TestRateLimitAndThrottling: a client's rate_limit answers 429 with
// Retry-After past its budget, without touching other clients; wrong
// secrets never keep the right one out.
func TestRateLimitAndThrottling(t *testing.T) {
	dir := copyConfig(t)
	writeFile(t, filepath.Join(dir, "limited.hcl"), strings.Replace(extraClient("limited"), "}\n}", "}\n  rate_limit = \"3/m\"\n}", 1))
	srv := start(t, serve.Config{ConfigDir: dir})

	for i := range 3 {
		if got := tokenStatus(t, srv.url, "limited", extraClientSecret); got != 200 {
			t.Fatalf("request %d within the limit: %d", i, got)
		}
	}
	resp := srv.post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "limited", extraClientSecret)
	body := decode[map[string]any](t, resp)
	retry, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	if resp.StatusCode != 429 || body["error"] != "slow_down" || retry < 1 || retry > 20 {
		t.Fatalf("past the limit: %d %v Retry-After %q", resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
	if got := tokenStatus(t, srv.url, "client1", client1Secret); got != 200 {
		t.Errorf("another client is affected by the rate limit: %d", got)
	}

	// Wrong generated secrets are not throttled per id: the right one
	// still gets in (see TestStrangerCannotLockOutAClient).
	for range 11 {
		if got := tokenStatus(t, srv.url, "Client1", "guess"); got != 401 {
			t.Fatalf("a wrong secret: %d", got)
		}
	}
	if got := tokenStatus(t, srv.url, "Client1", Client1Secret); got != 200 {
		t.Errorf("after wrong secrets, the right one: %d", got)
	}
}

// TestSIGTERMDrainsInFlightRequests: a request whose body is still arriving
// when shutdown starts completes with 200; during the shutdown delay
// /readyz answers 503; then Serve returns nil.
func TestSIGTERMDrainsInFlightRequests(t *testing.T) {
	srv := start(t, serve.Config{ShutdownDelay: 500 * time.Millisecond})
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := "grant_type=client_credentials"
	fmt.Fprintf(conn, "POST /oauth2/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"+
		"Authorization: Basic %s\r\nContent-Length: %d\r\n\r\n%s", basicAuth("client1", client1Secret), len(body), body[:5])
	time.Sleep(100 * time.Millisecond) // the server is now reading the body

	stopped := make(chan struct{})
	go func() { srv.stop(); close(stopped) }()
	eventually(t, "/readyz reports shutdown", func() bool {
		resp, err := http.Get(srv.url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 503
	})
	if _, err := conn.Write([]byte(body[5:])); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request: %v", err)
	}
	if resp.StatusCode != 200 {
		t.Errorf("in-flight request: %d", resp.StatusCode)
	}
	select {
	case <-stopped:
	case <-time.After(15 * time.Second):
		t.Fatal("the server did not finish draining")
	}
}

// TestMetricsExposition: the metrics the operations section lists exist.
func TestMetricsExposition(t *testing.T) {
	srv := start(t, serve.Config{MetricsAddr: "127.0.0.1:0"})
	tokenStatus(t, srv.url, "client1", client1Secret)
	tokenStatus(t, srv.url, "client1", "wrong")
	metrics := get(t, srv.MetricsURL())
	for _, want := range []string{
		`tollgate_http_requests_total{code="200",endpoint="/oauth2/token",error=""} 1`,
		`tollgate_http_requests_total{code="401",endpoint="/oauth2/token",error="invalid_client"} 1`,
		`tollgate_http_request_duration_seconds_bucket{endpoint="/oauth2/token"`,
		`tollgate_client_authentication_duration_seconds_count{result="failure"} 1`,
		`tollgate_policy_evaluation_duration_seconds_count{cached=`,
		`tollgate_token_signing_duration_seconds_count 1`,
		`tollgate_tokens_issued_total{audience="client1",client="client1"} 1`,
		`tollgate_token_requests_total{client="client1",error=""} 1`,
		`tollgate_token_requests_total{client="",error="invalid_client"} 1`,
		`tollgate_config_reloads_total{result="success"} 1`,
		`tollgate_config_last_reload_success_timestamp_seconds`,
		`tollgate_config_reload_duration_seconds_count 1`,
		`tollgate_config_declarations{kind="clients"} 3`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
