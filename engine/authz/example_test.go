package authz_test

import (
	"context"
	"fmt"

	"github.com/tollgate-dev/tollgate/engine/authz"
	"github.com/tollgate-dev/tollgate/engine/model"
	"github.com/tollgate-dev/tollgate/engine/oauth"
	"github.com/tollgate-dev/tollgate/engine/reload"
	"github.com/tollgate-dev/tollgate/engine/token"
)

// Issuing a token in-process, as the token endpoint does: load the
// example configuration, serve it with a signing key, and ask for
// client1's token for itself with its demo secret.
func ExampleService_Issue() {
	ctx := context.Background()
	snap, err := reload.Load(ctx, reload.Sources{ConfigDir: "../../config", PoliciesDir: "../../policies"}, reload.NewKDFCache())
	if err != nil {
		panic(err)
	}
	keys, err := token.Ephemeral(snap.Settings.SigningAlg)
	if err != nil {
		panic(err)
	}
	svc := authz.NewService(snap, authz.Options{Keys: keys, Issuer: "https://tollgate.example"})

	tok, err := svc.Issue(ctx, &authz.TokenRequest{
		GrantType: oauth.GrantTypeClientCredentials,
		Credentials: authz.Credentials{
			ID: "client1", Secret: "demo-client1-secret-not-for-production", Method: model.AuthClientSecretBasic,
		},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("token_type:", tok.TokenType)
	fmt.Println("expires_in:", tok.ExpiresIn)
	fmt.Println("aud:", tok.Claims.Audience, "iss:", tok.Claims.Issuer)
	// Output:
	// token_type: Bearer
	// expires_in: 3600
	// aud: [client1] iss: https://tollgate.example
}
