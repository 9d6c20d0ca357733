// Package docs holds the tests that keep the documentation true: the
// README's and the how-tos' commands run as written, and every relative
// link resolves.
package docs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// repoRoot is where a user runs the README's commands: the clone's root.
const repoRoot = ".."

// defaultURL is the one address the README's commands name: make run's
// default. The tests serve on a free port and put its URL in its place
// (and 127.0.0.1:0 in place of a listen address 127.0.0.1:8080), the only
// change made to a command before it runs; the environment may set what
// the commands read from it (serveBlock, commandEnv).
const defaultURL = "http://127.0.0.1:8080"

// TestReadmeQuickstartRunsAsWritten runs the quickstart as a user would on
// a fresh clone: its first block (make run) in the background, then the
// next one with sh, and checks that it set $TOKEN to a token and that the
// introspection it then made found that token active.
func TestReadmeQuickstartRunsAsWritten(t *testing.T) {
	requireTools(t, "sh", "make", "go", "curl")
	blocks := shellBlocks(t, readmeSection(t, "Quickstart"))
	if len(blocks) != 2 {
		t.Fatalf("the quickstart has %d sh blocks, want 2 (make run, then the client's commands)", len(blocks))
	}
	if strings.TrimSpace(blocks[0]) != "make run" {
		t.Fatalf("the quickstart's first block is %q, want make run", blocks[0])
	}
	url := serveLikeMakeRun(t, blocks[0])

	// The last line prints what the block left in $TOKEN, to check it.
	script := strings.ReplaceAll(blocks[1], defaultURL, url) + "\nprintf '\\nTOKEN=%s\\n' \"$TOKEN\"\n"
	out := runShell(t, script)
	token := ""
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "TOKEN="); ok {
			token = v
		}
	}
	if strings.Count(token, ".") != 2 || !strings.HasPrefix(token, "eyJ") {
		t.Fatalf("the quickstart left $TOKEN = %q, want a JWT; output:\n%s", token, out)
	}
	var introspection map[string]any
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, `{"active"`) {
			if err := json.Unmarshal([]byte(line), &introspection); err != nil {
				t.Fatalf("introspection answer %q: %v", line, err)
			}
		}
	}
	if introspection["active"] != true || introspection["sub"] != "User1" || introspection["aud"] != "Server2" {
		t.Fatalf("introspection of $TOKEN = %v, want active, sub User1, aud Server2; output:\n%s", introspection, out)
	}
}

// TestReadmeSeedScenariosRunAsWritten runs each curl of the three seed
// scenarios against make run and checks that each gets a token.
func TestReadmeSeedScenariosRunAsWritten(t *testing.T) {
	requireTools(t, "sh", "make", "go", "curl")
	blocks := shellBlocks(t, readmeSection(t, "The three seed scenarios"))
	if len(blocks) != 3 {
		t.Fatalf("the seed scenarios have %d sh blocks, want 3", len(blocks))
	}
	quickstart := shellBlocks(t, readmeSection(t, "Quickstart"))
	url := serveLikeMakeRun(t, quickstart[0])
	for i, block := range blocks {
		out := runShell(t, strings.ReplaceAll(block, defaultURL, url))
		var resp struct {
			AccessToken string `json:"access_token"`
			TokenType   string `json:"token_type"`
		}
		if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &resp); err != nil || resp.AccessToken == "" || resp.TokenType != "Bearer" {
			t.Errorf("scenario %d printed %q (%v), want a Bearer token response", i+1, out, err)
		}
	}
}

// requireTools skips the test when a tool it runs is missing, unless
// TOLLGATE_REQUIRE_INTEROP=1 (make test) says it must run.
func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("TOLLGATE_REQUIRE_INTEROP") == "1" {
				t.Fatalf("%s is not on PATH and TOLLGATE_REQUIRE_INTEROP=1: install it (.ci/run does)", tool)
			}
			t.Skipf("%s is not on PATH", tool)
		}
	}
}

// readmeSection is the text of README.md under the "## <heading>" heading,
// up to the next heading of that level.
func readmeSection(t *testing.T, heading string) string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	return markdownSection(t, string(readme), heading)
}

