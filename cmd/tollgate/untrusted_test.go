package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/engine/bundle"
	"github.com/tollgate-dev/tollgate/engine/repotest"
)

// deepHCL is the review's reproduction: a value nested 60,000 deep.
func deepHCL() string {
	const deep = 60000
	return "account \"deep\" {\n  attributes = { k = " + strings.Repeat("[", deep) + strings.Repeat("]", deep) + " }\n}\n"
}

// deepRego is a policy whose expression nests 20,000 deep (the parser
// takes it; compiling it would take minutes).
func deepRego() string {
	return "package tollgate.deep\n\nx := 1" + strings.Repeat(" + 1", 20000) + "\n"
}

// TestCheckReportsDeepNestingWithoutCrashing: check on a folder, and on a
// bundle, that holds nesting no person writes prints the problem as
// FILE:LINE:COL and exits 1, quickly, instead of dying of a stack
// overflow or compiling for minutes.
func TestCheckReportsDeepNestingWithoutCrashing(t *testing.T) {
	config := copyFolder(t, "config")
	if err := os.WriteFile(filepath.Join(config, "deep.hcl"), []byte(deepHCL()), 0o644); err != nil {
		t.Fatal(err)
	}
	policies := copyFolder(t, "policies")
	if err := os.WriteFile(filepath.Join(policies, "deep.rego"), []byte(deepRego()), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := bundle.ReadDirs(config, policies, "")
	if err != nil {
		t.Fatal(err)
	}
	deepBundle := filepath.Join(t.TempDir(), "deep.tar.gz")
	if _, err := bundle.WriteFile(deepBundle, src); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		args []string
		want []*regexp.Regexp
	}{
		{name: "folders", args: []string{"check", "--config", config, "--policies", policies}, want: []*regexp.Regexp{
			regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(filepath.Join(config, "deep.hcl")) + `:2:\d+: error: Nested too deeply`),
			regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(filepath.Join(policies, "deep.rego")) + `:3:\d+: .*nested too deeply`),
		}},
		{name: "a bundle", args: []string{"check", "--bundle", deepBundle}, want: []*regexp.Regexp{
			regexp.MustCompile(`(?m)^config/deep.hcl:2:\d+: error: Nested too deeply`),
			regexp.MustCompile(`(?m)^policies/deep.rego:3:\d+: .*nested too deeply`),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			stdout, stderr, code := tollgate(t, nil, "", tt.args...)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			for _, want := range tt.want {
				if !want.MatchString(stdout) {
					t.Errorf("the output lacks %s:\n%.2000s%.2000s", want, stdout, stderr)
				}
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("check took %v", took)
			}
		})
	}
}

// copyFolder copies a folder of the repository to one the test may change.
func copyFolder(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(repoRoot, dir))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	for _, e := range entries {
		if e.IsDir() { // policies/examples: not served
			continue
		}
		body, err := os.ReadFile(filepath.Join(repoRoot, dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, e.Name()), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestCheckSaysWhetherTheRevisionIsVerified: check names a built bundle's
// revision as is, marks any other revision unverified, and refuses a
// bundle changed after its build.
func TestCheckSaysWhetherTheRevisionIsVerified(t *testing.T) {
	dir := t.TempDir()
	built := filepath.Join(dir, "built.tar.gz")
	if _, _, code := tollgate(t, nil, "", "bundle", "build", "--out", built); code != 0 {
		t.Fatal("bundle build failed")
	}
	archive, err := os.ReadFile(built)
	if err != nil {
		t.Fatal(err)
	}
	b, err := bundle.Read(built)
	if err != nil {
		t.Fatal(err)
	}
	opaStyle := filepath.Join(dir, "opa-style.tar.gz")
	writeArchive(t, opaStyle, archive, ".manifest", `{"revision": "v7\n", "roots": ["tollgate"]}`)
	tampered := filepath.Join(dir, "tampered.tar.gz")
	writeArchive(t, tampered, archive, "config/settings.hcl", "settings {}\n")

	if stdout, _, code := tollgate(t, nil, "", "check", "--bundle", built); code != 0 || !strings.HasSuffix(stdout, "(revision "+b.Revision+")\n") {
		t.Errorf("a built bundle: exit %d %q", code, stdout)
	}
	if stdout, _, code := tollgate(t, nil, "", "check", "--bundle", opaStyle); code != 0 || !strings.HasSuffix(stdout, "(revision v7? (unverified))\n") {
		t.Errorf("another revision: exit %d %q", code, stdout)
	}
	if _, stderr, code := tollgate(t, nil, "", "check", "--bundle", tampered); code != 1 || !strings.Contains(stderr, "changed after it was built") {
		t.Errorf("a changed bundle: exit %d %q", code, stderr)
	}
}

// writeArchive writes the bundle archive to path with the file name (no
// leading slash) replaced by body.
func writeArchive(t *testing.T, path string, archive []byte, name, body string) {
	t.Helper()
	if err := os.WriteFile(path, repotest.ReplaceInArchive(t, archive, name, []byte(body)), 0o644); err != nil {
		t.Fatal(err)
	}
}
