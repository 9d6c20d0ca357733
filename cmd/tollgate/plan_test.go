package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Edits of testdata/plan/base/config/access.hcl, as pull requests make them.
var (
	addMemberToGroup = [2]string{`members = ["svc-reports"]`, `members = ["svc-reports", "gift-deliveries"]`}
	removeAccess     = [2]string{"  access \"ledger-api\" {\n    scopes = [\"read:ledger\", \"write:ledger\"]\n  }\n}\n\nclient \"report-cli\"", "}\n\nclient \"report-cli\""}
	shortenLedgerTTL = [2]string{`scopes   = ["read:ledger", "write:ledger"]
}`, `scopes   = ["read:ledger", "write:ledger"]
  token_ttl = "15m"
}`}
)

func plan(t *testing.T, proposed string, args ...string) (string, string, int) {
	t.Helper()
	return tollgateIn(t, proposed, append([]string{"plan"}, args...)...)
}

// planJSON is the plan as JSON, decoded.
func planJSON(t *testing.T, proposed, base string) planOutput {
	t.Helper()
	out, errOut, code := plan(t, proposed, "--base", base, "--format", "json")
	if code != 0 {
		t.Fatalf("plan: exit %d: %s", code, errOut)
	}
	var p planOutput
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return p
}

type planEntry struct {
	Client, Server, Audience, Subject string
	Scope, Via                        []string
	Act                               *struct{ Sub string }
	TTL                               int64
}

type planOutput struct {
	Added, Removed []planEntry
	Changed        []struct{ Before, After planEntry }
}

// TestPlanShowsWhatAChangeDoes: each kind of pull request shows as the
// access it adds, removes or changes, with the route that grants it.
func TestPlanShowsWhatAChangeDoes(t *testing.T) {
	t.Run("adding a member to a group shows the new access with its route", func(t *testing.T) {
		base, proposed := workspace(t)
		edit(t, filepath.Join(proposed, "config/access.hcl"), addMemberToGroup[0], addMemberToGroup[1])
		p := planJSON(t, proposed, base)
		if len(p.Added) != 1 || len(p.Removed) != 0 || len(p.Changed) != 0 {
			t.Fatalf("plan %+v, want one added entry", p)
		}
		e := p.Added[0]
		if e.Client != "gift-deliveries" || e.Server != "ledger-api" || !slices.Equal(e.Scope, []string{"read:ledger"}) ||
			!slices.Equal(e.Via, []string{"group finance-readers"}) || e.Subject != "gift-deliveries" || e.TTL != 3600 {
			t.Errorf("added %+v", e)
		}
		out, _, _ := plan(t, proposed, "--base", base)
		if !strings.Contains(out, "  + gift-deliveries -> ledger-api\n") || !strings.Contains(out, "via      = group finance-readers") {
			t.Errorf("text plan:\n%s", out)
		}
	})
	t.Run("removing an access block shows the removal", func(t *testing.T) {
		base, proposed := workspace(t)
		edit(t, filepath.Join(proposed, "config/access.hcl"), removeAccess[0], removeAccess[1])
		p := planJSON(t, proposed, base)
		if len(p.Added) != 0 || len(p.Removed) != 1 || len(p.Changed) != 0 {
			t.Fatalf("plan %+v, want one removed entry", p)
		}
		if e := p.Removed[0]; e.Client != "billing-batch" || e.Server != "ledger-api" || !slices.Equal(e.Via, []string{"its own access"}) {
			t.Errorf("removed %+v", e)
		}
	})
	t.Run("a server's token_ttl changes the lifetime of every token for it", func(t *testing.T) {
		base, proposed := workspace(t)
		edit(t, filepath.Join(proposed, "config/access.hcl"), shortenLedgerTTL[0], shortenLedgerTTL[1])
		p := planJSON(t, proposed, base)
		if len(p.Changed) != 2 || len(p.Added)+len(p.Removed) != 0 {
			t.Fatalf("plan %+v, want two changed entries", p)
		}
		for _, c := range p.Changed {
			if c.Before.TTL != 3600 || c.After.TTL != 900 || c.After.Server != "ledger-api" {
				t.Errorf("changed %+v", c)
			}
		}
	})
	t.Run("editing only a policy shows its effect", func(t *testing.T) {
		base, proposed := workspace(t)
		for dir, policy := range map[string]string{base: "before", proposed: "after"} {
			if err := os.RemoveAll(filepath.Join(dir, "policies")); err != nil {
				t.Fatal(err)
			}
			copyFiles(t, filepath.Join(repoRoot, "testdata/plan/policy-edit", policy), filepath.Join(dir, "policies"))
		}
		p := planJSON(t, proposed, base)
		if len(p.Changed) != 2 || len(p.Added)+len(p.Removed) != 0 {
			t.Fatalf("plan %+v, want two changed entries", p)
		}
		for _, c := range p.Changed {
			if !slices.Contains(c.Before.Scope, "write:ledger") || slices.Contains(c.After.Scope, "write:ledger") ||
				!slices.Contains(c.After.Scope, "read:ledger") {
				t.Errorf("changed %+v, want write:ledger gone and read:ledger kept", c)
			}
		}
	})
	t.Run("a withhold rule of one's own shows as a changed entry", func(t *testing.T) {
		base, proposed := workspace(t)
		freeze, err := os.ReadFile(filepath.Join(repoRoot, "policies/examples/freeze_scope.rego"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(proposed, "policies/freeze_scope.rego"), freeze, 0o644); err != nil {
			t.Fatal(err)
		}
		p := planJSON(t, proposed, base)
		if len(p.Changed) != 1 || len(p.Added)+len(p.Removed) != 0 {
			t.Fatalf("plan %+v, want one changed entry", p)
		}
		c := p.Changed[0]
		if c.After.Client != "billing-batch" || c.After.Server != "ledger-api" ||
			!slices.Equal(c.Before.Scope, []string{"read:ledger", "write:ledger"}) || !slices.Equal(c.After.Scope, []string{"read:ledger"}) {
			t.Errorf("changed %+v, want billing-batch's write:ledger withheld", c)
		}
	})
	t.Run("impersonation shows as the subject and act", func(t *testing.T) {
		base, proposed := workspace(t)
		edit(t, filepath.Join(proposed, "config/access.hcl"), `members = ["svc-reports"]`, `members = []`)
		p := planJSON(t, proposed, base)
		if len(p.Removed) != 1 || p.Removed[0].Client != "report-cli" || p.Removed[0].Subject != "svc-reports" ||
			p.Removed[0].Act == nil || p.Removed[0].Act.Sub != "report-cli" {
			t.Fatalf("plan %+v, want report-cli's token as svc-reports removed", p)
		}
	})
}

// TestPlanGoldens: the text and Markdown of a plan with each kind of
// change, as a reviewer reads them.
func TestPlanGoldens(t *testing.T) {
	base, proposed := workspace(t)
	path := filepath.Join(proposed, "config/access.hcl")
	for _, e := range [][2]string{addMemberToGroup, removeAccess, shortenLedgerTTL} {
		edit(t, path, e[0], e[1])
	}
	for format, file := range map[string]string{"text": "plan/plan.txt", "markdown": "plan/plan.md"} {
		out, errOut, code := plan(t, proposed, "--base", base, "--format", format)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", format, code, errOut)
		}
		golden(t, file, out)
	}
	out, _, _ := plan(t, base, "--base", base, "--format", "markdown")
	golden(t, "plan/plan-none.md", out)
}

