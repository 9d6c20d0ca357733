package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/engine/secret"
	"github.com/tollgate-dev/tollgate/engine/serve"
)

// tollgate runs the command in-process from the repository root, as a
// user would in a checkout.
func tollgate(t *testing.T, env map[string]string, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	t.Chdir(repoRoot)
	var out, errOut bytes.Buffer
	getenv := func(k string) string { return env[k] }
	err := run(context.Background(), args, getenv, strings.NewReader(stdin), &out, &errOut)
	code = exitCode(err, &errOut)
	return out.String(), errOut.String(), code
}

// repoRoot is the checkout the tests run the command in.
var repoRoot = func() string {
	wd, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	return filepath.Join(wd, "..", "..")
}()

func TestCheckExampleConfig(t *testing.T) {
	out, errOut, code := tollgate(t, nil, "", "check")
	if code != 0 || !strings.Contains(out, "ok:") {
		t.Fatalf("check on config/: exit %d\n%s%s", code, out, errOut)
	}
}

// TestCheckBrokenFixtures: for each broken set, check exits 1 and prints
// exactly the golden diagnostics (the same goldens hclconf's tests keep).
func TestCheckBrokenFixtures(t *testing.T) {
	dirs, err := os.ReadDir(filepath.Join(repoRoot, "testdata/hcl/broken"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		t.Run(d.Name(), func(t *testing.T) {
			dir := "testdata/hcl/broken/" + d.Name()
			want, err := os.ReadFile(filepath.Join(repoRoot, dir, "expected.golden"))
			if err != nil {
				t.Fatal(err)
			}
			out, _, code := tollgate(t, nil, "", "check", "--config", dir)
			wantCode := 1
			if strings.HasSuffix(d.Name(), "-warning-only") {
				wantCode = 0
				out = strings.TrimSuffix(out, "ok: "+dir+" and ./policies are valid\n")
			}
			if code != wantCode || out != string(want) {
				t.Errorf("exit %d (want %d), output:\n%s\nwant:\n%s", code, wantCode, out, want)
			}
		})
	}
}

func TestCheckReportsPolicyProblems(t *testing.T) {
	out, _, code := tollgate(t, nil, "", "check", "--policies", "testdata/policies/broken")
	if code != 1 || !strings.Contains(out, "testdata/policies/broken/token.rego:") {
		t.Fatalf("exit %d, output %q", code, out)
	}
}

func TestEvalPrintsTheDecision(t *testing.T) {
	tests := []struct {
		args    []string
		allow   bool
		subject string
		act     string
		err     string
	}{
		{args: []string{"--client", "gift-deliveries", "--audience", "https://api.worldmappers.example"}, allow: true, subject: "gift-deliveries"},
		{args: []string{"--client", "Client1", "--scope", "Server2"}, allow: true, subject: "User1", act: "Client1"},
		{args: []string{"--client", "gift-deliveries", "--audience", "world-mappers", "--scope", "read:geocode"}, err: "invalid_scope"},
		{args: []string{"--client", "client1", "--audience", "https://unknown.example"}, err: "invalid_target"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, errOut, code := tollgate(t, nil, "", append([]string{"eval"}, tt.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var got struct {
				Allow   bool              `json:"allow"`
				Subject string            `json:"subject"`
				Act     map[string]string `json:"act"`
				Error   string            `json:"error"`
				Reasons []string          `json:"reasons"`
			}
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if got.Allow != tt.allow || got.Subject != tt.subject || got.Act["sub"] != tt.act || got.Error != tt.err || len(got.Reasons) == 0 {
				t.Errorf("decision %s", out)
			}
		})
	}
	_, _, code := tollgate(t, nil, "", "eval", "--client", "client1", "--audience", "nowhere", "--fail-on-deny")
	if code != 2 {
		t.Errorf("--fail-on-deny on a denial: exit %d, want 2", code)
	}
	_, errOut, code := tollgate(t, nil, "", "eval", "--client", "nobody")
	if code != 1 || !strings.Contains(errOut, "unknown client") {
		t.Errorf("unknown client: exit %d, %q", code, errOut)
	}
}

func TestSecretMakesAVerifiableHash(t *testing.T) {
	out, _, code := tollgate(t, nil, "", "secret")
	if code != 0 {
		t.Fatal(out)
	}
	var plain, hash string
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "secret: "); ok {
			plain = v
		}
		if v, ok := strings.CutPrefix(line, "hash = "); ok {
			hash = strings.Trim(v, `"`)
		}
	}
	h, err := secret.Parse(hash)
	if err != nil || !h.Verify(plain) || len(plain) < 43 {
		t.Fatalf("secret output %q: %v", out, err)
	}
	tests := []struct {
		stdin, flag string
		kind        secret.Kind
	}{
		{plain + "\n", "", secret.SHA256},
		{"short-person-secret\n", "", secret.Argon2id},
		{"short-person-secret", "bcrypt", secret.Bcrypt},
	}
	for _, tt := range tests {
		args := []string{"secret", "hash"}
		if tt.flag != "" {
			args = append(args, "--alg", tt.flag)
		}
		out, errOut, code := tollgate(t, nil, tt.stdin, args...)
		stored := strings.Trim(strings.TrimSpace(strings.TrimPrefix(out, "hash = ")), `"`)
		h, err := secret.Parse(stored)
		if code != 0 || err != nil || h.Kind() != tt.kind || !h.Verify(strings.TrimSuffix(tt.stdin, "\n")) {
			t.Errorf("secret hash %v: exit %d %q %q %v", args, code, out, errOut, err)
		}
	}
}

