package access_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/engine/access"
	"github.com/tollgate-dev/tollgate/engine/reload"
	"github.com/tollgate-dev/tollgate/engine/repotest"
	"github.com/tollgate-dev/tollgate/engine/secret"
)

// writeFleet writes the configuration `make bench` serves (bench/load):
// 100 servers, 20 groups, n clients in files of 100, each with access to
// two servers, one in ten impersonating an account that is in a group.
func writeFleet(b *testing.B, dir string, n int) {
	const servers = 100
	var sb strings.Builder
	for s := 1; s <= servers; s++ {
		fmt.Fprintf(&sb, "server \"server-%03d\" {\n  audience = \"https://api-%03d.example\"\n  scopes = [\"read\", \"write\", \"admin\"]\n}\n", s, s)
	}
	groups := servers / 5
	for g := 1; g <= groups; g++ {
		var members []string
		for c := g; c <= n; c += groups * 3 {
			members = append(members, fmt.Sprintf("%q", fmt.Sprintf("client-%05d", c)))
		}
		for a := g; a <= n/10; a += groups {
			members = append(members, fmt.Sprintf("%q", fmt.Sprintf("account-%05d", a)))
		}
		fmt.Fprintf(&sb, "group \"group-%03d\" {\n  members = [%s]\n  access \"server-%03d\" { scopes = [\"read\", \"write\"] }\n}\n",
			g, strings.Join(members, ", "), (g*5)%servers+1)
	}
	writeFile(b, filepath.Join(dir, "servers.hcl"), sb.String())
	hash := secret.SHA256Hash("bench-secret")
	for first := 1; first <= n; first += 100 {
		sb.Reset()
		for c := first; c < first+100 && c <= n; c++ {
			fmt.Fprintf(&sb, "client \"client-%05d\" {\n  secret { hash = %q }\n", c, hash)
			fmt.Fprintf(&sb, "  access \"server-001\" { scopes = [\"read\"] }\n  access \"server-%03d\" { scopes = [\"read\", \"write\"] }\n", c%(servers-1)+2)
			if c%10 == 0 {
				fmt.Fprintf(&sb, "  impersonate = \"account-%05d\"\n", c/10)
			}
			sb.WriteString("}\n")
			if c%10 == 0 {
				fmt.Fprintf(&sb, "account \"account-%05d\" {\n  impersonators = [\"client-%05d\"]\n}\n", c/10, c)
			}
		}
		writeFile(b, filepath.Join(dir, fmt.Sprintf("clients-%05d.hcl", first)), sb.String())
	}
}

func writeFile(b *testing.B, path, body string) {
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkAccess computes the effective access of 10,000 clients and 100
// servers, as `tollgate access` does: load (with its checks) and one
// decision per client and server it reaches, plus its own token.
func BenchmarkAccess(b *testing.B) {
	dir := b.TempDir()
	writeFleet(b, dir, 10000)
	src := reload.Sources{ConfigDir: dir, PoliciesDir: repotest.Path(b, "policies")}
	var entries int
	for b.Loop() {
		t, err := access.Load(context.Background(), src)
		if err != nil {
			b.Fatal(err)
		}
		entries = len(t.Entries)
	}
	b.ReportMetric(float64(entries), "entries")
}

// BenchmarkPlan is `tollgate plan` on 10,000 clients and 100 servers: the
// effective access of a base and of a proposal that moves ten clients
// into a group, and their diff.
func BenchmarkPlan(b *testing.B) {
	baseDir, proposedDir := b.TempDir(), b.TempDir()
	writeFleet(b, baseDir, 10000)
	writeFleet(b, proposedDir, 10000)
	path := filepath.Join(proposedDir, "servers.hcl")
	body, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	writeFile(b, path, strings.Replace(string(body), `members = ["client-00001", `,
		`members = ["client-00002", "client-00003", "client-00004", "client-00005", "client-00006", "client-00007", "client-00008", "client-00009", "client-00010", "client-00011", "client-00001", `, 1))
	policies := repotest.Path(b, "policies")
	ctx := context.Background()
	var changes int
	for b.Loop() {
		base, err := access.Load(ctx, reload.Sources{ConfigDir: baseDir, PoliciesDir: policies})
		if err != nil {
			b.Fatal(err)
		}
		proposed, err := access.Load(ctx, reload.Sources{ConfigDir: proposedDir, PoliciesDir: policies})
		if err != nil {
			b.Fatal(err)
		}
		p := access.Diff(base, proposed)
		changes = len(p.Added) + len(p.Removed) + len(p.Changed)
	}
	if changes == 0 {
		b.Fatal("the proposal changes nothing")
	}
	b.ReportMetric(float64(changes), "changes")
}
