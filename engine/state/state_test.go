package state_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/engine/state"
)

var ctx = context.Background()

// clock is a test's settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)} }

func open(t *testing.T, opts state.Options) *state.Local {
	t.Helper()
	l, err := state.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func tok(client, id string, iat time.Time, ttl time.Duration) state.Token {
	return state.Token{Client: client, ID: id, IssuedAt: iat, ExpiresAt: iat.Add(ttl)}
}

func revoked(t *testing.T, r state.Revocations, tk state.Token) bool {
	t.Helper()
	ok, err := r.Revoked(ctx, tk)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func lines(t *testing.T, path string) []string {
	t.Helper()
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
}

// TestRevocationsSurviveARestart: with a folder, a revocation is read back
// by the next process; what expired meanwhile is dropped from the file,
// which only its owner may read.
func TestRevocationsSurviveARestart(t *testing.T) {
	dir, clk := t.TempDir(), newClock()
	first := open(t, state.Options{Dir: dir, Now: clk.now})
	long := tok("c", "long", clk.now(), time.Hour)
	short := tok("c", "short", clk.now(), time.Minute)
	for _, tk := range []state.Token{long, short} {
		if err := first.Revoke(ctx, tk); err != nil {
			t.Fatal(err)
		}
	}
	if !first.Durable() {
		t.Error("a Local with a Dir says it is not durable")
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	clk.advance(10 * time.Minute)
	second := open(t, state.Options{Dir: dir, Now: clk.now})
	if !revoked(t, second, long) {
		t.Error("a revocation was forgotten across the restart")
	}
	if got := second.Loaded(); got.Revocations != 1 || got.Skipped != 0 {
		t.Errorf("Loaded = %+v, want the one unexpired revocation", got)
	}
	path := filepath.Join(dir, state.RevocationsFile)
	if got := lines(t, path); len(got) != 1 || !strings.Contains(got[0], `"long"`) {
		t.Errorf("file after the restart: %q, want only the unexpired revocation", got)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("file mode %v, want 0600", perm)
	}
}

// TestMemoryOnlyStateIsNotDurable: without a folder nothing is written.
func TestMemoryOnlyStateIsNotDurable(t *testing.T) {
	clk := newClock()
	l := open(t, state.Options{Now: clk.now})
	if l.Durable() {
		t.Error("a Local without Dir says it is durable")
	}
	tk := tok("c", "j", clk.now(), time.Hour)
	if err := l.Revoke(ctx, tk); err != nil || !revoked(t, l, tk) {
		t.Errorf("Revoke: %v; revoked %v", err, revoked(t, l, tk))
	}
}

// TestTornLastLineIsTolerated: a crash in the middle of a write leaves a
// partial last line; the next start skips it, keeps every whole line, and
// rewrites the file without it. Damage elsewhere is skipped the same way.
func TestTornLastLineIsTolerated(t *testing.T) {
	dir, clk := t.TempDir(), newClock()
	exp := clk.now().Add(time.Hour).Unix()
	body := fmt.Sprintf(`{"client":"c","jti":"a","exp":%d}
not json at all
{"client":"c","jti":"b","exp":%d}
{"client":"c","jti":"torn","ex`, exp, exp)
	if err := os.WriteFile(filepath.Join(dir, state.RevocationsFile), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	l := open(t, state.Options{Dir: dir, Now: clk.now})
	if got := l.Loaded(); got.Revocations != 2 || got.Skipped != 2 {
		t.Errorf("Loaded = %+v, want 2 revocations and 2 lines skipped", got)
	}
	for _, id := range []string{"a", "b"} {
		if !revoked(t, l, tok("c", id, clk.now(), time.Hour)) {
			t.Errorf("%s was lost", id)
		}
	}
	if err := l.Revoke(ctx, tok("c", "after", clk.now(), time.Hour)); err != nil {
		t.Fatal(err)
	}
	got := lines(t, filepath.Join(dir, state.RevocationsFile))
	if len(got) != 3 || strings.Contains(strings.Join(got, "\n"), "torn") {
		t.Errorf("file after the restart and one more revocation: %q", got)
	}
}

// TestRevocationsPerClientAreBounded: past its bound, a client's
// revocation revokes every token it was issued up to that second, those it
// never revoked too, and only its own; later tokens are unaffected, and
// the cut-off survives a restart. The file stays bounded.
func TestRevocationsPerClientAreBounded(t *testing.T) {
	dir, clk := t.TempDir(), newClock()
	const limit = 3
	l := open(t, state.Options{Dir: dir, Now: clk.now, MaxRevocationsPerClient: limit})
	kept := tok("greedy", "never-revoked", clk.now(), time.Hour)
	other := tok("other", "o", clk.now(), time.Hour)
	if err := l.Revoke(ctx, other); err != nil {
		t.Fatal(err)
	}
	clk.advance(time.Second)
	for i := range limit + 1 {
		if err := l.Revoke(ctx, tok("greedy", fmt.Sprint(i), clk.now(), time.Hour)); err != nil {
			t.Fatal(err)
		}
		if i < limit && revoked(t, l, kept) {
			t.Fatalf("within the bound (%d revocations), a token never revoked is revoked", i+1)
		}
	}
	if !revoked(t, l, kept) {
		t.Error("past the bound, an older token of the client is still active")
	}
	for i := range limit + 1 {
		if !revoked(t, l, tok("greedy", fmt.Sprint(i), clk.now(), time.Hour)) {
			t.Errorf("revoked token %d is active again", i)
		}
	}
	later := tok("greedy", "later", clk.now().Add(time.Second), time.Hour)
	if revoked(t, l, later) {
		t.Error("a token issued after the cut-off is revoked")
	}
	if !revoked(t, l, other) || revoked(t, l, tok("other", "o2", clk.now(), time.Hour)) {
		t.Error("another client's revocations changed")
	}
	for i := range 10 * limit {
		if err := l.Revoke(ctx, tok("greedy", fmt.Sprint("more-", i), clk.now().Add(time.Duration(i+1)*time.Second), time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	reopened := open(t, state.Options{Dir: dir, Now: clk.now, MaxRevocationsPerClient: limit})
	if !revoked(t, reopened, kept) || !revoked(t, reopened, other) {
		t.Error("the cut-off or a revocation was lost across a restart")
	}
	if got := len(lines(t, filepath.Join(dir, state.RevocationsFile))); got > limit+2 {
		t.Errorf("%d lines after a restart, want at most %d (one client's bound, its cut-off, another's one)", got, limit+2)
	}
}

// TestReplayQuotaIsPerClient: one client with its quota of unexpired
// assertions is refused more until they expire, while every other client
// goes on; a replay is refused as a replay, before and after expired
// entries make room.
func TestReplayQuotaIsPerClient(t *testing.T) {
	clk := newClock()
	const quota = 3
	l := open(t, state.Options{Now: clk.now, MaxAssertionsPerClient: quota})
	until := clk.now().Add(time.Minute)
	for i := range quota {
		if err := l.Use(ctx, "greedy", fmt.Sprint(i), until); err != nil {
			t.Fatal(err)
		}
	}
	err := l.Use(ctx, "greedy", "one-more", until)
	var quotaErr *state.QuotaError
	if !errors.As(err, &quotaErr) || quotaErr.RetryAfter <= 0 || quotaErr.RetryAfter > time.Minute+time.Second {
		t.Fatalf("past the quota: %v, want a QuotaError with a Retry-After within the minute", err)
	}
	for i := range quota {
		if err := l.Use(ctx, "innocent", fmt.Sprint(i), until); err != nil {
			t.Fatalf("another client, assertion %d: %v", i, err)
		}
	}
	if err := l.Use(ctx, "greedy", "0", until); !errors.Is(err, state.ErrReplayed) {
		t.Errorf("a replay at the quota: %v, want ErrReplayed", err)
	}
	clk.advance(2 * time.Minute)
	if err := l.Use(ctx, "greedy", "one-more", clk.now().Add(time.Minute)); err != nil {
		t.Errorf("once its assertions expired: %v", err)
	}
	if seen, _ := l.Seen(ctx, "greedy", "one-more"); !seen {
		t.Error("Seen does not see a used jti")
	}
	if seen, _ := l.Seen(ctx, "innocent", "one-more"); seen {
		t.Error("a jti is seen for a client that never used it")
	}
}

// TestUsedAssertionsSurviveARestart: a jti used before a restart is still
// used after it, until it expires; the file holds a hash of the jti, never
// the jti.
func TestUsedAssertionsSurviveARestart(t *testing.T) {
	dir, clk := t.TempDir(), newClock()
	first := open(t, state.Options{Dir: dir, Now: clk.now})
	const jti = "the-jti-itself"
	if err := first.Use(ctx, "c", jti, clk.now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := first.Use(ctx, "c", "short", clk.now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	clk.advance(30 * time.Second)
	second := open(t, state.Options{Dir: dir, Now: clk.now})
	if err := second.Use(ctx, "c", jti, clk.now().Add(time.Minute)); !errors.Is(err, state.ErrReplayed) {
		t.Errorf("a replay after the restart: %v, want ErrReplayed", err)
	}
	if err := second.Use(ctx, "c", "short", clk.now().Add(time.Minute)); err != nil {
		t.Errorf("an expired jti after the restart: %v", err)
	}
	body, _ := os.ReadFile(filepath.Join(dir, state.AssertionsFile))
	if strings.Contains(string(body), jti) {
		t.Errorf("the file holds the jti itself: %s", body)
	}
}

// TestDataDirIsForOneProcess: a second Open of a folder in use fails and
// says why; after Close it succeeds.
func TestDataDirIsForOneProcess(t *testing.T) {
	dir := t.TempDir()
	first := open(t, state.Options{Dir: dir})
	if _, err := state.Open(state.Options{Dir: dir}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("a second Open of the same folder: %v, want an error saying it is in use", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	open(t, state.Options{Dir: dir})
}

// TestConcurrentChangesAreAllKept: changes made at once share writes and
// each is in the file when its call returns.
func TestConcurrentChangesAreAllKept(t *testing.T) {
	dir, clk := t.TempDir(), newClock()
	l := open(t, state.Options{Dir: dir, Now: clk.now})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				client := fmt.Sprint("c", g)
				if err := l.Revoke(ctx, tok(client, fmt.Sprint(i), clk.now(), time.Hour)); err != nil {
					t.Error(err)
				}
				if err := l.Use(ctx, client, fmt.Sprint(i), clk.now().Add(time.Minute)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	again := open(t, state.Options{Dir: dir, Now: clk.now})
	if got := again.Loaded(); got.Revocations != 8*100 || got.Assertions != 8*100 || got.Skipped != 0 {
		t.Errorf("Loaded = %+v, want 800 of each", got)
	}
}
