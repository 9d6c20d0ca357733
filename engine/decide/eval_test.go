package decide_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/engine/decide"
	"github.com/tollgate-dev/tollgate/engine/model"
	"github.com/tollgate-dev/tollgate/engine/oauth"
	"github.com/tollgate-dev/tollgate/engine/policy"
	"github.com/tollgate-dev/tollgate/engine/reload"
	"github.com/tollgate-dev/tollgate/engine/repotest"
	"github.com/tollgate-dev/tollgate/engine/store"
)

func decider(t testing.TB, cfg *model.Config, pol *policy.Policy) *decide.Decider {
	t.Helper()
	st, err := store.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return decide.New(st, pol)
}

// TestEvaluateSeedScenarios reproduces the seed scenarios offline, as
// `tollgate eval` does.
func TestEvaluateSeedScenarios(t *testing.T) {
	withoutUser1InGroup2 := func(cfg *model.Config) {
		for _, g := range cfg.Groups {
			if g.ID == "Group2" {
				g.Members = slices.DeleteFunc(slices.Clone(g.Members), func(m string) bool { return m == "User1" })
			}
		}
	}
	tests := []struct {
		name         string
		mutate       func(*model.Config)
		req          decide.EvalRequest
		wantAllow    bool
		wantAudience []string
		wantScope    []string
		wantSubject  string
		wantActor    string
		wantError    string
		wantReason   string
	}{
		{
			name:      "gift-deliveries gets world-mappers with its scope",
			req:       decide.EvalRequest{ClientID: "gift-deliveries", Audience: []string{"https://api.worldmappers.example"}},
			wantAllow: true, wantAudience: []string{"https://api.worldmappers.example"}, wantScope: []string{"read:directions"}, wantSubject: "gift-deliveries",
		},
		{
			name:      "a server may be named by its id",
			req:       decide.EvalRequest{ClientID: "gift-deliveries", Audience: []string{"world-mappers"}, Scope: []string{"read:directions"}},
			wantAllow: true, wantAudience: []string{"https://api.worldmappers.example"}, wantScope: []string{"read:directions"}, wantSubject: "gift-deliveries",
		},
		{
			name:      "single application: no audience, the token is for client1 itself",
			req:       decide.EvalRequest{ClientID: "client1"},
			wantAllow: true, wantAudience: []string{"client1"}, wantSubject: "client1",
		},
		{
			name:      "Client1 as User1 gets Server2",
			req:       decide.EvalRequest{ClientID: "Client1", Scope: []string{"Server2"}},
			wantAllow: true, wantAudience: []string{"Server2"}, wantScope: []string{"read"}, wantSubject: "User1", wantActor: "Client1",
		},
		{
			name:      "Client1 as User1 gets Server1 through Group1",
			req:       decide.EvalRequest{ClientID: "Client1", Audience: []string{"Server1"}},
			wantAllow: true, wantAudience: []string{"Server1"}, wantScope: []string{"read"}, wantSubject: "User1", wantActor: "Client1",
		},
		{
			name:      "Client1 may not write on Server2: User1's groups only grant read",
			req:       decide.EvalRequest{ClientID: "Client1", Audience: []string{"Server2"}, Scope: []string{"write"}},
			wantError: oauth.InvalidScope,
		},
		{
			name:       "removing User1 from Group2 denies Server2 with a reason",
			mutate:     withoutUser1InGroup2,
			req:        decide.EvalRequest{ClientID: "Client1", Scope: []string{"Server2"}},
			wantError:  oauth.UnauthorizedClient,
			wantReason: "Server2",
		},
		{
			name:      "a scope not granted is invalid_scope",
			req:       decide.EvalRequest{ClientID: "gift-deliveries", Audience: []string{"https://api.worldmappers.example"}, Scope: []string{"read:geocode"}},
			wantError: oauth.InvalidScope,
		},
		{
			name:       "an unknown audience is invalid_target",
			req:        decide.EvalRequest{ClientID: "gift-deliveries", Audience: []string{"https://unknown.example"}},
			wantError:  oauth.InvalidTarget,
			wantReason: "https://unknown.example",
		},
		{
			name:      "a server the client cannot reach is unauthorized_client",
			req:       decide.EvalRequest{ClientID: "client1", Audience: []string{"Server1"}},
			wantError: oauth.UnauthorizedClient,
		},
	}
	pol := repotest.DefaultPolicy(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := repotest.ExampleConfig(t)
			if tt.mutate != nil {
				tt.mutate(cfg)
			}
			snap := decider(t, cfg, pol)
			tt.req.Time = time.Now()
			ev, err := snap.Evaluate(context.Background(), &tt.req)
			if err != nil {
				t.Fatal(err)
			}
			d := ev.Decision
			if tt.wantError != "" {
				if d.Allow || d.Error != tt.wantError {
					t.Fatalf("decision = %+v, want a denial with %s", d, tt.wantError)
				}
				if len(d.Reasons) == 0 || !strings.Contains(strings.Join(d.Reasons, "\n"), tt.wantReason) {
					t.Errorf("reasons %q do not mention %q", d.Reasons, tt.wantReason)
				}
				return
			}
			if !d.Allow {
				t.Fatalf("denied: %s %s %q", d.Error, d.ErrorDescription, d.Reasons)
			}
			subject := d.Subject
			if subject == "" {
				subject = tt.req.ClientID
			}
			if !reflect.DeepEqual(d.Audience, tt.wantAudience) || !equalStrings(d.Scope, tt.wantScope) || subject != tt.wantSubject || ev.Actor != tt.wantActor {
				t.Errorf("got aud %q scope %q sub %q actor %q; want aud %q scope %q sub %q actor %q",
					d.Audience, d.Scope, subject, ev.Actor, tt.wantAudience, tt.wantScope, tt.wantSubject, tt.wantActor)
			}
			if len(d.Reasons) == 0 {
				t.Error("an allow decision should say why")
			}
		})
	}
}