func TestKeysGenerateThenServeWithThem(t *testing.T) {
	dir := t.TempDir()
	out, errOut, code := tollgate(t, nil, "", "keys", "generate", "--alg", "EdDSA", "--out", dir)
	if code != 0 || !strings.Contains(out, "wrote EdDSA key") {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("%d files in the keys folder", len(entries))
	}
	_, errOut, code = tollgate(t, nil, "", "keys", "generate", "--alg", "HS256", "--out", dir)
	if code != 1 || !strings.Contains(errOut, "unsupported signing algorithm") {
		t.Errorf("HS256: exit %d %q", code, errOut)
	}
}

// TestTokenCommandFetchesAToken runs `tollgate token` against a real server,
// with the secret from the environment and from stdin.
func TestTokenCommandFetchesAToken(t *testing.T) {
	t.Chdir(repoRoot)
	s := serveUntilDone(t, "config")

	run := func(env map[string]string, stdin string, args ...string) (string, string, int) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(stdin), &out, &errOut)
		code := exitCode(err, &errOut)
		return out.String(), errOut.String(), code
	}
	out, errOut, code := run(map[string]string{"TOLLGATE_CLIENT_SECRET": "demo-gift-deliveries-secret-not-for-production"}, "",
		"token", "--issuer", s.URL(), "--client-id", "gift-deliveries", "--audience", "https://api.worldmappers.example", "--scope", "read:directions")
	if code != 0 || strings.Count(strings.TrimSpace(out), ".") != 2 {
		t.Fatalf("exit %d: %q %q", code, out, errOut)
	}
	out, errOut, code = run(nil, "demo-client1-secret-not-for-production\n", "token", "--issuer", s.URL(), "--client-id", "client1", "-v")
	if code != 0 || !strings.Contains(out, `"token_type": "Bearer"`) {
		t.Fatalf("exit %d: %q %q", code, out, errOut)
	}
	// -v prints the server's expires_in: the default_token_ttl of config/.
	var verbose struct {
		ExpiresIn int64 `json:"expires_in"`
	}
	if err := json.Unmarshal([]byte(out), &verbose); err != nil || verbose.ExpiresIn != 3600 {
		t.Errorf("token -v: expires_in %d (%v), want 3600: %s", verbose.ExpiresIn, err, out)
	}
	_, errOut, code = run(nil, "wrong\n", "token", "--issuer", s.URL(), "--client-id", "client1")
	if code != 1 || !strings.Contains(errOut, "invalid_client") {
		t.Errorf("wrong secret: exit %d %q", code, errOut)
	}
}

