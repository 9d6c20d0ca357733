package serve_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/engine/bundle"
	"github.com/tollgate-dev/tollgate/engine/policy"
	"github.com/tollgate-dev/tollgate/engine/repotest"
	"github.com/tollgate-dev/tollgate/engine/serve"
)

// deep is how deeply the hostile files nest: the review's reproduction
// (a value nested 60,000 deep) overflowed the parser's stack.
const deep = 60000

var (
	deepHCL  = "account \"deep\" {\n  attributes = { k = " + strings.Repeat("[", deep) + strings.Repeat("]", deep) + " }\n}\n"
	deepRego = "package tollgate.deep\n\nx := 1" + strings.Repeat(" + 1", 20000) + "\n"
	deepJSON = strings.Repeat("[", deep) + strings.Repeat("]", deep)
)

// TestReloadSurvivesDeepDeclarations: a declaration nested 60,000 deep,
// dropped into a served --config folder, is a failed reload logged at
// FILE:LINE:COL; the last good configuration keeps serving; a restart on
// the same folder refuses to start with the same words instead of dying.
func TestReloadSurvivesDeepDeclarations(t *testing.T) {
	dir := copyConfig(t)
	base, logs, _ := runServe(t, serve.Config{ConfigDir: dir, Watch: true})
	writeFile(t, filepath.Join(dir, "deep.hcl"), deepHCL)
	eventually(t, "the deep file is logged", func() bool {
		return strings.Contains(logs.String(), "reload failed") && strings.Contains(logs.String(), "deep.hcl:2:")
	})
	if !strings.Contains(logs.String(), "Nested too deeply") {
		t.Errorf("the log should say why:\n%.2000s", logs.String())
	}
	if got := tokenStatus(t, base, "client1", client1Secret); got != 200 {
		t.Errorf("after the deep file, client1 gets %d", got)
	}
	resp, err := http.Get(base + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/readyz after the deep file: %v %v", resp, err)
	}
	resp.Body.Close()

	_, err = serve.New(context.Background(), serve.Config{ConfigDir: dir, PoliciesDir: repotest.Path(t, "policies"), Addr: "127.0.0.1:0"}, &syncBuffer{})
	if err == nil || !strings.Contains(err.Error(), "deep.hcl:2:") || !strings.Contains(err.Error(), "Nested too deeply") {
		t.Errorf("a restart on the deep folder: %v", err)
	}
}

// TestReloadSurvivesHostileBundles: bundles of a few kilobytes that nest
// tens of thousands deep, in their declarations, policies, data or
// manifest, are each a failed reload with the reason in the log, and the
// last good bundle keeps serving; a good one deployed afterwards loads.
func TestReloadSurvivesHostileBundles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tollgate.tar.gz")
	buildBundle(t, repotest.Path(t, "config"), path)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	base, logs, _ := runServe(t, serve.Config{Bundle: path, Watch: true})
	// Declarations and policies go through bundle.Write, as a build would,
	// so the revision matches; data and the manifest are written by hand.
	built := func(file, body string) func() []byte {
		return func() []byte {
			config, policies := copyConfig(t), copyPolicies(t)
			dir := config
			if strings.HasSuffix(file, ".rego") {
				dir = policies
			}
			writeFile(t, filepath.Join(dir, file), body)
			src, err := bundle.ReadDirs(config, policies, "")
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if _, err := bundle.Write(&out, src); err != nil {
				t.Fatal(err)
			}
			return out.Bytes()
		}
	}
	handmade := func(file, body string) func() []byte {
		return func() []byte { return repotest.ReplaceInArchive(t, good, file, []byte(body)) }
	}
	tests := []struct {
		name  string
		build func() []byte
		want  []string
	}{
		{name: "declarations", build: built("deep.hcl", deepHCL), want: []string{"config/deep.hcl:2:", "Nested too deeply"}},
		{name: "a policy", build: built("deep.rego", deepRego), want: []string{"policies/deep.rego:3:", "nested too deeply"}},
		{name: "data", build: handmade("data.json", `{"tollgate": {"deep": `+deepJSON+`}}`), want: []string{"data.json", "exceeded max depth"}},
		{name: "the manifest", build: handmade(".manifest", `{"revision": "x", "metadata": {"deep": `+deepJSON+`}}`), want: []string{"manifest", "exceeded max depth"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hostile := tt.build()
			if len(hostile) > 16<<10 {
				t.Fatalf("the hostile bundle is %d bytes", len(hostile))
			}
			before := len(logs.String())
			writeFile(t, path, string(hostile))
			eventually(t, "the failed reload is logged", func() bool {
				return strings.Contains(logs.String()[before:], "reload failed")
			})
			for _, want := range tt.want {
				if !strings.Contains(logs.String()[before:], want) {
					t.Errorf("the log lacks %q:\n%.2000s", want, logs.String()[before:])
				}
			}
			if got := tokenStatus(t, base, "client1", client1Secret); got != 200 {
				t.Errorf("after the hostile bundle, client1 gets %d", got)
			}
		})
	}
	config := copyConfig(t)
	writeFile(t, filepath.Join(config, "added.hcl"), extraClient("added-client"))
	buildBundle(t, config, path)
	eventually(t, "a good bundle loads again", func() bool { return tokenStatus(t, base, "added-client", extraClientSecret) == 200 })
}

