package bundle_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tollgate-dev/tollgate/engine/bundle"
	"github.com/tollgate-dev/tollgate/engine/reload"
	"github.com/tollgate-dev/tollgate/engine/repotest"
)

// These tests run the opa CLI pinned in go.mod (go tool opa): OPA must
// verify the bundles tollgate signs, and tollgate those OPA signs.

var (
	opaOnce sync.Once
	opaPath string
	opaErr  error
)

// opaCLI returns the path of the pinned opa binary, built by the go
// command once; it skips the test only when there is no go command.
func opaCLI(t *testing.T) string {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to run the pinned opa CLI (go tool opa)")
	}
	opaOnce.Do(func() {
		cmd := exec.Command(goCmd, "tool", "-n", "opa")
		cmd.Dir = repotest.Path(t)
		var out, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &stderr
		if opaErr = cmd.Run(); opaErr != nil {
			opaErr = errors.New(opaErr.Error() + ": " + stderr.String())
		}
		opaPath = strings.TrimSpace(out.String())
	})
	if opaErr != nil {
		t.Fatalf("go tool -n opa: %v", opaErr)
	}
	return opaPath
}

// opa runs the opa CLI in dir with stdin and returns its output.
func opa(t *testing.T, dir, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(opaCLI(t), args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func writeKeys(t *testing.T, k *testKey) (private, public string) {
	t.Helper()
	dir := t.TempDir()
	private, public = filepath.Join(dir, "key.pem"), filepath.Join(dir, "pub.pem")
	if err := os.WriteFile(private, k.privatePEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(public, k.publicPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return private, public
}

// TestOPAVerifiesOurSignedBundles: `opa run --verification-key` loads a
// bundle tollgate signed, every file checked (the HCL ones too, which OPA
// verifies and then ignores), and refuses it once a file changed.
func TestOPAVerifiesOurSignedBundles(t *testing.T) {
	for _, tt := range []struct{ key, alg string }{{"rsa", "RS256"}, {"p256", "ES256"}} {
		t.Run(tt.alg, func(t *testing.T) {
			k := key(t, tt.key)
			_, public := writeKeys(t, k)
			archive, revision := signedArchive(t, k, bundle.SigningOptions{})
			dir := t.TempDir()
			ours := filepath.Join(dir, "ours.tar.gz")
			if err := os.WriteFile(ours, archive, 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := opa(t, dir, "data.system.bundles\n", "run", "--verification-key", public, "--signing-alg", tt.alg, "--bundle", ours)
			if err != nil || !strings.Contains(out, revision) {
				t.Fatalf("opa run refused our signed bundle (%v):\n%s", err, out)
			}

			tampered := filepath.Join(dir, "tampered.tar.gz")
			if err := os.WriteFile(tampered, rewrite(t, archive, func(files map[string][]byte) {
				files["config/settings.hcl"] = append(files["config/settings.hcl"], "# changed\n"...)
			}), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err = opa(t, dir, "", "run", "--verification-key", public, "--signing-alg", tt.alg, "--bundle", tampered)
			if err == nil || !strings.Contains(out, "config/settings.hcl: digest mismatch") {
				t.Errorf("opa run accepted a changed declaration (%v):\n%s", err, out)
			}
		})
	}
}

// TestWeVerifyOPASignedBundles: a tollgate bundle signed by `opa sign`
// verifies and loads. `opa build --signing-key` writes only what OPA
// knows, so its bundles hold no config/*.hcl and are no tollgate bundle:
// tollgate verifies their signature and then says so, and refuses the
// same bundle with a changed policy for its signature.
func TestWeVerifyOPASignedBundles(t *testing.T) {
	for _, tt := range []struct{ key, alg string }{{"rsa", "RS256"}, {"p256", "ES256"}} {
		t.Run(tt.alg, func(t *testing.T) {
			k := key(t, tt.key)
			private, _ := writeKeys(t, k)
			var unsigned bytes.Buffer
			if _, err := bundle.Write(&unsigned, repoSources(t)); err != nil {
				t.Fatal(err)
			}
			files := untarAll(t, unsigned.Bytes())
			dir := t.TempDir()
			for name, body := range files {
				path := filepath.Join(dir, filepath.FromSlash(name))
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, body, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if out, err := opa(t, dir, "", "sign", "--signing-key", private, "--signing-alg", tt.alg, "--bundle", "."); err != nil {
				t.Fatalf("opa sign: %v\n%s", err, out)
			}
			signature, err := os.ReadFile(filepath.Join(dir, ".signatures.json"))
			if err != nil {
				t.Fatal(err)
			}
			signedByOPA := rewrite(t, unsigned.Bytes(), func(files map[string][]byte) { files[".signatures.json"] = signature })
			b, err := bundle.ParseVerified(signedByOPA, k.verifier(t))
			if err != nil {
				t.Fatalf("tollgate refused a bundle signed by opa sign: %v", err)
			}
			if _, err := reload.Load(context.Background(), sourcesOf(b.Files), reload.NewKDFCache()); err != nil {
				t.Fatal(err)
			}

			policiesOnly := t.TempDir()
			if err := os.CopyFS(policiesOnly, os.DirFS(filepath.Join(dir, "policies"))); err != nil {
				t.Fatal(err)
			}
			if out, err := opa(t, policiesOnly, "", "build", "--signing-key", private, "--signing-alg", tt.alg, "--bundle", ".", "-o", "built.tar.gz"); err != nil {
				t.Fatalf("opa build: %v\n%s", err, out)
			}
			built, err := os.ReadFile(filepath.Join(policiesOnly, "built.tar.gz"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := bundle.ParseVerified(built, k.verifier(t)); err == nil || errors.Is(err, bundle.ErrBadSignature) || !strings.Contains(err.Error(), "not a tollgate bundle") {
				t.Errorf("an opa build bundle: %v, want its signature verified and the missing declarations named", err)
			}
			changed := rewrite(t, built, func(files map[string][]byte) {
				files["token.rego"] = append(files["token.rego"], "\n# changed\n"...)
			})
			if _, err := bundle.ParseVerified(changed, k.verifier(t)); !errors.Is(err, bundle.ErrBadSignature) || !strings.Contains(err.Error(), `"token.rego"`) {
				t.Errorf("a changed opa build bundle: %v", err)
			}
		})
	}
}