// TestPlanDetailedExitcode: 0 when the access is the same (a comment or a
// reordering changes nothing), 2 when it changed, 1 on an error.
func TestPlanDetailedExitcode(t *testing.T) {
	base, proposed := workspace(t)
	edit(t, filepath.Join(proposed, "config/access.hcl"), "# The base of the plan tests", "# An edit of a comment only.\n# The base of the plan tests")
	if out, errOut, code := plan(t, proposed, "--base", base, "--detailed-exitcode"); code != 0 || !strings.HasPrefix(out, "No changes") {
		t.Errorf("no change: exit %d, %s%s", code, out, errOut)
	}
	edit(t, filepath.Join(proposed, "config/access.hcl"), addMemberToGroup[0], addMemberToGroup[1])
	if _, errOut, code := plan(t, proposed, "--base", base, "--detailed-exitcode"); code != 2 {
		t.Errorf("a change: exit %d, want 2: %s", code, errOut)
	}
	if _, _, code := plan(t, proposed, "--base", base); code != 0 {
		t.Errorf("a change without --detailed-exitcode: exit %d, want 0", code)
	}
	edit(t, filepath.Join(base, "config/access.hcl"), `impersonators = ["report-cli"]`, `impersonators = ["nobody"]`)
	if _, errOut, code := plan(t, proposed, "--base", base, "--detailed-exitcode"); code != 1 || !strings.Contains(errOut, "does not load") || !strings.Contains(errOut, "access.hcl:") {
		t.Errorf("a base that does not load: exit %d, want 1 with its problems: %s", code, errOut)
	}
}

