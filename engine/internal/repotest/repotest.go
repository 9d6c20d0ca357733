// Package repotest finds the repository's own files for tests: the
// config/ and policies/ that `make run` serves, testdata/, interop/.
package repotest

import (
	"os"
	"path/filepath"
	"testing"
)

// Path joins elem to the module root, the nearest folder above the test's
// working directory that holds go.mod.
func Path(t testing.TB, elem ...string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(append([]string{dir}, elem...)...)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
}
