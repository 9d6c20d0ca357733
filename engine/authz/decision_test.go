package authz_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/engine/audit"
	"github.com/tollgate-dev/tollgate/engine/authz"
	"github.com/tollgate-dev/tollgate/engine/decide"
	"github.com/tollgate-dev/tollgate/engine/metrics"
	"github.com/tollgate-dev/tollgate/engine/model"
	"github.com/tollgate-dev/tollgate/engine/oauth"
	"github.com/tollgate-dev/tollgate/engine/policy"
	"github.com/tollgate-dev/tollgate/engine/repotest"
	"github.com/tollgate-dev/tollgate/engine/token"
)

// inlinePolicy compiles one token.rego made of rules.
func inlinePolicy(t testing.TB, rules string) *policy.Policy {
	t.Helper()
	p, err := policy.Compile(context.Background(), map[string][]byte{"token.rego": []byte("package tollgate.token\n\n" + rules + "\n")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestADecisionThatLeaksAScopeIsRefused: whatever a policy decides, a
// scope that some server of the token's aud does not define never reaches
// a token (SPEC §4): the decision fails closed, saying which scope and
// which server.
func TestADecisionThatLeaksAScopeIsRefused(t *testing.T) {
	tests := []struct {
		name      string
		audience  string
		scope     string
		wantError string // empty: allowed
	}{
		{"scopes every server defines", `["Server1", "Server2"]`, `["read"]`, ""},
		{"a scope one server lacks", `["Server1", "Server2"]`, `["read", "write"]`, `scope "write" with audience "Server1", but server Server1 does not define`},
		{"a server named by its id", `["world-mappers"]`, `["read"]`, `server world-mappers does not define`},
		{"a server named by its audience", `["https://api.worldmappers.example"]`, `["read:geocode", "admin"]`, `scope "admin"`},
		{"the client itself holds no server's scopes", `["client1"]`, `["openid", "anything"]`, ""},
		{"no scope at all", `["Server1", "Server2"]`, `[]`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol := inlinePolicy(t, `decision := {"allow": true, "audience": `+tt.audience+`, "scope": `+tt.scope+`}`)
			ev, err := snapshot(t, repotest.ExampleConfig(t), pol).Evaluate(context.Background(), &decide.EvalRequest{ClientID: "client1"})
			if tt.wantError == "" {
				if err != nil || !ev.Decision.Allow {
					t.Fatalf("Evaluate = %+v, %v; want an allow", ev, err)
				}
				return
			}
			var oe *oauth.Error
			if !errors.As(err, &oe) || oe.Code != oauth.ServerError || !strings.Contains(err.Error(), tt.wantError) {
				t.Fatalf("Evaluate = %+v, %v; want server_error saying %q", ev, err, tt.wantError)
			}
			if strings.Contains(oe.Description, "scope") {
				t.Errorf("the caller's description says why: %q", oe.Description)
			}
		})
	}
}

// TestAHugePolicyTTLIsCapped: a ttl too large for a Duration (1e10 s) is
// capped like any other, never wrapped around into the default.
func TestAHugePolicyTTLIsCapped(t *testing.T) {
	for _, ttl := range []string{"1e10", "9223372037", "1e400", "86401"} {
		t.Run(ttl, func(t *testing.T) {
			cfg := repotest.ExampleConfig(t)
			cfg.Settings.DefaultTokenTTL, cfg.Settings.MaxTokenTTL = time.Minute, 24*time.Hour
			snap := snapshot(t, cfg, inlinePolicy(t, `decision := {"allow": true, "audience": [input.client.id], "ttl": `+ttl+`}`))
			ev, err := snap.Evaluate(context.Background(), &decide.EvalRequest{ClientID: "client1"})
			if err != nil || !ev.Decision.Allow {
				t.Fatalf("Evaluate = %+v, %v", ev, err)
			}
			if ev.TTL != 24*time.Hour {
				t.Errorf("TTL = %s, want max_token_ttl 24h", ev.TTL)
			}
		})
	}
}

// service serves snap with an audit log, a server log and metrics that
// the test reads.
func service(t *testing.T, snap *authz.Snapshot) (svc *authz.Service, auditLog, serverLog *bytes.Buffer, m *metrics.Metrics) {
	t.Helper()
	keys, err := token.Ephemeral("ES256")
	if err != nil {
		t.Fatal(err)
	}
	auditLog, serverLog, m = &bytes.Buffer{}, &bytes.Buffer{}, metrics.New()
	svc = authz.NewService(snap, authz.Options{
		Keys: keys, Issuer: "http://127.0.0.1:8080", Audit: audit.New(auditLog), Observer: m,
		Log: slog.New(slog.NewTextHandler(serverLog, nil)),
	})
	return svc, auditLog, serverLog, m
}

func client1Request(audience ...string) *authz.TokenRequest {
	return &authz.TokenRequest{
		GrantType: "client_credentials", Audience: audience, RemoteAddr: "127.0.0.1",
		Credentials: authz.Credentials{ID: "client1", Secret: "demo-client1-secret-not-for-production", Method: model.AuthClientSecretBasic},
	}
}

// TestIssuedTokensCountOnlyDeclaredAudiences: a policy may grant any
// audience value, but only declared servers' audiences and ids, and the
// client itself, become label values; the rest count as "other", so made-up
// audiences cannot grow the series.
func TestIssuedTokensCountOnlyDeclaredAudiences(t *testing.T) {
	snap := snapshot(t, repotest.ExampleConfig(t), repotest.CompilePolicies(t, repotest.Path(t, "testdata", "policies", "allow-all")))
	svc, _, _, m := service(t, snap)
	ctx := context.Background()
	requests := [][]string{
		{}, {"Server1"}, {"https://api.worldmappers.example"}, {"world-mappers"},
		{"made-up-1"}, {"made-up-2", "Server2"}, {"made-up-3"},
	}
	for _, aud := range requests {
		if _, err := svc.Issue(ctx, client1Request(aud...)); err != nil {
			t.Fatalf("Issue(%q): %v", aud, err)
		}
	}
	want := map[string]float64{
		"Server1": 1, "Server2": 1, "client1": 1, "https://api.worldmappers.example": 1, "world-mappers": 1, decide.AudienceLabelOther: 3,
	}
	got := issuedByAudience(t, m, "client1")
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("tollgate_tokens_issued_total by audience = %v, want %v", got, want)
	}
}

// issuedByAudience reads tollgate_tokens_issued_total of client from m.
func issuedByAudience(t *testing.T, m *metrics.Metrics, client string) map[string]float64 {
	t.Helper()
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "tollgate_tokens_issued_total" {
			continue
		}
		for _, metric := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range metric.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["client"] == client {
				out[labels["audience"]] += metric.GetCounter().GetValue()
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("no tollgate_tokens_issued_total for %s", client)
	}
	return out
}

// TestAPolicyFailureIsLoggedWithItsPosition: a policy error at request
// time is in the server log and the audit line's reasons, with its
// file:line:col, bounded however much the caller sent.
func TestAPolicyFailureIsLoggedWithItsPosition(t *testing.T) {
	snap := snapshot(t, repotest.ExampleConfig(t), repotest.CompilePolicies(t, repotest.Path(t, "testdata", "policies", "strict-errors")))
	svc, auditLog, serverLog, _ := service(t, snap)
	long := strings.Repeat("x", 10_000)
	_, err := svc.Issue(context.Background(), client1Request(long))
	if oe := oauth.As(err); oe.Code != oauth.ServerError {
		t.Fatalf("Issue error = %v, want server_error", err)
	}
	where := "strict-errors/token.rego:11:2: error: eval_builtin_error: to_number"
	for name, log := range map[string]string{"audit": auditLog.String(), "server": serverLog.String()} {
		if !strings.Contains(log, where) {
			t.Errorf("the %s log does not say %q:\n%s", name, where, log)
		}
		if len(log) > 1200 || strings.Contains(log, long[:600]) {
			t.Errorf("the %s log holds %d bytes: the caller's value is not bounded", name, len(log))
		}
	}
}
