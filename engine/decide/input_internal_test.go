package decide

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/tollgate-dev/tollgate/engine/hclconf"
	"github.com/tollgate-dev/tollgate/engine/model"
	"github.com/tollgate-dev/tollgate/engine/policy"
	"github.com/tollgate-dev/tollgate/engine/repotest"
	"github.com/tollgate-dev/tollgate/engine/store"
)

// exampleDecider is the configuration and policies `make run` serves.
func exampleDecider(tb testing.TB) *Decider {
	tb.Helper()
	cfg, diags := hclconf.LoadDir(repotest.Path(tb, "config"))
	if diags.HasErrors() {
		tb.Fatal(diags)
	}
	files, err := policy.ReadDir(repotest.Path(tb, "policies"))
	if err != nil {
		tb.Fatal(err)
	}
	pol, err := policy.Compile(context.Background(), files, nil)
	if err != nil {
		tb.Fatal(err)
	}
	st, err := store.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return New(st, pol)
}

func inputJSON(t *testing.T, v ast.Value) []byte {
	t.Helper()
	doc, err := ast.JSON(v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(out, '\n')
}

// TestInputDocument: the policy input for requests to the example
// configuration, as the README documents it, is golden.
func TestInputDocument(t *testing.T) {
	snap := exampleDecider(t)
	for _, tc := range []struct {
		name string
		req  EvalRequest
	}{
		{"impersonation", EvalRequest{ClientID: "Client1", Scope: []string{"Server2"}}},
		{"audience-and-scope", EvalRequest{ClientID: "gift-deliveries", Audience: []string{"https://api.worldmappers.example"}, Scope: []string{"read:directions", "read:directions"}}},
		{"no-audience", EvalRequest{ClientID: "client1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, ok := snap.Store.Client(tc.req.ClientID)
			if !ok {
				t.Fatal("no client", tc.req.ClientID)
			}
			tc.req.AuthMethod = client.AuthMethod
			got := inputJSON(t, snap.inputs.input(snap.resolve(&tc.req, client)))
			repotest.Golden(t, repotest.Path(t, "testdata", "input", tc.name+".golden.json"), got)
		})
	}
}

// TestReachJoinsAccessByServer: reach unites a principal's own access
// and its groups' per server, scopes sorted and distinct, routes own
// access first and then the groups in order; an access block without
// scopes still reaches its server.
func TestReachJoinsAccessByServer(t *testing.T) {
	groups := []*model.Group{
		{ID: "g1", Access: []model.Access{{Server: "api", Scopes: []string{"write", "read"}}, {Server: "audit"}}},
		{ID: "g2", Access: []model.Access{{Server: "api", Scopes: []string{"admin"}}}},
	}
	own := []model.Access{{Server: "api", Scopes: []string{"read"}}, {Server: "ledger", Scopes: []string{"read:ledger"}}}
	for _, tc := range []struct {
		name   string
		own    []model.Access
		groups []*model.Group
		want   string
	}{
		{"nothing", nil, nil, `{}`},
		{"own access only", own, nil,
			`{"api":{"scopes":["read"],"via":["its own access"]},"ledger":{"scopes":["read:ledger"],"via":["its own access"]}}`},
		{"groups only", nil, groups,
			`{"api":{"scopes":["admin","read","write"],"via":["group g1","group g2"]},"audit":{"scopes":[],"via":["group g1"]}}`},
		{"both", own, groups,
			`{"api":{"scopes":["admin","read","write"],"via":["its own access","group g1","group g2"]},"audit":{"scopes":[],"via":["group g1"]},"ledger":{"scopes":["read:ledger"],"via":["its own access"]}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := ast.JSON(newInputBuilder(nil, model.Settings{}).reach(tc.own, tc.groups).Value)
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("reach:\n got %s\nwant %s", got, tc.want)
			}
		})
	}
	if got := groups[0].Access[0].Scopes; got[0] != "write" {
		t.Errorf("reach sorted the declaration's own scopes: %v", got)
	}
}

// BenchmarkBuildInput is the "build input" stage of a cache miss: the
// request's names resolved in the store and the policy input assembled
// around the client's, account's and servers' pre-built terms.
func BenchmarkBuildInput(b *testing.B) {
	snap := exampleDecider(b)
	client, _ := snap.Store.Client("Client1")
	req := &EvalRequest{ClientID: "Client1", Scope: []string{"Server2"}, AuthMethod: client.AuthMethod}
	snap.inputs.input(snap.resolve(req, client)) // the client's terms, built once per snapshot
	b.ReportAllocs()
	for b.Loop() {
		snap.inputs.input(snap.resolve(req, client))
	}
}