func equalStrings(a, b []string) bool {
	return len(a) == len(b) && (len(a) == 0 || reflect.DeepEqual(a, b))
}

// TestTTLIsCapped: the policy's or client's ttl is capped by every granted
// server's token_ttl and by max_token_ttl.
func TestTTLIsCapped(t *testing.T) {
	cfg := repotest.ExampleConfig(t)
	cfg.Settings.MaxTokenTTL = 20 * time.Minute
	snap := decider(t, cfg, repotest.DefaultPolicy(t))
	tests := []struct {
		name string
		req  decide.EvalRequest
		want time.Duration
	}{
		{"default 1h capped by max 20m", decide.EvalRequest{ClientID: "client1"}, 20 * time.Minute},
		{"world-mappers caps at 30m, max at 20m", decide.EvalRequest{ClientID: "gift-deliveries", Audience: []string{"world-mappers"}}, 20 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := snap.Evaluate(context.Background(), &tt.req)
			if err != nil || !ev.Decision.Allow {
				t.Fatalf("%+v %v", ev, err)
			}
			if ev.TTL != tt.want {
				t.Errorf("TTL = %s, want %s", ev.TTL, tt.want)
			}
		})
	}
	cfg = repotest.ExampleConfig(t)
	ev, _ := decider(t, cfg, repotest.DefaultPolicy(t)).Evaluate(context.Background(), &decide.EvalRequest{ClientID: "gift-deliveries", Audience: []string{"world-mappers"}})
	if ev.TTL != 30*time.Minute {
		t.Errorf("world-mappers token_ttl: TTL = %s, want 30m", ev.TTL)
	}
}

