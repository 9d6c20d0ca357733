package authz_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/engine/assertion"
	"github.com/tollgate-dev/tollgate/engine/authz"
	"github.com/tollgate-dev/tollgate/engine/model"
	"github.com/tollgate-dev/tollgate/engine/oauth"
	"github.com/tollgate-dev/tollgate/engine/repotest"
	"github.com/tollgate-dev/tollgate/engine/state"
	"github.com/tollgate-dev/tollgate/engine/token"
)

const testIssuer = "https://auth.test"

// keyClient is a private_key_jwt client with a fresh key: the client's
// declaration and the key file it signs assertions with.
func keyClient(t testing.TB, id string, rate *model.Rate) (*model.Client, []byte) {
	t.Helper()
	key, err := token.GenerateKey("ES256")
	if err != nil {
		t.Fatal(err)
	}
	file, err := json.Marshal(key)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := assertion.PublicPEM(file)
	if err != nil {
		t.Fatal(err)
	}
	return &model.Client{
		ID: id, AuthMethod: model.AuthPrivateKeyJWT,
		PublicKeys: []model.PublicKey{{Key: pub}},
		Access:     []model.Access{{Server: "world-mappers", Scopes: []string{"read:directions"}}},
		RateLimit:  rate,
	}, file
}

// clock is a test's settable time.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func assertionRequest(raw string) *authz.TokenRequest {
	return &authz.TokenRequest{
		GrantType:   oauth.GrantTypeClientCredentials,
		Audience:    []string{"https://api.worldmappers.example"},
		Credentials: authz.Credentials{Method: model.AuthPrivateKeyJWT, Assertion: raw},
	}
}

func errorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *oauth.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return err.Error()
}

