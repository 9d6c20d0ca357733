package serve_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/engine/redistest"
	"github.com/tollgate-dev/tollgate/engine/repotest"
	"github.com/tollgate-dev/tollgate/engine/serve"
)

// TestFleetRevocationHoldsAtEveryReplica: a token revoked at one replica
// is inactive at every other within a second (at once: they look it up in
// Redis), and fails at their userinfo.
func TestFleetRevocationHoldsAtEveryReplica(t *testing.T) {
	f := newFleet(t, 3, "100/m")
	a, b, c := f.replicas[0], f.replicas[1], f.replicas[2]
	status, tr := a.token(t, "client1", client1Secret)
	if status != http.StatusOK {
		t.Fatalf("token at A: %d %+v", status, tr)
	}
	for _, r := range []*running{b, c} {
		if !r.active(t, tr.AccessToken) {
			t.Fatal("a token issued at A is not active at another replica")
		}
	}
	resp := a.post(t, "/oauth2/revoke", url.Values{"token": {tr.AccessToken}}, "client1", client1Secret)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke at A: %d", resp.StatusCode)
	}
	for name, r := range map[string]*running{"B": b, "C": c} {
		if !within(t, time.Second, func() bool { return !r.active(t, tr.AccessToken) }) {
			t.Errorf("revoked at A, still active at %s after 1 s", name)
		}
		if got := r.userinfoStatus(t, tr.AccessToken); got != http.StatusUnauthorized {
			t.Errorf("revoked at A, userinfo at %s: %d, want 401", name, got)
		}
	}
}

// TestFleetAssertionIsAcceptedOnce: a client assertion accepted by one
// replica is refused by every other (RFC 7523 §3: a jti is used once).
func TestFleetAssertionIsAcceptedOnce(t *testing.T) {
	f := newFleet(t, 3, "100/m")
	assertion := clientAssertion(t, f.key, fleetIssuer, time.Minute, "once-for-the-fleet")
	if status, tr := f.replicas[0].assertionToken(t, assertion); status != http.StatusOK {
		t.Fatalf("assertion at A: %d %+v", status, tr)
	}
	for i, r := range f.replicas {
		if status, tr := r.assertionToken(t, assertion); status != http.StatusUnauthorized || tr.Error != "invalid_client" {
			t.Errorf("the same assertion at replica %d: %d %+v, want 401 invalid_client", i, status, tr)
		}
	}
}

// TestFleetRateLimitHoldsAcrossReplicas: a rate_limit of N/m gives at
// most N tokens across the fleet, however the requests are spread and
// however many arrive at once; the rest get 429 with Retry-After. The
// tolerance is what refills during the test itself: one token per
// interval (6 s at 10/m).
func TestFleetRateLimitHoldsAcrossReplicas(t *testing.T) {
	const limit, requests = 10, 60
	f := newFleet(t, 3, fmt.Sprintf("%d/m", limit))
	start := time.Now()
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for i := range requests {
		r := f.replicas[i%len(f.replicas)]
		wg.Go(func() {
			resp := r.post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "limited", limitedSecret)
			resp.Body.Close()
			mu.Lock()
			defer mu.Unlock()
			statuses[resp.StatusCode]++
			if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		})
	}
	wg.Wait()
	refilled := int(time.Since(start) / (time.Minute / limit))
	if got := statuses[http.StatusOK]; got < limit || got > limit+refilled {
		t.Errorf("%d tokens of %d requests over %d replicas at %d/m, want %d (+%d refilled); statuses %v",
			got, requests, len(f.replicas), limit, limit, refilled, statuses)
	}
	if statuses[http.StatusOK]+statuses[http.StatusTooManyRequests] != requests {
		t.Errorf("statuses %v, want only 200 and 429", statuses)
	}
}

// TestFleetThrottlesGuessesAsOneBudget: guesses at a person's secret
// spread over the replicas spend one budget (SPEC §8): from one address,
// the burst of 10 across A and B, then 429 at either, however they are
// spread; the holder of the secret, from another address, gets its token
// at both. The tolerance is what refills during the test itself: one
// guess per 2 s.
func TestFleetThrottlesGuessesAsOneBudget(t *testing.T) {
	f := newFleet(t, 2, "100/m", func(dir string) { personClient(t, dir, "person", personSecret) })
	guesser, holder := from(hostB), from(hostA)
	start := time.Now()
	passed := 0
	for i := range 40 {
		got := ask(t, guesser, f.replicas[i%2].url, "/oauth2/token", grant, "person", fmt.Sprint("guess-", i), nil)
		if got.status == http.StatusTooManyRequests {
			if got.retryAfter == "" {
				t.Error("429 without Retry-After")
			}
			break
		}
		if got.status != http.StatusUnauthorized {
			t.Fatalf("guess %d at replica %d: %d %s, want 401 or 429", i, i%2, got.status, got.body)
		}
		passed++
	}
	refilled := int(time.Since(start) / (2 * time.Second))
	if passed < 10 || passed > 10+refilled {
		t.Errorf("%d guesses from one address over 2 replicas were checked before a 429, want 10 (+%d refilled)", passed, refilled)
	}
	for i, r := range f.replicas {
		if got := ask(t, guesser, r.url, "/oauth2/token", grant, "person", "one-more-guess", nil); got.status != http.StatusTooManyRequests {
			t.Errorf("past the budget, a guess at replica %d: %d %s, want 429", i, got.status, got.body)
		}
	}
	for i, r := range f.replicas {
		if got := ask(t, holder, r.url, "/oauth2/token", grant, "person", personSecret, nil); got.status != http.StatusOK {
			t.Errorf("the holder, from another address, at replica %d: %d %s", i, got.status, got.body)
		}
	}
}

