package reload_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tollgate-dev/tollgate/engine/decide"
	"github.com/tollgate-dev/tollgate/engine/policy"
	"github.com/tollgate-dev/tollgate/engine/reload"
	"github.com/tollgate-dev/tollgate/engine/repotest"
	"github.com/tollgate-dev/tollgate/engine/secret"
)

// manyClients is the HCL of n clients client-0000..., each with access to
// one of three servers, one in five in a group.
func manyClients(n int, skip ...string) map[string][]byte {
	var b strings.Builder
	for s := range 3 {
		fmt.Fprintf(&b, "server \"server-%d\" {\n  scopes = [\"read\", \"write\"]\n}\n", s)
	}
	fmt.Fprintf(&b, "group \"writers\" {\n  members = [")
	for c := 0; c < n; c += 5 {
		if !slices.Contains(skip, fmt.Sprintf("client-%04d", c)) {
			fmt.Fprintf(&b, "%q, ", fmt.Sprintf("client-%04d", c))
		}
	}
	b.WriteString("]\n  access \"server-0\" { scopes = [\"write\"] }\n}\n")
	hash := secret.SHA256Hash("sweep-test-secret")
	for c := range n {
		id := fmt.Sprintf("client-%04d", c)
		if slices.Contains(skip, id) {
			continue
		}
		fmt.Fprintf(&b, "client %q {\n  secret { hash = %q }\n  access \"server-%d\" { scopes = [\"read\"] }\n}\n", id, hash, c%3)
	}
	return map[string][]byte{"clients.hcl": []byte(b.String())}
}

// policiesWith is the default policies plus the .rego files of the
// testdata/policies folder named extra.
func policiesWith(t *testing.T, extra string) map[string][]byte {
	t.Helper()
	files, err := policy.ReadDir(repotest.Path(t, "policies"))
	if err != nil {
		t.Fatal(err)
	}
	added, err := policy.ReadDir(repotest.Path(t, "testdata", "policies", extra))
	if err != nil {
		t.Fatal(err)
	}
	maps.Copy(files, added)
	return files
}

// TestLoadRefusesAPolicyThatFailsForOneClient: a policy that compiles and
// decides every client but one never loads, and the one problem names the
// policy file:row:col, the client and the request.
func TestLoadRefusesAPolicyThatFailsForOneClient(t *testing.T) {
	_, err := reload.Load(context.Background(), reload.Sources{
		ConfigFiles: manyClients(300),
		PolicyFiles: policiesWith(t, "conflict-for-one-client"),
	}, nil)
	var le *reload.LoadError
	if !errors.As(err, &le) || len(le.Evaluation) != 1 {
		t.Fatalf("Load error = %v, want one evaluation problem", err)
	}
	p := le.Evaluation[0]
	// client-0042 is asked about with no audience and for server-0.
	if p.Client != "client-0042" || p.More != 1 || !strings.Contains(p.Message, "eval_conflict_error") || p.Line < 1 || p.Col < 1 {
		t.Errorf("problem = %+v, want client-0042's conflict with its place", p)
	}
	line := p.String()
	if !strings.Contains(line, fmt.Sprintf("%s:%d:%d: error: eval_conflict_error", p.File, p.Line, p.Col)) ||
		!strings.Contains(line, "client client-0042, no audience; and 1 more requests") {
		t.Errorf("printed as %q", line)
	}
}

// TestReloadDecidesAClientThatChanged: a reload that keeps the compiled
// policy decides again only what may differ, and that still includes a
// client the edit added.
func TestReloadDecidesAClientThatChanged(t *testing.T) {
	ctx := context.Background()
	src := reload.Sources{ConfigFiles: manyClients(100, "client-0042"), PolicyFiles: policiesWith(t, "conflict-for-one-client")}
	r := reloader(&src)
	if _, _, err := r.Load(ctx); err != nil {
		t.Fatalf("without client-0042: %v", err)
	}
	if _, _, err := r.Reload(ctx); err != nil {
		t.Fatalf("the same again: %v", err)
	}
	src.ConfigFiles = manyClients(100)
	_, _, err := r.Reload(ctx)
	var le *reload.LoadError
	if !errors.As(err, &le) || len(le.Evaluation) != 1 || le.Evaluation[0].Client != "client-0042" {
		t.Fatalf("reload adding client-0042: %v, want its conflict", err)
	}
}

