package authz

import (
	"context"
	"testing"

	"github.com/tollgate-dev/tollgate/engine/hclconf"
	"github.com/tollgate-dev/tollgate/engine/policy"
)

// BenchmarkBuildInput is the "build input" stage of a cache miss: the
// request's names resolved in the store and the policy input assembled
// around the client's, account's and servers' pre-built terms.
func BenchmarkBuildInput(b *testing.B) {
	cfg, diags := hclconf.LoadDir("../../config")
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	files, err := policy.ReadDir("../../policies")
	if err != nil {
		b.Fatal(err)
	}
	pol, err := policy.Compile(context.Background(), files, nil)
	if err != nil {
		b.Fatal(err)
	}
	snap, err := NewSnapshot(cfg, pol, nil)
	if err != nil {
		b.Fatal(err)
	}
	client, _ := snap.Store.Client("Client1")
	req := &EvalRequest{ClientID: "Client1", Scope: []string{"Server2"}, AuthMethod: client.AuthMethod}
	snap.facts.input(snap.resolve(req, client)) // the client's terms, built once per snapshot
	b.ReportAllocs()
	for b.Loop() {
		snap.facts.input(snap.resolve(req, client))
	}
}
