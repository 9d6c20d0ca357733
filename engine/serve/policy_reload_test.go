package serve_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/engine/repotest"
	"github.com/tollgate-dev/tollgate/engine/serve"
)

// TestReloadRefusesAPolicyThatFailsForOneClient: a policy edit that
// compiles but fails at evaluation for one client only (the one check
// reports) is refused by the reload, with its file:row:col and the
// client in the log, and every client keeps the last good policy.
func TestReloadRefusesAPolicyThatFailsForOneClient(t *testing.T) {
	configDir := copyConfig(t)
	// The file sorts last, so client-0042 is not the first client loaded.
	writeFile(t, filepath.Join(configDir, "zz-client-0042.hcl"), extraClient("client-0042"))
	policies := t.TempDir()
	dir := repotest.Path(t, "policies")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		body, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(policies, e.Name()), string(body))
	}
	base, logs, _ := runServe(t, serve.Config{ConfigDir: configDir, PoliciesDir: policies, Watch: true})
	if got := tokenStatus(t, base, "client-0042", extraClientSecret); got != 200 {
		t.Fatalf("client-0042 before the edit: %d", got)
	}

	conflict, err := os.ReadFile(repotest.Path(t, "testdata", "policies", "conflict-for-one-client", "conflict.rego"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(policies, "conflict.rego"), string(conflict))
	eventually(t, "the reload is refused", func() bool { return strings.Contains(logs.String(), "reload failed") })
	if l := logs.String(); !strings.Contains(l, "eval_conflict_error") || !strings.Contains(l, "conflict.rego:7") || !strings.Contains(l, "client client-0042") {
		t.Errorf("the log should name the policy's place and the client:\n%s", l)
	}
	for id, secret := range map[string]string{"client-0042": extraClientSecret, "client1": client1Secret} {
		if got := tokenStatus(t, base, id, secret); got != 200 {
			t.Errorf("after the refused reload, %s gets %d", id, got)
		}
	}
}
