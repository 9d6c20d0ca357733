package authz_test

import (
	"context"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/engine/authz"
	"github.com/tollgate-dev/tollgate/engine/model"
	"github.com/tollgate-dev/tollgate/engine/oauth"
	"github.com/tollgate-dev/tollgate/engine/repotest"
	"github.com/tollgate-dev/tollgate/engine/state"
	"github.com/tollgate-dev/tollgate/engine/token"
)

// TestRevocationsPastTheBoundRevokeEveryEarlierToken: once a client has
// revoked more tokens than the bound keeps, all its tokens issued until
// then are inactive, those it never revoked too; a token issued later,
// and other clients' tokens, are not.
func TestRevocationsPastTheBoundRevokeEveryEarlierToken(t *testing.T) {
	clk := &clock{time.Now()}
	st, err := state.Open(state.Options{MaxRevocationsPerClient: 2, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := token.Ephemeral("ES256")
	svc := authz.NewService(snapshot(t, repotest.ExampleConfig(t), repotest.DefaultPolicy(t)), authz.Options{Keys: keys, Issuer: testIssuer, Now: clk.now, State: st})
	ctx := context.Background()
	client1 := authz.Credentials{ID: "client1", Secret: "demo-client1-secret-not-for-production", Method: model.AuthClientSecretBasic}
	issue := func(creds authz.Credentials) string {
		tok, err := svc.Issue(ctx, &authz.TokenRequest{GrantType: oauth.GrantTypeClientCredentials, Credentials: creds})
		if err != nil {
			t.Fatal(err)
		}
		return tok.AccessToken
	}
	active := func(tok string) bool {
		got, err := svc.Introspect(ctx, &authz.TokenOpRequest{Credentials: client1, Token: tok})
		if err != nil {
			t.Fatal(err)
		}
		return got.Active
	}
	other := authz.Credentials{ID: "Client1", Secret: "demo-Client1-secret-not-for-production", Method: model.AuthClientSecretBasic}
	untouched, othersToken := issue(client1), issue(other)
	for range 3 {
		if err := svc.Revoke(ctx, &authz.TokenOpRequest{Credentials: client1, Token: issue(client1)}); err != nil {
			t.Fatal(err)
		}
	}
	if active(untouched) {
		t.Error("past the bound, a token issued earlier and never revoked is still active")
	}
	clk.t = clk.t.Add(time.Second)
	if later := issue(client1); !active(later) {
		t.Error("a token issued after the bound was passed is inactive")
	}
	got, err := svc.Introspect(ctx, &authz.TokenOpRequest{Credentials: other, Token: othersToken})
	if err != nil || !got.Active {
		t.Errorf("another client's token: %+v %v, want active", got, err)
	}
}
