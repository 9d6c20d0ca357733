package authz_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/engine/assertion"
	"github.com/tollgate-dev/tollgate/engine/authz"
	"github.com/tollgate-dev/tollgate/engine/model"
	"github.com/tollgate-dev/tollgate/engine/oauth"
	"github.com/tollgate-dev/tollgate/engine/redistest"
	"github.com/tollgate-dev/tollgate/engine/repotest"
	"github.com/tollgate-dev/tollgate/engine/state"
	"github.com/tollgate-dev/tollgate/engine/token"
)

// TestStateOutageSkipsNoCheck: with the shared state unreachable (a real
// redis-server, stopped), every request that needs it is refused with 503
// temporarily_unavailable (SPEC §8): a client with a rate_limit, a
// private_key_jwt client (its assertion cannot be checked against
// replay), introspection and userinfo (the revocations cannot be looked
// up), revocation. A secret client without a rate_limit needs nothing of
// the state and still gets its tokens.
func TestStateOutageSkipsNoCheck(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	st, err := state.OpenRedis(state.RedisOptions{URL: srv.URL(), Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := repotest.ExampleConfig(t)
	job, jobKey := keyClient(t, "batch-job", nil)
	cfg.Clients = append(cfg.Clients, job)
	for _, c := range cfg.Clients {
		if c.ID == "Client1" {
			c.RateLimit = &model.Rate{Count: 100, Per: time.Minute}
		}
	}
	keys, _ := token.Ephemeral("ES256")
	svc := authz.NewService(snapshot(t, cfg, repotest.DefaultPolicy(t)), authz.Options{Keys: keys, Issuer: testIssuer, State: st})
	ctx := context.Background()
	unlimited := authz.Credentials{ID: "client1", Secret: "demo-client1-secret-not-for-production", Method: model.AuthClientSecretBasic}
	limited := authz.Credentials{ID: "Client1", Secret: "demo-Client1-secret-not-for-production", Method: model.AuthClientSecretBasic}
	issue := func(creds authz.Credentials) (*authz.Token, error) {
		return svc.Issue(ctx, &authz.TokenRequest{GrantType: oauth.GrantTypeClientCredentials, Credentials: creds, Scope: scopeFor(creds)})
	}
	held, err := issue(unlimited)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := issue(limited); err != nil {
		t.Fatalf("with Redis up, the rate-limited client: %v", err)
	}

	srv.Stop()
	if _, err := issue(unlimited); err != nil {
		t.Errorf("Redis down, a secret client without rate_limit: %v, want its token", err)
	}
	raw, err := assertion.Sign(jobKey, "batch-job", testIssuer, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func() error{
		"token, client with rate_limit": func() error { _, err := issue(limited); return err },
		"token, private_key_jwt":        func() error { _, err := svc.Issue(ctx, assertionRequest(raw)); return err },
		"introspection": func() error {
			_, err := svc.Introspect(ctx, &authz.TokenOpRequest{Credentials: unlimited, Token: held.AccessToken})
			return err
		},
		"userinfo": func() error { _, err := svc.UserInfo(ctx, held.AccessToken, nil, "127.0.0.1"); return err },
		"revocation": func() error {
			return svc.Revoke(ctx, &authz.TokenOpRequest{Credentials: unlimited, Token: held.AccessToken})
		},
	} {
		err := call()
		if e := oauth.As(err); err == nil || e.Code != oauth.TemporarilyUnavail || e.HTTPStatus() != http.StatusServiceUnavailable {
			t.Errorf("%s with Redis down: %v, want 503 temporarily_unavailable", name, err)
		}
	}

	srv.Restart()
	if _, err := issue(limited); err != nil {
		t.Errorf("Redis back, the rate-limited client: %v", err)
	}
	got, err := svc.Introspect(ctx, &authz.TokenOpRequest{Credentials: unlimited, Token: held.AccessToken})
	if err != nil || !got.Active {
		t.Errorf("Redis back, introspection: %+v, %v; want active", got, err)
	}
}

// scopeFor asks Client1 for its impersonation's server, as its policy wants.
func scopeFor(creds authz.Credentials) string {
	if creds.ID == "Client1" {
		return "Server2"
	}
	return ""
}