// TestCheckRefusesAReservedClaim: check runs what serve runs, so a policy
// whose decision sets a reserved claim, which serve refuses to start with,
// fails check too, at the decision rule.
func TestCheckRefusesAReservedClaim(t *testing.T) {
	dir := repotest.Path(t, "testdata", "policies", "reserved-claim")
	_, _, err := reload.Check(context.Background(), reload.Sources{ConfigDir: repotest.Path(t, "config"), PoliciesDir: dir})
	var le *reload.LoadError
	if !errors.As(err, &le) || len(le.Evaluation) != 1 {
		t.Fatalf("Check error = %v, want one evaluation problem", err)
	}
	p := le.Evaluation[0]
	if p.File != filepath.Join(dir, "token.rego") || p.Line != 7 || !strings.Contains(p.Message, `reserved claim "sub"`) {
		t.Errorf("problem = %v, want the reserved claim at token.rego:7", p)
	}
}

// TestSweepProbesEveryReachableServer: a sweep asks, for every client,
// for no audience and for each server its declarations reach, with the
// routes that reach it, the impersonated account's included.
func TestSweepProbesEveryReachableServer(t *testing.T) {
	snap, err := reload.Load(context.Background(), reload.Sources{ConfigDir: repotest.Path(t, "config"), PoliciesDir: repotest.Path(t, "policies")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[string]string{}
	err = snap.Sweep(context.Background(), 0, func(r *decide.ProbeResult) {
		if r.Err != nil {
			t.Errorf("%s: %v", r.Client.ID, r.Err)
			return
		}
		server := "(none)"
		if r.Server != nil {
			server = r.Server.ID
		}
		mu.Lock()
		defer mu.Unlock()
		got[r.Client.ID+" "+server] = fmt.Sprintf("%v %v", r.Evaluation.Decision.Allow, r.Via)
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"Client1 (none)":                "true []",
		"Client1 Server1":               "true [its own access account User1 through group Group1]",
		"Client1 Server2":               "true [its own access account User1 through group Group2]",
		"gift-deliveries (none)":        "true []",
		"gift-deliveries world-mappers": "true [its own access]",
	}
	for key, w := range want {
		if got[key] != w {
			t.Errorf("%s: %q, want %q", key, got[key], w)
		}
	}
}

// TestReloadDecidesWhatAnEditTouches: a reload that kept the compiled
// policy decides again the clients an edit of a group or an account
// touches, though their own declarations did not change.
func TestReloadDecidesWhatAnEditTouches(t *testing.T) {
	hash := secret.SHA256Hash("sweep-test-secret")
	base := fmt.Sprintf(`server "orders" {
  scopes = ["read"]
}
client "shop" {
  secret { hash = %q }
  access "orders" { scopes = ["read"] }
}
client "report-cli" {
  secret { hash = %q }
  access "orders" { scopes = ["read"] }
  impersonate = "svc-reports"
}
account "svc-reports" {
  impersonators = ["report-cli"]
}
`, hash, hash)
	tests := []struct {
		name, before, after, client string
	}{
		{"a new group with an unchanged client", "", `group "auditors" { members = ["shop"] }`, "shop"},
		{"a member added to a group", `group "auditors" { members = [] }`, `group "auditors" { members = ["shop"] }`, "shop"},
		{"the impersonated account added to a group", `group "auditors" { members = [] }`, `group "auditors" { members = ["svc-reports"] }`, "report-cli"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			src := reload.Sources{
				ConfigFiles: map[string][]byte{"base.hcl": []byte(base), "groups.hcl": []byte(tt.before + "\n")},
				PolicyFiles: policiesWith(t, "conflict-for-auditors"),
			}
			r := reloader(&src)
			if _, _, err := r.Load(ctx); err != nil {
				t.Fatalf("before the edit: %v", err)
			}
			src.ConfigFiles = map[string][]byte{"base.hcl": []byte(base), "groups.hcl": []byte(tt.after + "\n")}
			_, _, err := r.Reload(ctx)
			var le *reload.LoadError
			if !errors.As(err, &le) || len(le.Evaluation) == 0 {
				t.Fatalf("the reload: %v, want %s's conflict", err, tt.client)
			}
			for _, p := range le.Evaluation {
				if p.Client != tt.client {
					t.Errorf("problem %v, want one of %s", p, tt.client)
				}
			}
		})
	}
}
