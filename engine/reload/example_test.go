package reload_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/tollgate-dev/tollgate/engine/decide"
	"github.com/tollgate-dev/tollgate/engine/reload"
)

// Loading a configuration held in memory, with the repository's
// policies: the snapshot is parsed, validated, stored, compiled and
// verified (every client's requests decided) before Load returns it.
func ExampleLoad() {
	ctx := context.Background()
	src := reload.Sources{
		ConfigFiles: map[string][]byte{"orders.hcl": []byte(`
server "orders" {
  audience = "https://orders.example"
  scopes   = ["read", "write"]
}

client "shop" {
  secret { hash = "sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881" }
  access "orders" { scopes = ["read"] }
}
`)},
		PoliciesDir: "../../policies",
	}
	snap, err := reload.Load(ctx, src, reload.NewKDFCache())
	if err != nil {
		panic(err)
	}
	c := snap.Store.Counts()
	fmt.Println("clients:", c.Clients, "servers:", c.Servers)

	ev, err := snap.Evaluate(ctx, &decide.EvalRequest{ClientID: "shop", Audience: []string{"https://orders.example"}})
	if err != nil {
		panic(err)
	}
	fmt.Println("allow:", ev.Decision.Allow, "scope:", ev.Decision.Scope)
	// Output:
	// clients: 1 servers: 1
	// allow: true scope: [read]
}

// A configuration that does not load is a *LoadError, which prints every
// problem at its place, as `tollgate check` does.
func ExampleCheck() {
	src := reload.Sources{
		ConfigFiles: map[string][]byte{"orders.hcl": []byte(`
client "shop" {
  access "orders" { scopes = ["read"] }
}
`)},
		PoliciesDir: "../../policies",
	}
	_, _, err := reload.Check(context.Background(), src)
	var le *reload.LoadError
	if errors.As(err, &le) {
		_ = le.Write(os.Stdout, false)
	}
	// Output:
	// orders.hcl:2:1: error: Client without a secret; client shop has no secret block, so it could never authenticate: add secret { hash = "..." } (run "tollgate secret").
	// orders.hcl:3:3: error: Unknown server; client shop has access to "orders", which is not a declared server.
}
