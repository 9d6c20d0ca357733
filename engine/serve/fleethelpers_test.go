package serve_test

import (
	"crypto/ecdsa"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/engine/redistest"
	"github.com/tollgate-dev/tollgate/engine/secret"
	"github.com/tollgate-dev/tollgate/engine/serve"
	"github.com/tollgate-dev/tollgate/engine/token"
)

// fleetIssuer is the issuer every replica of a test fleet shares: behind
// a load balancer they are one server.
const fleetIssuer = "https://auth.fleet.test"

// limitedSecret is the secret of "limited", a client with a rate_limit.
const limitedSecret = "limited-client-secret-0123456789abcdef0123456789abcdef"

// fleet is replicas of one configuration, signing keys and issuer,
// sharing one redis-server, as a deployment behind a load balancer is.
type fleet struct {
	t        *testing.T
	redis    *redistest.Server
	cfg      serve.Config
	key      *ecdsa.PrivateKey
	replicas []*running
}

// newFleet starts n replicas sharing a redis-server that keeps its data
// across its own restarts. "limited" may get rate tokens (e.g. "10/m").
// Each setup may add to the configuration folder before they start.
func newFleet(t *testing.T, n int, rate string, setup ...func(dir string)) *fleet {
	t.Helper()
	redis := redistest.Start(t, redistest.Options{Persist: true})
	dir, key := keyClientConfig(t)
	edit(t, dir, "settings.hcl", "settings {", fmt.Sprintf("settings {\n  issuer = %q", fleetIssuer))
	writeFile(t, filepath.Join(dir, "limited.hcl"), fmt.Sprintf(`client "limited" {
  secret { hash = %q }
  rate_limit = %q
}
`, secret.SHA256Hash(limitedSecret), rate))
	for _, f := range setup {
		f(dir)
	}
	keys := t.TempDir()
	signing, err := token.GenerateKey("ES256")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := token.WriteKeyFile(keys, signing); err != nil {
		t.Fatal(err)
	}
	// The fleet tests are about what replicas share, not about a slow
	// Redis: a generous call timeout keeps a busy test machine (-race, many
	// packages at once) from turning shared state into 503s.
	state := redis.URL() + "?timeout=5s"
	f := &fleet{t: t, redis: redis, key: key, cfg: serve.Config{ConfigDir: dir, KeysDir: keys, State: state, MetricsAddr: "127.0.0.1:0"}}
	f.startAll(n)
	return f
}

func (f *fleet) startAll(n int) {
	f.replicas = nil
	for range n {
		f.replicas = append(f.replicas, start(f.t, f.cfg))
	}
}

// restartAll stops every replica, then starts as many anew: nothing of
// theirs survives but what Redis keeps.
func (f *fleet) restartAll() {
	for _, r := range f.replicas {
		r.stop()
	}
	f.startAll(len(f.replicas))
}

// token gets a token from r with the client's secret; it returns the
// status and the response.
func (r *running) token(t *testing.T, client, secret string) (int, tokenResponse) {
	t.Helper()
	resp := r.post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, client, secret)
	status := resp.StatusCode
	return status, decode[tokenResponse](t, resp)
}

// assertionToken gets a token from r with a client assertion of batch-job.
func (r *running) assertionToken(t *testing.T, assertion string) (int, tokenResponse) {
	t.Helper()
	resp := r.post(t, "/oauth2/token", url.Values{
		"grant_type": {"client_credentials"}, "audience": {worldAudience},
		"client_assertion_type": {jwtBearer}, "client_assertion": {assertion},
	}, "", "")
	status := resp.StatusCode
	return status, decode[tokenResponse](t, resp)
}

func (r *running) active(t *testing.T, tok string) bool {
	t.Helper()
	return r.introspect(t, tok, "client1", client1Secret)["active"] == true
}

func (r *running) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(r.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// within polls cond until it holds, for d at most.
func within(t *testing.T, d time.Duration, cond func() bool) bool {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func statusOf(t *testing.T, resp *http.Response) int {
	t.Helper()
	resp.Body.Close()
	return resp.StatusCode
}
