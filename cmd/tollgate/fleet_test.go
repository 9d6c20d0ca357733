package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/engine/redistest"
)

// runAsTollgate makes the test binary the tollgate command when a test
// starts it as a child process: a fleet test then runs real `tollgate
// serve` processes without building another binary.
const runAsTollgate = "TOLLGATE_TEST_RUN_AS_TOLLGATE"

func TestMain(m *testing.M) {
	if os.Getenv(runAsTollgate) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// process is one `tollgate serve` child process and the URL it listens on.
type process struct {
	cmd *exec.Cmd
	url string
}

// startServe starts `tollgate serve args...` as a process and waits for
// its "listening on" line.
func startServe(t *testing.T, args ...string) *process {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), runAsTollgate+"=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	found := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(stderr)
		for lines.Scan() {
			if _, after, ok := strings.Cut(lines.Text(), "listening on "); ok {
				found <- strings.Trim(strings.Fields(after)[0], `"`)
			}
		}
	}()
	select {
	case p.url = <-found:
	case <-time.After(30 * time.Second):
		t.Fatal("tollgate serve did not say where it listens")
	}
	return p
}

// stop sends SIGTERM and expects the process to drain and exit 0.
func (p *process) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Errorf("tollgate serve after SIGTERM: %v, want exit 0", err)
	}
}

func (p *process) post(t *testing.T, path string, form url.Values) map[string]any {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, p.url+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("client1", "demo-client1-secret-not-for-production")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s at %s: status %d", path, p.url, resp.StatusCode)
	}
	var body map[string]any
	if resp.ContentLength != 0 {
		_ = json.NewDecoder(resp.Body).Decode(&body)
	}
	return body
}

// TestFleetOfProcesses runs two `tollgate serve` processes sharing one
// redis-server, one keys folder and one issuer, as replicas behind a load
// balancer: a token revoked at one is inactive at the other within a
// second, also after both restart.
func TestFleetOfProcesses(t *testing.T) {
	redis := redistest.Start(t, redistest.Options{Persist: true})
	config := copyFolder(t, "config")
	settings := filepath.Join(config, "settings.hcl")
	body, err := os.ReadFile(settings)
	if err != nil {
		t.Fatal(err)
	}
	body = []byte(strings.Replace(string(body), "settings {", "settings {\n  issuer = \"https://auth.fleet.test\"", 1))
	if err := os.WriteFile(settings, body, 0o644); err != nil {
		t.Fatal(err)
	}
	keys := t.TempDir()
	if _, errOut, code := tollgate(t, nil, "", "keys", "rotate", "--keys", keys); code != 0 {
		t.Fatalf("keys rotate: %s", errOut)
	}
	args := []string{"--config", config, "--policies", filepath.Join(repoRoot, "policies"), "--keys", keys,
		"--state", redis.URL(), "--audit-log", filepath.Join(t.TempDir(), "audit.log")}
	a, b := startServe(t, args...), startServe(t, args...)

	tok := a.post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}})
	access, _ := tok["access_token"].(string)
	if access == "" {
		t.Fatalf("no token from A: %v", tok)
	}
	if got := b.post(t, "/oauth2/introspect", url.Values{"token": {access}}); got["active"] != true {
		t.Fatalf("B introspects A's token as %v, want active", got)
	}
	a.post(t, "/oauth2/revoke", url.Values{"token": {access}})
	deadline := time.Now().Add(time.Second)
	for b.post(t, "/oauth2/introspect", url.Values{"token": {access}})["active"] != false {
		if time.Now().After(deadline) {
			t.Fatal("revoked at A, still active at B after 1 s")
		}
		time.Sleep(20 * time.Millisecond)
	}

	a.stop(t)
	b.stop(t)
	c := startServe(t, args...)
	if got := c.post(t, "/oauth2/introspect", url.Values{"token": {access}}); got["active"] != false {
		t.Fatalf("after every replica restarted, the revoked token introspects as %v", got)
	}
	c.stop(t)
}
