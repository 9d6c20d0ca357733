package reload_test

import (
	"context"
	"maps"
	"testing"

	"github.com/tollgate-dev/tollgate/engine/decide"
	"github.com/tollgate-dev/tollgate/engine/policy"
	"github.com/tollgate-dev/tollgate/engine/reload"
	"github.com/tollgate-dev/tollgate/engine/repotest"
)

// reloader reloads whatever *src holds when it runs, as a server reloads
// its folders.
func reloader(src *reload.Sources) *reload.Reloader {
	return reload.NewReloader(reload.Options{Sources: func() (reload.Sources, error) { return *src, nil }})
}

// TestReloadKeepsAnUnchangedPolicy: a reload whose policies and data did
// not change serves the compiled policy it had, still deciding; an edit of
// a policy file, or new bundle data, compiles anew.
func TestReloadKeepsAnUnchangedPolicy(t *testing.T) {
	ctx := context.Background()
	configDir := repotest.Path(t, "config")
	policies, err := policy.ReadDir(repotest.Path(t, "policies"))
	if err != nil {
		t.Fatal(err)
	}
	src := reload.Sources{ConfigDir: configDir, PolicyFiles: policies}
	r := reloader(&src)
	first, _, err := r.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	again, _, err := r.Reload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again.Policy != first.Policy {
		t.Error("an unchanged policy was compiled again")
	}
	req := decide.EvalRequest{ClientID: "Client1", Scope: []string{"Server2"}}
	if ev, err := again.Evaluate(ctx, &req); err != nil || !ev.Decision.Allow || ev.Cached {
		t.Errorf("the kept policy decides %+v, %v; want a fresh allow", ev, err)
	}

	edited := maps.Clone(policies)
	for name, body := range edited {
		edited[name] = append([]byte("# edited\n"), body...)
		break
	}
	src.PolicyFiles = edited
	if recompiled, _, err := r.Reload(ctx); err != nil || recompiled.Policy == first.Policy {
		t.Errorf("an edited policy was not compiled again (err %v)", err)
	}
	src.PolicyFiles, src.Data = policies, map[string]any{"tenants": []any{"t1"}}
	if recompiled, _, err := r.Reload(ctx); err != nil || recompiled.Policy == first.Policy {
		t.Errorf("new data did not compile the policy again (err %v)", err)
	}
}
