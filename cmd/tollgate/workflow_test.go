package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/engine/repotest"
)

// golden compares got with the file at testdata/<name>, or rewrites it
// under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	repotest.Golden(t, filepath.Join(repoRoot, "testdata", name), []byte(got))
}

// tollgateIn runs the command in-process in dir, as a user would there.
func tollgateIn(t *testing.T, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	t.Chdir(dir)
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, func(string) string { return "" }, strings.NewReader(""), &out, &errOut)
	code = exitCode(err, &errOut)
	return out.String(), errOut.String(), code
}

func copyFiles(t *testing.T, from, to string) {
	t.Helper()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		body, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// workspace is a base and a proposed configuration, each a folder holding
// config/ and policies/: testdata/plan/base/config with the default
// policies, the proposed one to be edited by the test.
func workspace(t *testing.T) (base, proposed string) {
	t.Helper()
	root := t.TempDir()
	for _, dir := range []string{"base", "proposed"} {
		copyFiles(t, filepath.Join(repoRoot, "testdata/plan/base/config"), filepath.Join(root, dir, "config"))
		copyFiles(t, filepath.Join(repoRoot, "policies"), filepath.Join(root, dir, "policies"))
	}
	return filepath.Join(root, "base"), filepath.Join(root, "proposed")
}

// edit replaces old with new in a file, which must hold old.
func edit(t *testing.T, path, old, new string) {
	t.Helper()
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(body, []byte(old)) {
		t.Fatalf("%s does not hold %q", path, old)
	}
	if err := os.WriteFile(path, bytes.Replace(body, []byte(old), []byte(new), 1), 0o644); err != nil {
		t.Fatal(err)
	}
}

// and the JSON sorted by client then server with SPEC §7's keys.
func TestAccess(t *testing.T) {
	dir := filepath.Join(repoRoot, "testdata/plan/base")
	for format, file := range map[string]string{"text": "plan/access.txt", "markdown": "plan/access.md", "mermaid": "plan/access.mmd", "dot": "plan/access.dot"} {
		out, errOut, code := tollgate(t, nil, "", "access", "--config", filepath.Join(dir, "config"), "--format", format)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", format, code, errOut)
		}
		golden(t, file, out)
	}
	out, _, code := tollgate(t, nil, "", "access", "--config", filepath.Join(dir, "config"), "--format", "json")
	if code != 0 {
		t.Fatal(out)
	}
	var doc struct {
		Entries []map[string]any `json:"entries"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || len(doc.Entries) == 0 {
		t.Fatalf("%v: %s", err, out)
	}
	var order []string
	for _, e := range doc.Entries {
		if got := sortedKeys(e); !reflect.DeepEqual(got, []string{"act", "audience", "client", "scope", "server", "subject", "ttl", "via"}) {
			t.Errorf("entry keys %v", got)
		}
		order = append(order, fmt.Sprint(e["client"], "\x00", e["server"]))
	}
	if !slices.IsSorted(order) {
		t.Errorf("entries not sorted by client then server: %q", order)
	}

	out, _, code = tollgate(t, nil, "", "access", "--config", filepath.Join(dir, "config"), "--client", "report-cli", "--format", "json")
	if code != 0 || strings.Count(out, `"client": "report-cli"`) != 2 || strings.Contains(out, "billing-batch") {
		t.Errorf("--client report-cli: exit %d\n%s", code, out)
	}
	if _, errOut, code := tollgate(t, nil, "", "access", "--config", filepath.Join(dir, "config"), "--client", "nobody"); code != 1 || !strings.Contains(errOut, `no client "nobody"`) {
		t.Errorf("--client nobody: exit %d, %s", code, errOut)
	}
}

// TestCheckEvaluatesEveryClient: a policy that compiles but fails at
// evaluation for one client among hundreds is a problem check prints with
// the policy's file:row:col and that client, exit 1; so is a decision
// that serve would refuse (a reserved claim).
func TestCheckEvaluatesEveryClient(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("server \"ledger-api\" {\n  scopes = [\"read\"]\n}\n")
	for c := range 500 {
		fmt.Fprintf(&b, "client \"client-%04d\" {\n  secret { hash = \"sha256:ffe2676820dba1760cca3813c1798d694f7f6bcc16daca9f002efe4590eb5f0f\" }\n  access \"ledger-api\" { scopes = [\"read\"] }\n}\n", c)
	}
	if err := os.MkdirAll(filepath.Join(dir, "config"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config/clients.hcl"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	policies := filepath.Join(dir, "policies")
	copyFiles(t, filepath.Join(repoRoot, "policies"), policies)
	if out, errOut, code := tollgate(t, nil, "", "check", "--config", filepath.Join(dir, "config"), "--policies", policies); code != 0 {
		t.Fatalf("the default policies: exit %d: %s%s", code, out, errOut)
	}
	copyFiles(t, filepath.Join(repoRoot, "testdata/policies/conflict-for-one-client"), policies)
	out, _, code := tollgate(t, nil, "", "check", "--config", filepath.Join(dir, "config"), "--policies", policies)
	// OPA names the rule it found the second value in, and both rules.
	want := regexp.MustCompile(`^` + regexp.QuoteMeta(policies) + `/(conflict|token)\.rego:\d+:\d+: error: eval_conflict_error: .*conflict\.rego:7.* \(client client-0042, no audience; and 1 more requests\)\n$`)
	if code != 1 || !want.MatchString(out) {
		t.Errorf("exit %d, output:\n%s\nwant one line matching %s", code, out, want)
	}

	out, _, code = tollgate(t, nil, "", "check", "--policies", "testdata/policies/reserved-claim")
	if code != 1 || !strings.Contains(out, `testdata/policies/reserved-claim/token.rego:7:1: error: malformed decision: claims may not set the reserved claim "sub"`) {
		t.Errorf("reserved claim: exit %d, output:\n%s", code, out)
	}
}