// TestCachedDecisionsEqualFreshOnes: the decision cache returns exactly
// what evaluating anew returns, for allows and denials alike, whether it
// is hit by the request as sent or by its canonical form (the same
// request with its scopes in another order). A decision about an audience
// that names no server is never kept.
func TestCachedDecisionsEqualFreshOnes(t *testing.T) {
	pol := repotest.DefaultPolicy(t)
	if !pol.Deterministic() {
		t.Fatal("the default policies should be cacheable: they must not read input.request.time")
	}
	tests := []struct {
		name      string
		req       decide.EvalRequest
		reordered []string // the same scope tokens in another order
		notKept   bool
	}{
		{name: "auth0 case", req: decide.EvalRequest{ClientID: "gift-deliveries", Audience: []string{"https://api.worldmappers.example"}}},
		{name: "scope not granted", req: decide.EvalRequest{ClientID: "gift-deliveries", Audience: []string{"https://api.worldmappers.example"}, Scope: []string{"read:geocode"}}},
		{name: "impersonation", req: decide.EvalRequest{ClientID: "Client1", Scope: []string{"Server2", "read"}}, reordered: []string{"read", "Server2"}},
		{name: "impersonation beyond the account", req: decide.EvalRequest{ClientID: "Client1", Scope: []string{"Server2", "write"}}, reordered: []string{"write", "Server2"}},
		{name: "unknown audience", req: decide.EvalRequest{ClientID: "client1", Audience: []string{"nowhere"}}, notKept: true},
		{name: "single application", req: decide.EvalRequest{ClientID: "client1"}},
	}
	shared := decider(t, repotest.ExampleConfig(t), pol)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			fresh, err := decider(t, repotest.ExampleConfig(t), pol).Evaluate(context.Background(), &req)
			if err != nil {
				t.Fatal(err)
			}
			if fresh.Cached {
				t.Fatal("a fresh snapshot answered from its cache")
			}
			variants := []decide.EvalRequest{tt.req, tt.req}
			if tt.reordered != nil {
				again := tt.req
				again.Scope = tt.reordered
				variants = append(variants, again)
			}
			for i, v := range variants {
				got, err := shared.Evaluate(context.Background(), &v)
				if err != nil {
					t.Fatal(err)
				}
				if wantCached := i > 0 && !tt.notKept; got.Cached != wantCached {
					t.Errorf("request %d (%v): Cached = %v, want %v", i, v.Scope, got.Cached, wantCached)
				}
				want, have := *fresh, *got
				want.Cached, have.Cached = false, false
				if !reflect.DeepEqual(want, have) {
					t.Errorf("request %d (%v):\nfresh  %+v %+v\ncached %+v %+v", i, v.Scope, want, want.Decision, have, have.Decision)
				}
			}
		})
	}
}

// TestFailClosed: a policy that is undefined or malformed for a request
// yields server_error, never a token.
func TestFailClosed(t *testing.T) {
	for _, name := range []string{"undefined", "malformed"} {
		t.Run(name, func(t *testing.T) {
			snap := decider(t, repotest.ExampleConfig(t), repotest.CompilePolicies(t, repotest.Path(t, "testdata", "policies", name)))
			_, err := snap.Evaluate(context.Background(), &decide.EvalRequest{ClientID: "client1"})
			var oe *oauth.Error
			if !errors.As(err, &oe) || oe.Code != oauth.ServerError || oe.HTTPStatus() != 500 {
				t.Fatalf("Evaluate error = %v, want server_error (500)", err)
			}
		})
	}
	t.Run("a policy that fails to decide a client's request never loads", func(t *testing.T) {
		_, err := reload.Load(context.Background(), reload.Sources{
			ConfigDir: repotest.Path(t, "config"), PoliciesDir: repotest.Path(t, "testdata", "policies", "undefined"),
		}, reload.NewKDFCache())
		var le *reload.LoadError
		if !errors.As(err, &le) || len(le.Evaluation) == 0 || !strings.HasSuffix(le.Evaluation[0].File, "undefined/token.rego") {
			t.Fatalf("Load error = %v, want the policy's undefined decision, at its file", err)
		}
	})
	t.Run("a policy that does not compile never loads", func(t *testing.T) {
		_, err := reload.Load(context.Background(), reload.Sources{
			ConfigDir: repotest.Path(t, "config"), PoliciesDir: repotest.Path(t, "testdata", "policies", "broken"),
		}, reload.NewKDFCache())
		var le *reload.LoadError
		if !errors.As(err, &le) || le.Policy == nil {
			t.Fatalf("Load error = %v, want a policy compile error", err)
		}
	})
}