// markdownSection is the text of page under the "## <heading>" heading, up
// to the next heading of that level.
func markdownSection(t *testing.T, page, heading string) string {
	t.Helper()
	_, rest, ok := strings.Cut(page, "\n## "+heading+"\n")
	if !ok {
		t.Fatalf("no section %q", heading)
	}
	if i := strings.Index(rest, "\n## "); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// shellBlocks are the bodies of the ```sh fenced blocks of markdown text.
func shellBlocks(t *testing.T, text string) []string {
	t.Helper()
	return fencedBlocks(t, text, "sh")
}

// fencedBlocks are the bodies of the fenced blocks of markdown text in the
// language lang.
func fencedBlocks(t *testing.T, text, lang string) []string {
	t.Helper()
	var blocks []string
	var cur *strings.Builder
	for _, line := range strings.Split(text, "\n") {
		switch {
		case cur == nil && strings.TrimSpace(line) == "```"+lang:
			cur = &strings.Builder{}
		case cur != nil && strings.TrimSpace(line) == "```":
			blocks = append(blocks, cur.String())
			cur = nil
		case cur != nil:
			cur.WriteString(line + "\n")
		}
	}
	if cur != nil {
		t.Fatalf("an unclosed ```%s block", lang)
	}
	return blocks
}

// serveLikeMakeRun runs block (make run) in the repository with ADDR and
// METRICS_ADDR set to port 0, make's own way to change the address, and
// returns the URL the server logs once it listens. The server and make
// are stopped when the test ends.
func serveLikeMakeRun(t *testing.T, block string) string {
	t.Helper()
	return serveLikeMakeRunIn(t, repoRoot, block)
}

// serveLikeMakeRunIn is serveLikeMakeRun in the folder dir.
func serveLikeMakeRunIn(t *testing.T, dir, block string) string {
	t.Helper()
	return serveBlock(t, dir, block).url
}

// served is a block that serves, started by serveBlock.
type served struct {
	url string
	mu  sync.Mutex
	out bytes.Buffer
}

// log is what the block has printed so far: make's lines, the server's
// log and its audit lines.
func (s *served) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// serveBlock runs block, whose last command serves (make run, or
// ./bin/tollgate serve), in the folder dir with env added, and returns it
// once the server logs the URL it listens on. It serves on a free port,
// make's way (ADDR and METRICS_ADDR) or the flags' (TOLLGATE_ADDR), and
// a listen address 127.0.0.1:8080 written in block becomes 127.0.0.1:0.
// The block and the server are stopped when the test ends.
func serveBlock(t *testing.T, dir, block string, env ...string) *served {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	cmd := exec.Command("sh", "-c", strings.ReplaceAll(block, "127.0.0.1:8080", "127.0.0.1:0"))
	cmd.Dir = dir
	cmd.Env = append(commandEnv(dir), "ADDR=127.0.0.1:0", "METRICS_ADDR=127.0.0.1:0", "TOLLGATE_ADDR=127.0.0.1:0")
	cmd.Env = append(cmd.Env, env...)
	// Its own process group, so that stopping it stops the server make
	// started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); pw.Close(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})

	listening := regexp.MustCompile(`^listening on (https?://\S+)`)
	found := make(chan string, 1)
	s := &served{}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			s.mu.Lock()
			fmt.Fprintln(&s.out, sc.Text())
			s.mu.Unlock()
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case s.url = <-found:
		return s
	case <-exited:
		t.Fatalf("%q exited (%v) before it listened:\n%s", block, waitErr, s.log())
	case <-ctx.Done():
		t.Fatalf("%q did not listen within 5 minutes:\n%s", block, s.log())
	}
	return nil
}

// commandEnv is the environment of a command run in dir: the test's own,
// and in a copy of the repository -trimpath added to GOFLAGS. Without it
// the build cache keys each package on its folder, so each copy would
// compile tollgate anew; with it, the copies' go build (make build) finds
// what the first one compiled, and the binary copyOfRepository put in
// bin/ up to date. The user's clone, repoRoot, builds as the user does.
func commandEnv(dir string) []string {
	env := os.Environ()
	if dir == repoRoot {
		return env
	}
	return append(env, "GOFLAGS="+strings.TrimSpace(os.Getenv("GOFLAGS")+" -trimpath"))
}

// runShell runs script with sh -e in the repository, as a user pasting it
// into a terminal there would, and returns what it printed.
func runShell(t *testing.T, script string) string {
	t.Helper()
	out, err := runShellIn(repoRoot, script)
	if err != nil {
		t.Fatalf("sh -e -c %q: %v\n%s", script, err, out)
	}
	return out
}

// runShellIn runs script with sh -e in the folder dir, with env added to
// the environment, and returns what it printed.
func runShellIn(dir, script string, env ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-e", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(commandEnv(dir), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