// TestFleetRestartLosesNothing: once every replica has restarted, a
// revocation, a used assertion and a spent rate limit still hold.
func TestFleetRestartLosesNothing(t *testing.T) {
	f := newFleet(t, 2, "2/m")
	_, revoked := f.replicas[0].token(t, "client1", client1Secret)
	resp := f.replicas[0].post(t, "/oauth2/revoke", url.Values{"token": {revoked.AccessToken}}, "client1", client1Secret)
	resp.Body.Close()
	assertion := clientAssertion(t, f.key, fleetIssuer, time.Minute, "before-the-restart")
	if status, _ := f.replicas[1].assertionToken(t, assertion); status != http.StatusOK {
		t.Fatalf("assertion: %d", status)
	}
	for i := range 2 {
		if status, _ := f.replicas[i].token(t, "limited", limitedSecret); status != http.StatusOK {
			t.Fatalf("rate-limited client within its limit: %d", status)
		}
	}

	f.restartAll()
	for i, r := range f.replicas {
		if r.active(t, revoked.AccessToken) {
			t.Errorf("replica %d after the restart: the revoked token is active", i)
		}
		if status, _ := r.assertionToken(t, assertion); status != http.StatusUnauthorized {
			t.Errorf("replica %d after the restart: the used assertion got %d, want 401", i, status)
		}
		if status, _ := r.token(t, "limited", limitedSecret); status != http.StatusTooManyRequests {
			t.Errorf("replica %d after the restart: the spent rate limit gave %d, want 429", i, status)
		}
	}
}

// TestFleetRedisOutage: with Redis stopped mid-run, each endpoint does
// what docs/fleet.md says, /readyz and the metrics show it, the log says
// it without a line per request; once Redis is back, so is everything,
// with what it kept.
func TestFleetRedisOutage(t *testing.T) {
	f := newFleet(t, 2, "100/m", func(dir string) { personClient(t, dir, "person", personSecret) })
	a, b := f.replicas[0], f.replicas[1]
	_, held := a.token(t, "client1", client1Secret)
	_, revoked := a.token(t, "client1", client1Secret)
	resp := a.post(t, "/oauth2/revoke", url.Values{"token": {revoked.AccessToken}}, "client1", client1Secret)
	resp.Body.Close()
	for _, r := range f.replicas {
		if status, body := r.get(t, "/readyz"); status != http.StatusOK {
			t.Fatalf("/readyz with Redis up: %d %s", status, body)
		}
	}

	f.redis.Stop()
	for i, r := range f.replicas {
		if !within(t, 3*serve.StateCheckEvery, func() bool {
			status, body := r.get(t, "/readyz")
			return status == http.StatusServiceUnavailable && strings.Contains(body, `"state":"unavailable"`)
		}) {
			status, body := r.get(t, "/readyz")
			t.Errorf("replica %d, Redis down: /readyz %d %s, want 503 saying the state is unavailable", i, status, body)
		}
	}
	for round := range 20 {
		r := f.replicas[round%2]
		if status, tr := r.token(t, "client1", client1Secret); status != http.StatusOK {
			t.Errorf("Redis down, a secret client without rate_limit: %d %+v, want its token", status, tr)
		}
		for name, status := range map[string]int{
			"token, client with rate_limit": statusOf(t, r.post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "limited", limitedSecret)),
			"token, private_key_jwt": statusOf(t, r.post(t, "/oauth2/token", url.Values{
				"grant_type": {"client_credentials"}, "client_assertion_type": {jwtBearer},
				"client_assertion": {clientAssertion(t, f.key, fleetIssuer, time.Minute, fmt.Sprint("outage-", round))},
			}, "", "")),
			// A key derivation runs only once the throttle has counted it.
			"token, person-chosen secret": statusOf(t, r.post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "person", personSecret)),
			"introspection":               statusOf(t, r.post(t, "/oauth2/introspect", url.Values{"token": {held.AccessToken}}, "client1", client1Secret)),
			"revocation":                  statusOf(t, r.post(t, "/oauth2/revoke", url.Values{"token": {held.AccessToken}}, "client1", client1Secret)),
			"userinfo":                    r.userinfoStatus(t, held.AccessToken),
		} {
			if status != http.StatusServiceUnavailable {
				t.Errorf("Redis down, %s: %d, want 503", name, status)
			}
		}
		// A failure is answered as one, though it cannot be counted.
		if status, tr := r.token(t, "client1", "wrong-secret"); status != http.StatusUnauthorized {
			t.Errorf("Redis down, a wrong generated secret: %d %+v, want 401", status, tr)
		}
	}
	resp, err := http.Get(a.MetricsURL())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	metrics := string(body)
	for _, op := range []string{"rate_limit", "seen", "revoked", "revoke", "throttle", "ping"} {
		if strings.Contains(metrics, fmt.Sprintf(`tollgate_state_errors_total{op=%q} 0`, op)) {
			t.Errorf("Redis down: no %s error counted", op)
		}
	}
	if !strings.Contains(metrics, "tollgate_state_up 0") {
		t.Error("Redis down: tollgate_state_up is not 0")
	}
	if n := strings.Count(a.stderr.String(), "state store calls failed"); n == 0 || n > 2 {
		t.Errorf("%d log lines of failed state calls for 50 failed requests, want 1 or 2 (bounded):\n%s", n, a.stderr)
	}

	f.redis.Restart()
	for i, r := range f.replicas {
		if !within(t, 3*serve.StateCheckEvery, func() bool { status, _ := r.get(t, "/readyz"); return status == http.StatusOK }) {
			t.Errorf("replica %d: /readyz still failing after Redis came back", i)
		}
	}
	if !strings.Contains(b.stderr.String(), "the shared state answers again") {
		t.Error("the recovery is not logged")
	}
	if status, _ := b.token(t, "limited", limitedSecret); status != http.StatusOK {
		t.Errorf("Redis back, the rate-limited client: %d", status)
	}
	if !b.active(t, held.AccessToken) || b.active(t, revoked.AccessToken) {
		t.Error("Redis back: a token's state changed across the outage")
	}
}

