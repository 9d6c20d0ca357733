package reload_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/engine/secret"
)

// writeBenchHCL writes n clients (one in ten impersonating an account),
// 100 servers and 20 groups, in files of at most 100 clients.
func writeBenchHCL(b *testing.B, dir string, n int) {
	hash := secret.SHA256Hash("bench-secret")
	var sb strings.Builder
	for s := range 100 {
		fmt.Fprintf(&sb, "server \"server-%03d\" {\n  audience = \"https://api-%03d.example\"\n  scopes = [\"read\", \"write\"]\n}\n", s, s)
	}
	for g := range 20 {
		fmt.Fprintf(&sb, "group \"group-%02d\" {\n  members = [\"client-%05d\", \"account-%05d\"]\n  access \"server-%03d\" { scopes = [\"write\"] }\n}\n", g, g%n, (g*10)%n, g)
	}
	write(b, filepath.Join(dir, "servers.hcl"), sb.String())
	for first := 0; first < n; first += 100 {
		sb.Reset()
		for c := first; c < min(first+100, n); c++ {
			fmt.Fprintf(&sb, "client \"client-%05d\" {\n  secret { hash = %q }\n  access \"server-%03d\" { scopes = [\"read\"] }\n", c, hash, c%100)
			if c%10 == 0 {
				fmt.Fprintf(&sb, "  impersonate = \"account-%05d\"\n", c)
			}
			sb.WriteString("}\n")
			if c%10 == 0 {
				fmt.Fprintf(&sb, "account \"account-%05d\" {\n  impersonators = [\"client-%05d\"]\n}\n", c, c)
			}
		}
		write(b, filepath.Join(dir, fmt.Sprintf("clients-%05d.hcl", first)), sb.String())
	}
}

func write(b *testing.B, path, content string) {
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		b.Fatal(err)
	}
}

func read(b *testing.B, path string) []byte {
	src, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	return src
}
