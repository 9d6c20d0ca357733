package decide_test

import (
	"context"
	"fmt"

	"github.com/tollgate-dev/tollgate/engine/decide"
	"github.com/tollgate-dev/tollgate/engine/hclconf"
	"github.com/tollgate-dev/tollgate/engine/policy"
	"github.com/tollgate-dev/tollgate/engine/store"
)

// A decision for the seed scenario of the example configuration: Client1,
// which impersonates User1, asks for Server2 by naming it as a scope. The
// policy grants Server2's read scope, to User1, with Client1 as the actor.
func ExampleDecider_Evaluate() {
	ctx := context.Background()
	cfg, diags := hclconf.LoadDir("../../config")
	if diags.HasErrors() {
		panic(diags)
	}
	files, err := policy.ReadDir("../../policies")
	if err != nil {
		panic(err)
	}
	pol, err := policy.Compile(ctx, files, nil)
	if err != nil {
		panic(err)
	}
	st, err := store.New(cfg)
	if err != nil {
		panic(err)
	}
	d := decide.New(st, pol)

	evaluation, err := d.Evaluate(ctx, &decide.EvalRequest{ClientID: "Client1", Scope: []string{"Server2"}})
	if err != nil {
		panic(err)
	}
	fmt.Println("allow:", evaluation.Decision.Allow)
	fmt.Println("aud:", evaluation.Decision.Audience)
	fmt.Println("scope:", evaluation.Decision.Scope)
	fmt.Println("sub:", evaluation.Decision.Subject, "act:", evaluation.Actor)
	fmt.Println("ttl:", evaluation.TTL)
	// Output:
	// allow: true
	// aud: [Server2]
	// scope: [read]
	// sub: User1 act: Client1
	// ttl: 1h0m0s
}