// TestServeFlagsFromEnvironment: TOLLGATE_<FLAG> sets a flag; a bad value
// is one clear error and a non-zero exit.
func TestServeFlagsFromEnvironment(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t.Chdir(repoRoot)
	var out, errOut bytes.Buffer
	err := run(ctx, []string{"serve"}, func(k string) string {
		return map[string]string{"TOLLGATE_ADDR": "256.0.0.1:99999", "TOLLGATE_WATCH": "false"}[k]
	}, strings.NewReader(""), &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "listen") {
		t.Fatalf("serve with a bad TOLLGATE_ADDR: %v", err)
	}
	err = run(ctx, []string{"serve"}, func(k string) string {
		return map[string]string{"TOLLGATE_WATCH": "maybe"}[k]
	}, strings.NewReader(""), &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "TOLLGATE_WATCH") {
		t.Fatalf("bad boolean in the environment: %v", err)
	}
	err = run(ctx, []string{"serve"}, func(k string) string {
		return map[string]string{"TOLLGATE_TRUSTED_PROXIES": "10.0.0.0/8,proxy.example"}[k]
	}, strings.NewReader(""), &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "--trusted-proxies") || !strings.Contains(err.Error(), "proxy.example") {
		t.Fatalf("a trusted proxy that is no CIDR: %v", err)
	}
	err = run(ctx, []string{"serve", "--config", "testdata/hcl/broken/plain-secret"}, func(string) string { return "" }, strings.NewReader(""), &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "plain-secret/main.hcl:2:19") {
		t.Fatalf("serve on a broken config: %v", err)
	}
	var ee *exitError
	if errors.As(err, &ee) {
		t.Fatal("a startup error should print itself once, through exitCode")
	}
}

func TestVersion(t *testing.T) {
	out, _, code := tollgate(t, nil, "", "version")
	if code != 0 || !strings.HasPrefix(out, "tollgate ") {
		t.Errorf("exit %d %q", code, out)
	}
}

// TestPrivateKeyJWTWorkflow is the README's private_key_jwt workflow: make
// a key, declare its public half with the block `keys public` prints,
// check the configuration, serve it, and fetch a token with `token --key`.
func TestPrivateKeyJWTWorkflow(t *testing.T) {
	keyDir, confDir := t.TempDir(), t.TempDir()
	out, errOut, code := tollgate(t, nil, "", "keys", "generate", "--alg", "ES256", "--out", keyDir)
	if code != 0 {
		t.Fatalf("keys generate: exit %d: %s", code, errOut)
	}
	keyFiles, _ := filepath.Glob(filepath.Join(keyDir, "*"))
	if len(keyFiles) != 1 {
		t.Fatalf("key files %v (%s)", keyFiles, out)
	}
	block, errOut, code := tollgate(t, nil, "", "keys", "public", keyFiles[0])
	if code != 0 || !strings.HasPrefix(block, "public_key {\n  pem = <<-EOT\n      -----BEGIN PUBLIC KEY-----") || strings.Contains(block, "PRIVATE") {
		t.Fatalf("keys public: exit %d: %q %s", code, block, errOut)
	}
	configs, _ := filepath.Glob(filepath.Join(repoRoot, "config", "*.hcl"))
	for _, f := range configs {
		src, _ := os.ReadFile(f)
		if err := os.WriteFile(filepath.Join(confDir, filepath.Base(f)), src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	client := "client \"batch-job\" {\n  auth_method = \"private_key_jwt\"\n" + block +
		"  access \"world-mappers\" { scopes = [\"read:directions\"] }\n}\n"
	if err := os.WriteFile(filepath.Join(confDir, "batch.hcl"), []byte(client), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := tollgate(t, nil, "", "check", "--config", confDir); code != 0 {
		t.Fatalf("check: exit %d: %s\n%s", code, errOut, client)
	}

	s := serveUntilDone(t, confDir)
	out, errOut, code = tollgate(t, nil, "", "token", "--issuer", s.URL(), "--client-id", "batch-job", "--key", keyFiles[0],
		"--audience", "https://api.worldmappers.example", "-v")
	if code != 0 || !strings.Contains(out, `"scope": "read:directions"`) {
		t.Fatalf("token --key: exit %d: %q %q", code, out, errOut)
	}
	other := t.TempDir()
	tollgate(t, nil, "", "keys", "generate", "--alg", "ES256", "--out", other)
	otherFiles, _ := filepath.Glob(filepath.Join(other, "*"))
	_, errOut, code = tollgate(t, nil, "", "token", "--issuer", s.URL(), "--client-id", "batch-job", "--key", otherFiles[0])
	if code != 1 || !strings.Contains(errOut, "invalid_client") {
		t.Errorf("another key: exit %d %q", code, errOut)
	}
}

// serveUntilDone serves configDir with the repository's policies on a
// loopback port until the test ends.
func serveUntilDone(t *testing.T, configDir string) *serve.Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := serve.New(ctx, serve.Config{ConfigDir: configDir, PoliciesDir: filepath.Join(repoRoot, "policies"), Addr: "127.0.0.1:0"}, &bytes.Buffer{})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if _, err := s.Listen(); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return s
}
