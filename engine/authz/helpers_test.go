package authz_test

import (
	"testing"

	"github.com/tollgate-dev/tollgate/engine/authz"
	"github.com/tollgate-dev/tollgate/engine/decide"
	"github.com/tollgate-dev/tollgate/engine/model"
	"github.com/tollgate-dev/tollgate/engine/policy"
	"github.com/tollgate-dev/tollgate/engine/reload"
	"github.com/tollgate-dev/tollgate/engine/store"
)

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
