package authz_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/tollgate-dev/tollgate/engine/authz"
	"github.com/tollgate-dev/tollgate/engine/hclconf"
	"github.com/tollgate-dev/tollgate/engine/internal/repotest"
	"github.com/tollgate-dev/tollgate/engine/model"
	"github.com/tollgate-dev/tollgate/engine/policy"
	"github.com/tollgate-dev/tollgate/engine/secret"
	"github.com/tollgate-dev/tollgate/engine/token"
)

// benchConfig is the example config plus n generated clients, so lookups
// run against a realistically sized store.
func benchConfig(b *testing.B, n int) *model.Config {
	cfg := exampleConfig(b)
	for i := range n {
		cfg.Clients = append(cfg.Clients, benchClient(i))
	}
	return cfg
}

func benchClient(i int) *model.Client {
	return &model.Client{
		ID: fmt.Sprintf("bench-%06d", i), AuthMethod: model.AuthClientSecretBasic,
		Secrets: []model.Secret{{Hash: secret.SHA256Hash("s")}},
		Access:  []model.Access{{Server: "Server2", Scopes: []string{"read"}}},
	}
}

// impersonation is the richest seed request: Client1 as User1 for Server2.
var impersonation = authz.EvalRequest{ClientID: "Client1", Scope: []string{"Server2"}, AuthMethod: model.AuthClientSecretBasic}

// BenchmarkDecideCold is a decision the cache cannot answer: the request's
// facts resolved in the store, the policy input built, Rego evaluated and
// the decision validated. The client's facts are already built, as they
// are after its first request (BenchmarkDecideFirstRequest). The richest
// request of the examples, an impersonation whose access is the client's
// and the account's groups' intersected, is compared with a client using
// its own access block.
func BenchmarkDecideCold(b *testing.B) {
	snap := snapshot(b, benchConfig(b, 1000), uncachedPolicy(b))
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		req  authz.EvalRequest
	}{
		{"impersonation", impersonation},
		{"own-access", authz.EvalRequest{ClientID: "gift-deliveries", Audience: []string{"https://api.worldmappers.example"}, AuthMethod: model.AuthClientSecretPost}},
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
	cfg := exampleConfig(b)
	for i := range b.N {
		cfg.Clients = append(cfg.Clients, benchClient(i))
	}
	snap := snapshot(b, cfg, defaultPolicy(b))
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		req := authz.EvalRequest{ClientID: cfg.Clients[len(cfg.Clients)-b.N+i].ID, Scope: []string{"Server2"}}
		if ev, err := snap.Evaluate(ctx, &req); err != nil || !ev.Decision.Allow || ev.Cached {
			b.Fatal(ev, err)
		}
	}
}

// BenchmarkDecideCached is a repeated request answered by the cache.
func BenchmarkDecideCached(b *testing.B) {
	snap := snapshot(b, benchConfig(b, 1000), defaultPolicy(b))
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

// BenchmarkIssue is one whole token request in the engine, as the token
// endpoint calls it: validate, authenticate (sha256), rate limit, decide
// (cached), mint, audit (discarded). The signing algorithms are compared
// in one run.
func BenchmarkIssue(b *testing.B) {
	snap := snapshot(b, benchConfig(b, 1000), defaultPolicy(b))
	for _, alg := range []string{"ES256", "EdDSA", "RS256", "PS256"} {
		b.Run(alg, func(b *testing.B) {
			keys, err := token.Ephemeral(alg)
			if err != nil {
				b.Fatal(err)
			}
			svc := authz.NewService(snap, authz.Options{Keys: keys, Issuer: "http://127.0.0.1:8080"})
			ctx := context.Background()
			req := &authz.TokenRequest{
				GrantType: "client_credentials", Scope: "Server2", RemoteAddr: "127.0.0.1",
				Credentials: authz.Credentials{ID: "Client1", Secret: "demo-Client1-secret-not-for-production", Method: model.AuthClientSecretBasic},
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := svc.Issue(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLoadSnapshot builds a whole snapshot from HCL files, as a
// reload does: parse, validate, store, compile the policies, decide every
// client's requests.
// The clients are spread over files of 100, as teams keep them.
func BenchmarkLoadSnapshot(b *testing.B) {
	for _, n := range []int{100, 10000} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			dir := b.TempDir()
			writeBenchHCL(b, dir, n)
			ctx := context.Background()
			src := authz.Sources{ConfigDir: dir, PoliciesDir: repotest.Path(b, "policies")}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := authz.Load(ctx, src, authz.NewKDFCache()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReloadSnapshot is a reload of 10,000 clients (101 files) as
// the server makes it, with its parse cache and from the snapshot it
// replaces, after an edit: of one file, as a commit usually makes, or of
// every file, as a new bundle may. An edit adds a client to the file or
// removes the one the last edit added, so every reload sees a change.
func BenchmarkReloadSnapshot(b *testing.B) {
	for _, edited := range []int{1, 101} {
		b.Run(fmt.Sprintf("edited=%d", edited), func(b *testing.B) {
			dir := b.TempDir()
			writeBenchHCL(b, dir, 10000)
			names, err := filepath.Glob(filepath.Join(dir, "*.hcl"))
			if err != nil || len(names) != 101 {
				b.Fatal(names, err)
			}
			files := map[string][]byte{}
			for _, name := range names {
				files[name] = read(b, name)
			}
			ctx := context.Background()
			src := authz.Sources{ConfigFiles: files, PoliciesDir: repotest.Path(b, "policies"), Parsed: hclconf.NewCache()}
			kdf := authz.NewKDFCache()
			if src.Previous, err = authz.Load(ctx, src, kdf); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				for j, name := range names[:edited] {
					extra := fmt.Appendf(nil, "client \"edit-%d\" {\n  secret { hash = %q }\n}\n", j, secret.SHA256Hash("edit"))
					if i%2 == 1 {
						files[name] = append(files[name], extra...)
					} else {
						files[name] = bytes.TrimSuffix(files[name], extra)
					}
				}
				if src.Previous, err = authz.Load(ctx, src, kdf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
