package docs

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestHowtoAddAClientRunsAsWritten runs docs/howto/add-a-client.md's
// commands in order in a copy of the repository, against make run there,
// and checks the new client gets its token.
func TestHowtoAddAClientRunsAsWritten(t *testing.T) {
	requireTools(t, "sh", "make", "go", "git")
	// Its own copy of the repository, its own port: it runs beside the others.
	t.Parallel()
	blocks := shellBlocks(t, readDoc(t, "docs/howto/add-a-client.md"))
	if len(blocks) != 5 {
		t.Fatalf("add-a-client.md has %d sh blocks, want 5 (secret, declare, check, token, undo)", len(blocks))
	}
	clone := copyOfRepository(t)
	url := serveLikeMakeRunIn(t, clone, "make run\n")
	for i, block := range blocks[:3] {
		if out, err := runShellIn(clone, block); err != nil {
			t.Fatalf("block %d: %v\n%s", i+1, err, out)
		}
	}
	// The server reloads config/ on change, a moment after the file is
	// written; a user who runs the next command too soon runs it again.
	var out string
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if out, err = runShellIn(clone, strings.ReplaceAll(blocks[3], defaultURL, url)); err == nil {
			break
		}
	}
	if err != nil || !strings.HasPrefix(out, "eyJ") || strings.Count(strings.TrimSpace(out), ".") != 2 {
		t.Fatalf("the new client's token: %v\n%s", err, out)
	}
	if out, err := runShellIn(clone, blocks[4]); err != nil {
		t.Fatalf("undo: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(clone, "config", "route-planner.hcl")); !os.IsNotExist(err) {
		t.Errorf("undo left config/route-planner.hcl (%v)", err)
	}
}

// TestHowtoWriteARuleRunsAsWritten runs docs/howto/write-a-rule.md's
// commands in order in a copy of the repository and checks that the rule
// passes its tests and caps the lifetime as the page says.
func TestHowtoWriteARuleRunsAsWritten(t *testing.T) {
	requireTools(t, "sh", "make", "go", "git")
	// Its own copy of the repository, its own port: it runs beside the others.
	t.Parallel()
	text := readDoc(t, "docs/howto/write-a-rule.md")
	blocks := shellBlocks(t, text)
	if len(blocks) != 4 {
		t.Fatalf("write-a-rule.md has %d sh blocks, want 4 (rule, tests, effect, undo)", len(blocks))
	}
	clone := builtCopyOfRepository(t)
	var effect string
	for i, block := range blocks {
		out, err := runShellIn(clone, block)
		if err != nil {
			t.Fatalf("block %d: %v\n%s", i+1, err, out)
		}
		if i == 2 {
			effect = out
		}
	}
	for _, want := range []string{`"ttl": 600`, "a rule of your own caps the lifetime at 600 seconds", "ttl      = 30m -> 10m"} {
		if !strings.Contains(effect, want) || !strings.Contains(text, want) {
			t.Errorf("the page and the commands' output should both show %q; output:\n%s", want, effect)
		}
	}
}

// readDoc is the text of a file of the repository.
func readDoc(t *testing.T, path string) string {
	t.Helper()
	text, err := os.ReadFile(filepath.Join(repoRoot, path))
	if err != nil {
		t.Fatal(err)
	}
	return string(text)
}

// copyOfRepository copies the work tree, without what a fresh clone lacks
// (build outputs, npm packages), into a temporary folder made a git
// repository of one commit, so that a how-to's edits touch only the copy
// and `plan --base git:HEAD` has a base. Its bin/tollgate is what make
// build makes there: built once per run (builtBinary), so that make build
// in the copy finds it up to date, as it would after a user's own build.
func copyOfRepository(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	if err := copyWorkTree(dst); err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(builtBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dst, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, "bin", "tollgate"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}

// builtCopyOfRepository is copyOfRepository after `make build` there, as
// a reader who followed the quickstart has it: the how-tos start from a
// built ./bin/tollgate.
func builtCopyOfRepository(t *testing.T) string {
	t.Helper()
	clone := copyOfRepository(t)
	if out, err := runShellIn(clone, "make build"); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	return clone
}

// built is the binary of builtBinary, in a folder TestMain removes.
var built struct {
	once sync.Once
	dir  string
	err  error
}

// builtBinary is the path of bin/tollgate as make build makes it in a copy
// of the repository. Every copy is the same commit (copyWorkTree), so the
// binary built in one is up to date in all, version stamp included.
func builtBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "tollgate-docs-"); built.err != nil {
			return
		}
		if built.err = copyWorkTree(built.dir); built.err != nil {
			return
		}
		if out, err := runShellIn(built.dir, "make build"); err != nil {
			built.err = fmt.Errorf("make build: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return filepath.Join(built.dir, "bin", "tollgate")
}

// TestMain removes the folder of builtBinary once every test has run.
func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// copyWorkTree copies the work tree into dst, without what a fresh clone
// lacks, and commits it there. The commit's author, committer and dates
// are fixed, so that every copy of one work tree is the same commit.
func copyWorkTree(dst string) error {
	skip := map[string]bool{".git": true, "bin": true, "node_modules": true, filepath.Join("bench", "out"): true}
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repoRoot, path)
		if skip[rel] || skip[d.Name()] {
			// In a worktree .git is a file: SkipDir would skip its folder.
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() || strings.HasSuffix(rel, ".tar.gz") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, info.Mode().Perm())
	})
	if err != nil {
		return err
	}
	git := exec.Command("sh", "-e", "-c", "git init -q && git add -A && git commit -q -m copy")
	git.Dir = dst
	git.Env = append(os.Environ(), "GIT_AUTHOR_NAME=docs test", "GIT_AUTHOR_EMAIL=docs@test.invalid",
		"GIT_COMMITTER_NAME=docs test", "GIT_COMMITTER_EMAIL=docs@test.invalid",
		"GIT_AUTHOR_DATE=2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE=2026-01-01T00:00:00Z")
	if out, err := git.CombinedOutput(); err != nil {
		return fmt.Errorf("git in the copy: %v\n%s", err, out)
	}
	return nil
}