// copyPolicies copies the policies that serve (no tests) to a temporary
// folder the test may change.
func copyPolicies(t *testing.T) string {
	t.Helper()
	files, err := policy.ReadDir(repotest.Path(t, "policies"))
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dst, filepath.Base(name)), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// TestServeChecksTheBundleRevision: a bundle whose policy was swapped for
// allow-all after its build keeps its revision, which no longer names
// its contents: serve refuses to start on it, and a reload to it fails
// and keeps the last good bundle. A bundle whose revision is not a
// content hash (opa build's) serves, logged as unverified.
func TestServeChecksTheBundleRevision(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tollgate.tar.gz")
	revision := buildBundle(t, repotest.Path(t, "config"), path)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	allowAll, err := os.ReadFile(repotest.Path(t, "testdata/policies/allow-all/token.rego"))
	if err != nil {
		t.Fatal(err)
	}
	tampered := repotest.ReplaceInArchive(t, good, "policies/token.rego", allowAll)
	tamperedPath := filepath.Join(t.TempDir(), "tampered.tar.gz")
	writeFile(t, tamperedPath, string(tampered))

	_, err = serve.New(context.Background(), serve.Config{Bundle: tamperedPath, Addr: "127.0.0.1:0"}, &syncBuffer{})
	if !errors.Is(err, bundle.ErrRevisionMismatch) || !strings.Contains(err.Error(), revision) {
		t.Errorf("serving the tampered bundle: %v", err)
	}

	base, logs, _ := runServe(t, serve.Config{Bundle: path, Watch: true})
	if !strings.Contains(logs.String(), "revision="+revision) {
		t.Errorf("the start log should name the verified revision %s:\n%s", revision, logs.String())
	}
	writeFile(t, path, string(tampered))
	eventually(t, "the tampered bundle is refused", func() bool {
		return strings.Contains(logs.String(), "reload failed") && strings.Contains(logs.String(), "the bundle was changed after it was built")
	})
	// allow-all would give client1 any audience; the served policy does not.
	resp := tokenRequest(t, base, "client1", client1Secret, "audience=Server2")
	if resp == 200 {
		t.Error("the tampered allow-all policy is being served")
	}

	unverified := repotest.ReplaceInArchive(t, good, ".manifest", []byte(`{"revision": "v1.2.3", "roots": ["tollgate"], "rego_version": 1}`))
	writeFile(t, path, string(unverified))
	eventually(t, "the unverified bundle loads", func() bool { return strings.Contains(logs.String(), `revision="v1.2.3 (unverified)"`) })
}

// tokenRequest posts a token request with Basic credentials and the
// extra form fields, and returns the status.
func tokenRequest(t *testing.T, base, id, pass, form string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/oauth2/token", strings.NewReader("grant_type=client_credentials&"+form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