// TestAssertionIsConsumedOnlyPastTheRateLimit: an assertion refused by
// the client's rate limit is not used up (it works once the bucket
// refills), and a replayed one is refused as a replay even when the bucket
// is empty, so replays do not drain it.
func TestAssertionIsConsumedOnlyPastTheRateLimit(t *testing.T) {
	clk := &clock{time.Now()}
	cfg := repotest.ExampleConfig(t)
	limited, file := keyClient(t, "limited-job", &model.Rate{Count: 1, Per: 10 * time.Second})
	cfg.Clients = append(cfg.Clients, limited)
	keys, _ := token.Ephemeral("ES256")
	svc := authz.NewService(snapshot(t, cfg, repotest.DefaultPolicy(t)), authz.Options{Keys: keys, Issuer: testIssuer, Now: clk.now})
	ctx := context.Background()
	sign := func() string {
		raw, err := assertion.Sign(file, "limited-job", testIssuer, clk.t)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	first, second := sign(), sign()
	if _, err := svc.Issue(ctx, assertionRequest(first)); err != nil {
		t.Fatalf("first assertion: %v", err)
	}
	if _, err := svc.Issue(ctx, assertionRequest(second)); errorCode(err) != oauth.SlowDown {
		t.Fatalf("second assertion within the 10 s: %v, want slow_down", err)
	}
	if _, err := svc.Issue(ctx, assertionRequest(first)); errorCode(err) != oauth.InvalidClient {
		t.Fatalf("the first one replayed while the bucket is empty: %v, want invalid_client", err)
	}
	clk.t = clk.t.Add(11 * time.Second) // the bucket refills; the assertion is still unexpired
	if _, err := svc.Issue(ctx, assertionRequest(second)); err != nil {
		t.Fatalf("the assertion refused by the rate limit, once the bucket refilled: %v", err)
	}
}

// TestOneClientFillingItsAssertionQuotaStopsOnlyItself: a client that
// fills its quota of unexpired assertions, even with requests the policy
// denies, is refused more with slow_down until they expire; another
// private_key_jwt client goes on getting tokens all the while.
func TestOneClientFillingItsAssertionQuotaStopsOnlyItself(t *testing.T) {
	clk := &clock{time.Now()}
	cfg := repotest.ExampleConfig(t)
	greedy, greedyKey := keyClient(t, "greedy-job", nil)
	innocent, innocentKey := keyClient(t, "innocent-job", nil)
	cfg.Clients = append(cfg.Clients, greedy, innocent)
	const quota = 5
	st, err := state.Open(state.Options{MaxAssertionsPerClient: quota, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := token.Ephemeral("ES256")
	svc := authz.NewService(snapshot(t, cfg, repotest.DefaultPolicy(t)), authz.Options{Keys: keys, Issuer: testIssuer, Now: clk.now, State: st})
	ctx := context.Background()
	sign := func(file []byte, id string) string {
		raw, err := assertion.Sign(file, id, testIssuer, clk.t)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	for i := range quota {
		denied := assertionRequest(sign(greedyKey, "greedy-job"))
		denied.Audience = []string{"Server1"} // no access: the policy denies
		if _, err := svc.Issue(ctx, denied); errorCode(err) != oauth.UnauthorizedClient {
			t.Fatalf("denied request %d: %v, want unauthorized_client", i, err)
		}
	}
	_, err = svc.Issue(ctx, assertionRequest(sign(greedyKey, "greedy-job")))
	var e *oauth.Error
	if !errors.As(err, &e) || e.Code != oauth.SlowDown || e.RetryAfter < 1 {
		t.Fatalf("past its quota: %v, want slow_down with Retry-After", err)
	}
	for i := range quota {
		if _, err := svc.Issue(ctx, assertionRequest(sign(innocentKey, "innocent-job"))); err != nil {
			t.Fatalf("another client's request %d while the first is at its quota: %v", i, err)
		}
		clk.t = clk.t.Add(time.Millisecond)
	}
	clk.t = clk.t.Add(assertion.Leeway + 2*time.Minute) // the greedy client's assertions expired
	if _, err := svc.Issue(ctx, assertionRequest(sign(greedyKey, "greedy-job"))); err != nil {
		t.Fatalf("once its assertions expired: %v", err)
	}
}

// TestAssertionReplayAfterARestartIsRefused: a Service started over the
// data dir of one that stopped refuses the assertions the first accepted.
func TestAssertionReplayAfterARestartIsRefused(t *testing.T) {
	cfg := repotest.ExampleConfig(t)
	job, file := keyClient(t, "batch-job", nil)
	cfg.Clients = append(cfg.Clients, job)
	dir := t.TempDir()
	keys, _ := token.Ephemeral("ES256")
	ctx := context.Background()
	service := func() (*authz.Service, *state.Local) {
		st, err := state.Open(state.Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		return authz.NewService(snapshot(t, cfg, repotest.DefaultPolicy(t)), authz.Options{Keys: keys, Issuer: testIssuer, State: st}), st
	}
	raw, err := assertion.Sign(file, "batch-job", testIssuer, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	first, st := service()
	if _, err := first.Issue(ctx, assertionRequest(raw)); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	second, st := service()
	defer st.Close()
	if _, err := second.Issue(ctx, assertionRequest(raw)); errorCode(err) != oauth.InvalidClient {
		t.Fatalf("the assertion replayed after a restart: %v, want invalid_client", err)
	}
}

// TestAssertionIsUsedOnceAtEveryEndpoint: an assertion that authenticated
// a request at one endpoint is refused at each of them afterwards.
func TestAssertionIsUsedOnceAtEveryEndpoint(t *testing.T) {
	cfg := repotest.ExampleConfig(t)
	job, file := keyClient(t, "batch-job", nil)
	cfg.Clients = append(cfg.Clients, job)
	keys, _ := token.Ephemeral("ES256")
	svc := authz.NewService(snapshot(t, cfg, repotest.DefaultPolicy(t)), authz.Options{Keys: keys, Issuer: testIssuer})
	ctx := context.Background()
	creds := func(raw string) authz.Credentials {
		return authz.Credentials{Method: model.AuthPrivateKeyJWT, Assertion: raw}
	}
	endpoints := map[string]func(raw string) error{
		"token": func(raw string) error { _, err := svc.Issue(ctx, assertionRequest(raw)); return err },
		"introspect": func(raw string) error {
			_, err := svc.Introspect(ctx, &authz.TokenOpRequest{Credentials: creds(raw), Token: "x"})
			return err
		},
		"revoke": func(raw string) error {
			return svc.Revoke(ctx, &authz.TokenOpRequest{Credentials: creds(raw), Token: "x"})
		},
	}
	for first, use := range endpoints {
		raw, err := assertion.Sign(file, "batch-job", testIssuer, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := use(raw); err != nil {
			t.Fatalf("%s: %v", first, err)
		}
		for then, again := range endpoints {
			if err := again(raw); errorCode(err) != oauth.InvalidClient {
				t.Errorf("used at %s, then at %s: %v, want invalid_client", first, then, err)
			}
		}
	}
}
