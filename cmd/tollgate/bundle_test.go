package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/engine/bundle"
)

var wroteBundle = regexp.MustCompile(`^wrote (\S+) \(revision (sha256:[0-9a-f]{64})\)\n$`)

// TestBundleBuildThenCheckAndEval: `make bundle`'s command writes a
// reproducible bundle that check and eval accept as they accept the
// folders.
func TestBundleBuildThenCheckAndEval(t *testing.T) {
	out := filepath.Join(t.TempDir(), "tollgate.tar.gz")
	stdout, stderr, code := tollgate(t, nil, "", "bundle", "build", "--config", "config", "--policies", "policies", "--out", out)
	m := wroteBundle.FindStringSubmatch(stdout)
	if code != 0 || m == nil || m[1] != out {
		t.Fatalf("bundle build: exit %d %q %q", code, stdout, stderr)
	}
	revision := m[2]
	first, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if stdout, _, code := tollgate(t, nil, "", "bundle", "build", "--out", out); code != 0 || !strings.Contains(stdout, revision) {
		t.Fatalf("the second build: exit %d %q", code, stdout)
	}
	if second, _ := os.ReadFile(out); !bytes.Equal(first, second) {
		t.Error("two builds of the same folders differ")
	}
	b, err := bundle.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	for name := range b.Files.Policies {
		if strings.HasSuffix(name, "_test.rego") {
			t.Errorf("the bundle holds the test %s", name)
		}
	}

	stdout, stderr, code = tollgate(t, nil, "", "check", "--bundle", out)
	if want := "ok: " + out + " is valid (revision " + revision + ")\n"; code != 0 || stdout != want {
		t.Errorf("check --bundle: exit %d %q %q, want %q", code, stdout, stderr, want)
	}

	stdout, stderr, code = tollgate(t, nil, "", "eval", "--bundle", out, "--client", "Client1", "--scope", "Server2")
	var decision struct {
		Allow   bool   `json:"allow"`
		Subject string `json:"subject"`
	}
	if err := json.Unmarshal([]byte(stdout), &decision); code != 0 || err != nil || !decision.Allow || decision.Subject != "User1" {
		t.Errorf("eval --bundle: exit %d %q %q %v", code, stdout, stderr, err)
	}
}

// TestBundleBuildRefusesWhatCheckRefuses: a configuration check rejects is
// never packed: the same FILE:LINE:COL problems, exit 1, no file.
func TestBundleBuildRefusesWhatCheckRefuses(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		golden string
		want   string
	}{
		{name: "a plain secret", args: []string{"--config", "testdata/hcl/broken/plain-secret"}, golden: "testdata/hcl/broken/plain-secret/expected.golden"},
		{name: "a syntax error", args: []string{"--config", "testdata/hcl/broken/syntax-error"}, golden: "testdata/hcl/broken/syntax-error/expected.golden"},
		{name: "many problems", args: []string{"--config", "testdata/hcl/broken/multiple-errors-at-once"}, golden: "testdata/hcl/broken/multiple-errors-at-once/expected.golden"},
		{name: "a policy that does not compile", args: []string{"--policies", "testdata/policies/broken"}, want: "testdata/policies/broken/token.rego:"},
		{name: "data that is not an object", args: []string{"--data", "go.mod"}, want: "must be a JSON object"},
		{name: "no declarations", args: []string{"--config", "testdata/policies/allow-all"}, want: "no .hcl files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "tollgate.tar.gz")
			stdout, stderr, code := tollgate(t, nil, "", append([]string{"bundle", "build", "--out", out}, tt.args...)...)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if tt.golden != "" {
				want, err := os.ReadFile(filepath.Join(repoRoot, tt.golden))
				if err != nil {
					t.Fatal(err)
				}
				if stdout != string(want) {
					t.Errorf("output:\n%s\nwant, as check prints it:\n%s", stdout, want)
				}
			}
			if !strings.Contains(stdout+stderr, tt.want) {
				t.Errorf("output %q %q, want %q", stdout, stderr, tt.want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("a bundle was written: %v", err)
			}
		})
	}
}