// TestPlanAgainstAGitRevision: --base git:REF reads the folders as they
// are at REF, in a repository the test makes, and leaves the work tree
// and the index as they were.
func TestPlanAgainstAGitRevision(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	repo := t.TempDir()
	gitIn := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+repo)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	copyFiles(t, filepath.Join(repoRoot, "testdata/plan/base/config"), filepath.Join(repo, "deploy/config"))
	copyFiles(t, filepath.Join(repoRoot, "policies"), filepath.Join(repo, "deploy/policies"))
	gitIn("init", "-q")
	gitIn("add", ".")
	gitIn("commit", "-q", "-m", "base")
	gitIn("branch", "base")
	path := filepath.Join(repo, "deploy/config/access.hcl")
	edit(t, path, removeAccess[0], removeAccess[1])
	gitIn("commit", "-q", "-am", "billing-batch loses the ledger")
	edit(t, path, addMemberToGroup[0], addMemberToGroup[1]) // not committed
	statusBefore := gitIn("status", "--porcelain")
	bodyBefore, _ := os.ReadFile(path)

	// From a subfolder, with the folders named as the user names them.
	sub := filepath.Join(repo, "deploy")
	out, errOut, code := tollgateIn(t, sub, "plan", "--base", "git:base", "--config", "config", "--policies", "policies", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var p planOutput
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Added) != 1 || p.Added[0].Client != "gift-deliveries" || len(p.Removed) != 1 || p.Removed[0].Client != "billing-batch" {
		t.Errorf("plan against git:base = %+v, want gift-deliveries added and billing-batch removed", p)
	}
	// Against HEAD only the uncommitted edit shows.
	out, _, code = tollgateIn(t, sub, "plan", "--base", "git:HEAD", "--config", "config", "--policies", "policies", "--detailed-exitcode")
	if code != 2 || !strings.Contains(out, "+ gift-deliveries -> ledger-api") || strings.Contains(out, "billing-batch") {
		t.Errorf("plan against git:HEAD: exit %d\n%s", code, out)
	}
	if status := gitIn("status", "--porcelain"); status != statusBefore {
		t.Errorf("git status changed:\n%s\nwas:\n%s", status, statusBefore)
	}
	if body, _ := os.ReadFile(path); !bytes.Equal(body, bodyBefore) {
		t.Error("the work tree's file changed")
	}
	if stashes := gitIn("stash", "list"); stashes != "" {
		t.Errorf("stashes: %s", stashes)
	}

	// A base whose files have problems names them REF:path.
	edit(t, path, `impersonators = ["report-cli"]`, `impersonators = ["nobody"]`)
	gitIn("commit", "-q", "-am", "broken")
	edit(t, path, `impersonators = ["nobody"]`, `impersonators = ["report-cli"]`)
	_, errOut, code = tollgateIn(t, sub, "plan", "--base", "git:HEAD", "--config", "config", "--policies", "policies")
	if code != 1 || !strings.Contains(errOut, "HEAD:deploy/config/access.hcl:") {
		t.Errorf("a broken base: exit %d, %s", code, errOut)
	}
	_, errOut, code = tollgateIn(t, sub, "plan", "--base", "git:no-such-branch")
	if code != 1 || !strings.Contains(errOut, "no such revision") {
		t.Errorf("an unknown revision: exit %d, %s", code, errOut)
	}
}

// TestPlanJSONShape: the JSON is SPEC §7's, key for key.
func TestPlanJSONShape(t *testing.T) {
	base, proposed := workspace(t)
	path := filepath.Join(proposed, "config/access.hcl")
	for _, e := range [][2]string{addMemberToGroup, removeAccess, shortenLedgerTTL} {
		edit(t, path, e[0], e[1])
	}
	out, _, code := plan(t, proposed, "--base", base, "--format", "json")
	if code != 0 {
		t.Fatal(out)
	}
	var doc map[string][]map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if got := sortedKeys(doc); !slices.Equal(got, []string{"added", "changed", "removed"}) {
		t.Fatalf("top-level keys %v", got)
	}
	entryKeys := []string{"act", "audience", "client", "scope", "server", "subject", "ttl", "via"}
	for _, kind := range []string{"added", "removed"} {
		for _, e := range doc[kind] {
			if got := sortedKeys(e); !slices.Equal(got, entryKeys) {
				t.Errorf("%s entry keys %v, want %v", kind, got, entryKeys)
			}
		}
	}
	for _, c := range doc["changed"] {
		if got := sortedKeys(c); !slices.Equal(got, []string{"after", "before"}) {
			t.Errorf("changed keys %v", got)
		}
		for _, side := range []string{"before", "after"} {
			if got := sortedKeys(c[side].(map[string]any)); !slices.Equal(got, entryKeys) {
				t.Errorf("changed %s keys %v", side, got)
			}
		}
	}
	out, _, _ = plan(t, base, "--base", base, "--format", "json")
	if strings.TrimSpace(out) != `{
  "added": [],
  "removed": [],
  "changed": []
}` {
		t.Errorf("an empty plan is %s", out)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// TestAccess: the effective access of the plan fixture in every format,
