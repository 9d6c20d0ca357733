package repotest

import (
	"context"
	"fmt"
	"testing"

	"github.com/tollgate-dev/tollgate/engine/hclconf"
	"github.com/tollgate-dev/tollgate/engine/model"
	"github.com/tollgate-dev/tollgate/engine/policy"
	"github.com/tollgate-dev/tollgate/engine/secret"
)

// ExampleConfig is the config/ that `make run` serves, loaded.
func ExampleConfig(t testing.TB) *model.Config {
	t.Helper()
	cfg, diags := hclconf.LoadDir(Path(t, "config"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return cfg
}

// DefaultPolicy is the policies/ that `make run` serves, compiled.
func DefaultPolicy(t testing.TB) *policy.Policy {
	t.Helper()
	return CompilePolicies(t, Path(t, "policies"))
}

// CompilePolicies compiles the Rego policies of dir, with no data.
func CompilePolicies(t testing.TB, dir string) *policy.Policy {
	t.Helper()
	files, err := policy.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.Compile(context.Background(), files, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// ExampleConfigWith is ExampleConfig plus n generated clients, bench-000000
// on, each with a sha256 secret "s" and read on Server2: a store of a
// realistic size for benchmarks.
func ExampleConfigWith(t testing.TB, n int) *model.Config {
	t.Helper()
	cfg := ExampleConfig(t)
	for i := range n {
		cfg.Clients = append(cfg.Clients, &model.Client{
			ID: fmt.Sprintf("bench-%06d", i), AuthMethod: model.AuthClientSecretBasic,
			Secrets: []model.Secret{{Hash: secret.SHA256Hash("s")}},
			Access:  []model.Access{{Server: "Server2", Scopes: []string{"read"}}},
		})
	}
	return cfg
}