// TestCheckBundleNamesFilesInsideIt: problems in a bundle built some other
// way are reported by their names inside the bundle.
func TestCheckBundleNamesFilesInsideIt(t *testing.T) {
	src, err := bundle.ReadDirs(filepath.Join(repoRoot, "testdata/hcl/broken/plain-secret"), filepath.Join(repoRoot, "policies"), "")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "broken.tar.gz")
	if _, err := bundle.WriteFile(out, src); err != nil {
		t.Fatal(err)
	}
	stdout, _, code := tollgate(t, nil, "", "check", "--bundle", out)
	if code != 1 || !strings.HasPrefix(stdout, "config/main.hcl:2:19: error: Invalid secret hash") {
		t.Errorf("exit %d, output %q", code, stdout)
	}
	garbage := filepath.Join(t.TempDir(), "garbage.tar.gz")
	if err := os.WriteFile(garbage, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := tollgate(t, nil, "", "check", "--bundle", garbage)
	if code != 1 || !strings.Contains(stderr, "not a .tar.gz file") {
		t.Errorf("a file that is not a bundle: exit %d %q", code, stderr)
	}
}

// TestBundleOrFolders: --bundle and --config/--policies exclude each other;
// the command line wins over the environment, as for every flag.
func TestBundleOrFolders(t *testing.T) {
	out := filepath.Join(t.TempDir(), "tollgate.tar.gz")
	if _, _, code := tollgate(t, nil, "", "bundle", "build", "--out", out); code != 0 {
		t.Fatal("bundle build failed")
	}
	bundleOK := "ok: " + out + " is valid"
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{name: "both on the command line", args: []string{"--bundle", out, "--config", "config"}, want: "--bundle and --config are both given"},
		{name: "both in the environment", env: map[string]string{"TOLLGATE_BUNDLE": out, "TOLLGATE_POLICIES": "policies"},
			want: "TOLLGATE_BUNDLE and TOLLGATE_POLICIES are both given"},
		{name: "--config wins over TOLLGATE_BUNDLE", env: map[string]string{"TOLLGATE_BUNDLE": out}, args: []string{"--config", "testdata/hcl/good"},
			want: "ok: testdata/hcl/good and ./policies are valid"},
		{name: "--bundle wins over TOLLGATE_CONFIG", env: map[string]string{"TOLLGATE_CONFIG": "nowhere"}, args: []string{"--bundle", out}, want: bundleOK},
		{name: "TOLLGATE_BUNDLE", env: map[string]string{"TOLLGATE_BUNDLE": out}, want: bundleOK},
		{name: "the defaults are not given", args: []string{"--bundle", out}, want: bundleOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, _ := tollgate(t, tt.env, "", append([]string{"check"}, tt.args...)...)
			if !strings.Contains(stdout+stderr, tt.want) {
				t.Errorf("output %q %q, want %q", stdout, stderr, tt.want)
			}
		})
	}

	// serve reads TOLLGATE_BUNDLE too, and refuses both before it starts.
	_, stderr, code := tollgate(t, map[string]string{"TOLLGATE_BUNDLE": filepath.Join(t.TempDir(), "missing.tar.gz")}, "", "serve", "--addr", "127.0.0.1:0")
	if code != 1 || !strings.Contains(stderr, "missing.tar.gz") {
		t.Errorf("serve with TOLLGATE_BUNDLE naming a missing file: exit %d %q", code, stderr)
	}
	_, stderr, code = tollgate(t, nil, "", "serve", "--addr", "127.0.0.1:0", "--bundle", out, "--policies", "policies")
	if code != 1 || !strings.Contains(stderr, "--bundle and --policies are both given") {
		t.Errorf("serve --bundle --policies: exit %d %q", code, stderr)
	}
}
