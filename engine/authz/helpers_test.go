package authz_test

import (
	"context"
	"testing"

	"github.com/tollgate-dev/tollgate/engine/authz"
	"github.com/tollgate-dev/tollgate/engine/decide"
	"github.com/tollgate-dev/tollgate/engine/hclconf"
	"github.com/tollgate-dev/tollgate/engine/internal/repotest"
	"github.com/tollgate-dev/tollgate/engine/model"
	"github.com/tollgate-dev/tollgate/engine/policy"
	"github.com/tollgate-dev/tollgate/engine/reload"
	"github.com/tollgate-dev/tollgate/engine/store"
)

// exampleConfig is the config/ that `make run` serves.
func exampleConfig(t testing.TB) *model.Config {
	t.Helper()
	cfg, diags := hclconf.LoadDir(repotest.Path(t, "config"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return cfg
}

func defaultPolicy(t testing.TB) *policy.Policy {
	t.Helper()
	return compilePolicyDir(t, repotest.Path(t, "policies"))
}

func compilePolicyDir(t testing.TB, dir string) *policy.Policy {
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

func snapshot(t testing.TB, cfg *model.Config, pol *policy.Policy) *authz.Snapshot {
	t.Helper()
	st, err := store.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := authz.NewSnapshot(decide.New(st, pol), reload.NewKDFCache())
	if err != nil {
		t.Fatal(err)
	}
	return snap
}
