package decide_test

import (
	"context"
	"testing"

	"github.com/tollgate-dev/tollgate/engine/decide"
	"github.com/tollgate-dev/tollgate/engine/model"
	"github.com/tollgate-dev/tollgate/engine/policy"
	"github.com/tollgate-dev/tollgate/engine/repotest"
)

// impersonation is the richest seed request: Client1 as User1 for Server2.
var impersonation = decide.EvalRequest{ClientID: "Client1", Scope: []string{"Server2"}, AuthMethod: model.AuthClientSecretBasic}

// BenchmarkDecideCold is a decision the cache cannot answer: the request's
// facts resolved in the store, the policy input built, Rego evaluated and
// the decision validated. The client's facts are already built, as they
// are after its first request (BenchmarkDecideFirstRequest). The richest
// request of the examples, an impersonation whose access is the client's
// and the account's groups' intersected, is compared with a client using
// its own access block.
func BenchmarkDecideCold(b *testing.B) {
	snap := decider(b, repotest.ExampleConfigWith(b, 1000), uncachedPolicy(b))
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		req  decide.EvalRequest
	}{
		{"impersonation", impersonation},
		{"own-access", decide.EvalRequest{ClientID: "gift-deliveries", Audience: []string{"https://api.worldmappers.example"}, AuthMethod: model.AuthClientSecretPost}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := bc.req
				if ev, err := snap.Evaluate(ctx, &req); err != nil || !ev.Decision.Allow || ev.Cached {
					b.Fatal(ev, err)
				}
			}
		})
	}
}

// BenchmarkDecideFirstRequest is a client's first request after a
// (re)load: its facts are built from the store, then the decision runs.
func BenchmarkDecideFirstRequest(b *testing.B) {
	cfg := repotest.ExampleConfigWith(b, b.N)
	snap := decider(b, cfg, repotest.DefaultPolicy(b))
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		req := decide.EvalRequest{ClientID: cfg.Clients[len(cfg.Clients)-b.N+i].ID, Scope: []string{"Server2"}}
		if ev, err := snap.Evaluate(ctx, &req); err != nil || !ev.Decision.Allow || ev.Cached {
			b.Fatal(ev, err)
		}
	}
}

// BenchmarkDecideCached is a repeated request answered by the cache.
func BenchmarkDecideCached(b *testing.B) {
	snap := decider(b, repotest.ExampleConfigWith(b, 1000), repotest.DefaultPolicy(b))
	ctx := context.Background()
	warm := impersonation
	_, _ = snap.Evaluate(ctx, &warm)
	b.ReportAllocs()
	for b.Loop() {
		req := impersonation
		if ev, err := snap.Evaluate(ctx, &req); err != nil || !ev.Cached {
			b.Fatal(ev, err)
		}
	}
}

// uncachedPolicy is the default policies plus a rule that reads the
// request time, which turns the decision cache off.
func uncachedPolicy(b *testing.B) *policy.Policy {
	files, err := policy.ReadDir(repotest.Path(b, "policies"))
	if err != nil {
		b.Fatal(err)
	}
	files["uncached.rego"] = []byte("package tollgate.uncached\n\nnow := input.request.time\n")
	p, err := policy.Compile(context.Background(), files, nil)
	if err != nil || p.Deterministic() {
		b.Fatal(err, p.Deterministic())
	}
	return p
}
