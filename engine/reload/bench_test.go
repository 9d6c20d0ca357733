package reload_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/tollgate-dev/tollgate/engine/reload"
	"github.com/tollgate-dev/tollgate/engine/repotest"
	"github.com/tollgate-dev/tollgate/engine/secret"
)

// BenchmarkLoadSnapshot builds a whole snapshot from HCL files, as a
// reload does: parse, validate, store, compile the policies, decide every
// client's requests.
// The clients are spread over files of 100, as teams keep them.
func BenchmarkLoadSnapshot(b *testing.B) {
	for _, n := range []int{100, 10000} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			dir := b.TempDir()
			writeBenchHCL(b, dir, n)
			ctx := context.Background()
			src := reload.Sources{ConfigDir: dir, PoliciesDir: repotest.Path(b, "policies")}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := reload.Load(ctx, src, reload.NewKDFCache()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReloadSnapshot is a reload of 10,000 clients (101 files) as
// the server makes it, with its parse cache and from the snapshot it
// replaces, after an edit: of one file, as a commit usually makes, or of
// every file, as a new bundle may. An edit adds a client to the file or
// removes the one the last edit added, so every reload sees a change.
func BenchmarkReloadSnapshot(b *testing.B) {
	for _, edited := range []int{1, 101} {
		b.Run(fmt.Sprintf("edited=%d", edited), func(b *testing.B) {
			dir := b.TempDir()
			writeBenchHCL(b, dir, 10000)
			names, err := filepath.Glob(filepath.Join(dir, "*.hcl"))
			if err != nil || len(names) != 101 {
				b.Fatal(names, err)
			}
			files := map[string][]byte{}
			for _, name := range names {
				files[name] = read(b, name)
			}
			ctx := context.Background()
			src := reload.Sources{ConfigFiles: files, PoliciesDir: repotest.Path(b, "policies")}
			r := reloader(&src)
			defer r.Close()
			if _, _, err := r.Load(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				for j, name := range names[:edited] {
					extra := fmt.Appendf(nil, "client \"edit-%d\" {\n  secret { hash = %q }\n}\n", j, secret.SHA256Hash("edit"))
					if i%2 == 1 {
						files[name] = append(files[name], extra...)
					} else {
						files[name] = bytes.TrimSuffix(files[name], extra)
					}
				}
				if _, _, err := r.Reload(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