// TestNoRoundTripForAnUnlimitedSecretClient: the token path of a secret
// client without rate_limit sends Redis nothing (SPEC §8): the server's
// own command counts show only the health checks.
func TestNoRoundTripForAnUnlimitedSecretClient(t *testing.T) {
	f := newFleet(t, 1, "100/m")
	r := f.replicas[0]
	if status, _ := r.token(t, "limited", limitedSecret); status != http.StatusOK {
		t.Fatal("the rate-limited client got no token")
	}
	stateCalls := func() int {
		n := 0
		for cmd, calls := range f.redis.CommandCalls(t) {
			switch cmd {
			case "ping", "info", "hello", "client|setinfo", "client|setname", "command", "command|docs":
			default:
				n += calls
			}
		}
		return n
	}
	before := stateCalls()
	if before == 0 {
		t.Fatal("the rate-limited client's token made no call to Redis: the count sees nothing")
	}
	for range 20 {
		if status, tr := r.token(t, "client1", client1Secret); status != http.StatusOK {
			t.Fatalf("token: %d %+v", status, tr)
		}
	}
	if after := stateCalls(); after != before {
		t.Errorf("20 tokens of a secret client without rate_limit made %d calls to Redis, want none", after-before)
	}
}

// TestStateFlag: what --state accepts at start. A bad value, or Redis
// with --data-dir (which Redis makes moot), is an error; Redis away at
// start is not: the server starts, not ready until Redis answers.
func TestStateFlag(t *testing.T) {
	redis := redistest.Start(t, redistest.Options{})
	url := redis.URL()
	redis.Stop()
	for _, tc := range []struct {
		name string
		cfg  serve.Config
		err  string
	}{
		{"not a URL of a store", serve.Config{State: "postgres://db"}, "want memory, or redis://"},
		{"Redis and a data dir", serve.Config{State: url, DataDir: t.TempDir()}, "exclude each other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := serve.New(t.Context(), serve.Config{ConfigDir: copyConfig(t), PoliciesDir: repotest.Path(t, "policies"), State: tc.cfg.State, DataDir: tc.cfg.DataDir}, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("error %v, want %q", err, tc.err)
			}
		})
	}
	r := start(t, serve.Config{State: url})
	if status, body := r.get(t, "/readyz"); status != http.StatusServiceUnavailable || !strings.Contains(body, "unavailable") {
		t.Errorf("started with Redis away: /readyz %d %s, want 503", status, body)
	}
	if !strings.Contains(r.stderr.String(), "the shared state does not answer") {
		t.Errorf("the log does not say Redis is away:\n%s", r.stderr)
	}
	redis.Restart()
	if !within(t, 3*serve.StateCheckEvery, func() bool { status, _ := r.get(t, "/readyz"); return status == http.StatusOK }) {
		t.Error("/readyz still 503 after Redis came up")
	}
}
