package state

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFailedWriteIsStoredByTheNextOne: when a write fails, the change is
// still in effect in memory and the caller is told; the next change, or a
// retry of the same one, rewrites the file whole, so that nothing the
// failed write left out is missing after a restart.
func TestFailedWriteIsStoredByTheNextOne(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	clock := func() time.Time { return now }
	l, err := Open(Options{Dir: dir, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	lost := Token{Client: "c", ID: "lost", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
	_ = l.revocations.journal.f.Close() // the next write fails
	if err := l.Revoke(ctx, lost); err == nil {
		t.Fatal("a failed write was not reported")
	}
	if ok, _ := l.Revoked(ctx, lost); !ok {
		t.Fatal("a revocation that could not be written is not in effect")
	}
	if err := l.Revoke(ctx, lost); err != nil {
		t.Fatalf("the retry: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := Open(Options{Dir: dir, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if ok, _ := again.Revoked(ctx, lost); !ok {
		t.Error("the revocation whose write failed was lost across a restart")
	}
}

// TestExpiredEntriesAreSwept: entries of expired assertions are dropped at
// the next sweep, a minute on, even when no client is near its quota;
// unexpired ones stay.
func TestExpiredEntriesAreSwept(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	r := &replaySet{clients: map[string]map[jtiKey]int64{}, max: 1000}
	for i := range 10 {
		if err := r.use(fmt.Sprint("c", i), "j", now.Add(time.Minute), now); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.use("c0", "long", now.Add(5*time.Minute), now); err != nil {
		t.Fatal(err)
	}
	later := now.Add(2 * time.Minute)
	if err := r.use("new", "j", later.Add(time.Minute), later); err != nil {
		t.Fatal(err)
	}
	if len(r.clients) != 2 || len(r.clients["c0"]) != 1 {
		t.Errorf("after the sweep: %d clients, want 2 (c0 with its unexpired jti, and new)", len(r.clients))
	}
	if err := r.use("c0", "long", later.Add(time.Minute), later); err != ErrReplayed {
		t.Errorf("an unexpired jti after the sweep: %v, want ErrReplayed", err)
	}
}

// TestFileIsCompacted: the file follows what is live, not everything ever
// written.
func TestFileIsCompacted(t *testing.T) {
	defer func(old int) { minRewrite = old }(minRewrite)
	minRewrite = 16
	dir := t.TempDir()
	now := time.Now()
	l, err := Open(Options{Dir: dir, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := range 400 {
		if i%20 == 0 {
			now = now.Add(time.Minute)
		}
		if err := l.Use(context.Background(), "c", fmt.Sprint(i), now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	body, err := os.ReadFile(filepath.Join(dir, AssertionsFile))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(body), "\n"); got > 100 {
		t.Errorf("%d lines for at most 40 live assertions", got)
	}
}
