package authz_test

import (
	"context"
	"testing"

	"github.com/tollgate-dev/tollgate/engine/authz"
	"github.com/tollgate-dev/tollgate/engine/model"
	"github.com/tollgate-dev/tollgate/engine/repotest"
	"github.com/tollgate-dev/tollgate/engine/token"
)

// BenchmarkIssue is one whole token request in the engine, as the token
// endpoint calls it: validate, authenticate (sha256), rate limit, decide
// (cached), mint, audit (discarded). The signing algorithms are compared
// in one run.
func BenchmarkIssue(b *testing.B) {
	snap := snapshot(b, repotest.ExampleConfigWith(b, 1000), repotest.DefaultPolicy(b))
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
