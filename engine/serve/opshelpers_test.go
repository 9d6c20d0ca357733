package serve_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/engine/repotest"
	"github.com/tollgate-dev/tollgate/engine/secret"
	"github.com/tollgate-dev/tollgate/engine/serve"
)

// copyConfig copies the example config to a temporary folder the test may
// change.
func copyConfig(t *testing.T) string {
	t.Helper()
	src := repotest.Path(t, "config")
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		body, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// writeFile replaces a file atomically, as an editor or a deploy would.
func writeFile(t *testing.T, path, body string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

const extraClientSecret = "extra-client-secret-0123456789abcdef0123456789abcdef"

func extraClient(id string) string {
	return fmt.Sprintf("client %q {\n  secret { hash = %q }\n}\n", id, secret.SHA256Hash(extraClientSecret))
}

// runServe runs `tollgate serve` in-process through serve.Run, as main
// does, and returns its URL once it listens.
func runServe(t *testing.T, cfg serve.Config) (string, *syncBuffer, func() error) {
	t.Helper()
	if cfg.PoliciesDir == "" && cfg.Bundle == "" {
		cfg.PoliciesDir = repotest.Path(t, "policies")
	}
	cfg.Addr = "127.0.0.1:0"
	stderr := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve.Run(ctx, cfg, io.Discard, stderr) }()
	listening := regexp.MustCompile(`listening on (\S+)`)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := listening.FindStringSubmatch(stderr.String()); m != nil {
			stop := func() error {
				cancel()
				select {
				case err := <-done:
					return err
				case <-time.After(20 * time.Second):
					return fmt.Errorf("serve did not stop")
				}
			}
			t.Cleanup(func() { _ = stop() })
			return m[1], stderr, stop
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	t.Fatalf("serve did not start: %s", stderr.String())
	return "", nil, nil
}

func tokenStatus(t *testing.T, base, id, pass string) int {
	t.Helper()
	return tokenRequest(t, base, id, pass, "")
}

// eventually waits for cond. The wait is long because a reload under
// -race on a small, busy machine can take seconds; a passing test does
// not wait for it.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func get(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	return readAll(resp)
}

func grepLines(s, needle string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, needle) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
