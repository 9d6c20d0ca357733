package state_test

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/engine/model"
	"github.com/tollgate-dev/tollgate/engine/ratelimit"
	"github.com/tollgate-dev/tollgate/engine/redistest"
	"github.com/tollgate-dev/tollgate/engine/state"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

// bounds are the per-client limits a behaviour test runs with, and its
// failed-authentication throttle (zero fields: the defaults).
type bounds struct {
	revocations, assertions int
	throttle                ratelimit.ThrottleConfig
}

// eachStore runs test against every Store: Local in memory, and Redis on
// a real redis-server and on a real Redis Cluster (skipped when there is
// no redis-server, unless required). All follow clk.
func eachStore(t *testing.T, b bounds, test func(t *testing.T, st state.Store, clk *clock)) {
	t.Run("local", func(t *testing.T) {
		clk := newClock()
		test(t, open(t, state.Options{Now: clk.now, MaxRevocationsPerClient: b.revocations, MaxAssertionsPerClient: b.assertions, Throttle: b.throttle}), clk)
	})
	t.Run("redis", func(t *testing.T) {
		clk := newClock()
		test(t, openRedis(t, redistest.Shared(t).URL(), clk, b), clk)
	})
	// Each client's keys share a hash tag: a script's keys are in one
	// slot, which a Cluster requires.
	t.Run("redis-cluster", func(t *testing.T) {
		clk := newClock()
		test(t, openRedis(t, redistest.SharedCluster(t), clk, b), clk)
	})
}

func openRedis(t testing.TB, url string, clk *clock, b bounds) *state.Redis {
	t.Helper()
	// The suite tests what the stores do, not how fast: under the race
	// detector on a busy machine, a hundred concurrent calls can take
	// longer than the short timeout a server uses.
	r, err := state.OpenRedis(state.RedisOptions{URL: url, Now: clk.now, Timeout: 10 * time.Second,
		MaxRevocationsPerClient: b.revocations, MaxAssertionsPerClient: b.assertions, Throttle: b.throttle})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// TestStoresRevokeByID: a revoked token is revoked, and only it: not the
// client's other tokens, nor another client's token of the same id.
// Revoking twice is fine.
func TestStoresRevokeByID(t *testing.T) {
	eachStore(t, bounds{}, func(t *testing.T, st state.Store, clk *clock) {
		tk := tok("c", "a", clk.now(), time.Hour)
		for range 2 {
			if err := st.Revoke(ctx, tk); err != nil {
				t.Fatal(err)
			}
		}
		if !revoked(t, st, tk) {
			t.Error("a revoked token is active")
		}
		if revoked(t, st, tok("c", "b", clk.now(), time.Hour)) {
			t.Error("another token of the client is revoked")
		}
		if revoked(t, st, tok("other", "a", clk.now(), time.Hour)) {
			t.Error("another client's token of the same id is revoked")
		}
	})
}

// TestStoresBoundRevocationsPerClient: past its bound, a client's
// revocation revokes every token it was issued up to that second, those
// it never revoked too, and only its own; later tokens are unaffected.
// Revocations of expired tokens make room first.
func TestStoresBoundRevocationsPerClient(t *testing.T) {
	const limit = 3
	eachStore(t, bounds{revocations: limit}, func(t *testing.T, st state.Store, clk *clock) {
		kept := tok("greedy", "never-revoked", clk.now(), time.Hour)
		other := tok("other", "o", clk.now(), time.Hour)
		if err := st.Revoke(ctx, other); err != nil {
			t.Fatal(err)
		}
		// Expired revocations are dropped, not turned into a cut-off.
		for i := range limit {
			if err := st.Revoke(ctx, tok("greedy", fmt.Sprint("short-", i), clk.now(), time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		clk.advance(2 * time.Minute)
		if err := st.Revoke(ctx, tok("greedy", "after-expiry", clk.now(), time.Hour)); err != nil {
			t.Fatal(err)
		}
		if revoked(t, st, kept) {
			t.Fatal("expired revocations made a cut-off instead of room")
		}
		for i := range limit {
			if err := st.Revoke(ctx, tok("greedy", fmt.Sprint(i), clk.now(), time.Hour)); err != nil {
				t.Fatal(err)
			}
			if i < limit-1 && revoked(t, st, kept) {
				t.Fatalf("within the bound (%d revocations), a token never revoked is revoked", i+2)
			}
		}
		if !revoked(t, st, kept) {
			t.Error("past the bound, an older token of the client is still active")
		}
		for i := range limit {
			if !revoked(t, st, tok("greedy", fmt.Sprint(i), clk.now(), time.Hour)) {
				t.Errorf("revoked token %d is active again", i)
			}
		}
		if later := tok("greedy", "later", clk.now().Add(time.Second), time.Hour); revoked(t, st, later) {
			t.Error("a token issued after the cut-off is revoked")
		}
		if !revoked(t, st, other) || revoked(t, st, tok("other", "o2", clk.now(), time.Hour)) {
			t.Error("another client's revocations changed")
		}
	})
}

// TestStoresAcceptAnAssertionOnce: a jti is used once per client; Seen
// sees it; another client may use the same jti.
func TestStoresAcceptAnAssertionOnce(t *testing.T) {
	eachStore(t, bounds{}, func(t *testing.T, st state.Store, clk *clock) {
		until := clk.now().Add(time.Minute)
		if seen, err := st.Seen(ctx, "c", "j"); err != nil || seen {
			t.Fatalf("Seen before any use: %v, %v", seen, err)
		}
		if err := st.Use(ctx, "c", "j", until); err != nil {
			t.Fatal(err)
		}
		if err := st.Use(ctx, "c", "j", until); !errors.Is(err, state.ErrReplayed) {
			t.Errorf("a second use: %v, want ErrReplayed", err)
		}
		if seen, err := st.Seen(ctx, "c", "j"); err != nil || !seen {
			t.Errorf("Seen after use: %v, %v", seen, err)
		}
		if err := st.Use(ctx, "other", "j", until); err != nil {
			t.Errorf("another client with the same jti: %v", err)
		}
	})
}

// TestStoresBoundAssertionsPerClient: one client with its quota of
// unexpired assertions is refused more until they expire, while every
// other client goes on; a replay is refused as a replay.
func TestStoresBoundAssertionsPerClient(t *testing.T) {
	const quota = 3
	eachStore(t, bounds{assertions: quota}, func(t *testing.T, st state.Store, clk *clock) {
		until := clk.now().Add(time.Minute)
		for i := range quota {
			if err := st.Use(ctx, "greedy", fmt.Sprint(i), until); err != nil {
				t.Fatal(err)
			}
		}
		err := st.Use(ctx, "greedy", "one-more", until)
		var quotaErr *state.QuotaError
		if !errors.As(err, &quotaErr) || quotaErr.RetryAfter <= 0 || quotaErr.RetryAfter > time.Minute+time.Second {
			t.Fatalf("past the quota: %v, want a QuotaError with a Retry-After within the minute", err)
		}
		for i := range quota {
			if err := st.Use(ctx, "innocent", fmt.Sprint(i), until); err != nil {
				t.Fatalf("another client, assertion %d: %v", i, err)
			}
		}
		if err := st.Use(ctx, "greedy", "0", until); !errors.Is(err, state.ErrReplayed) {
			t.Errorf("a replay at the quota: %v, want ErrReplayed", err)
		}
		clk.advance(2 * time.Minute)
		if err := st.Use(ctx, "greedy", "one-more", clk.now().Add(time.Minute)); err != nil {
			t.Errorf("once its assertions expired: %v", err)
		}
		if seen, _ := st.Seen(ctx, "greedy", "0"); seen {
			t.Error("an expired jti is still seen")
		}
	})
}

// TestStoresUseIsAtomic: of many concurrent uses of one jti exactly one
// wins, and concurrent uses never pass a client's quota: set-if-absent
// and the quota are one step, not a read and a write.
func TestStoresUseIsAtomic(t *testing.T) {
	const quota, callers = 10, 40
	eachStore(t, bounds{assertions: quota}, func(t *testing.T, st state.Store, clk *clock) {
		until := clk.now().Add(time.Minute)
		var won, replayed, admitted atomic.Int32
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() {
				switch err := st.Use(ctx, "race", "same-jti", until); {
				case err == nil:
					won.Add(1)
				case errors.Is(err, state.ErrReplayed):
					replayed.Add(1)
				default:
					t.Error(err)
				}
			})
			wg.Go(func() {
				if err := st.Use(ctx, "quota", fmt.Sprint(i), until); err == nil {
					admitted.Add(1)
				}
			})
		}
		wg.Wait()
		if won.Load() != 1 || replayed.Load() != callers-1 {
			t.Errorf("one jti used at once by %d callers: %d won, %d replayed; want 1 and %d", callers, won.Load(), replayed.Load(), callers-1)
		}
		if admitted.Load() != quota {
			t.Errorf("%d distinct jtis at once against a quota of %d: %d admitted", callers, quota, admitted.Load())
		}
	})
}

// TestStoresEnforceRateLimits: the whole period's count may be spent at
// once, then one token per interval comes back; Retry-After says when;
// other clients are unaffected and a changed rate starts afresh.
func TestStoresEnforceRateLimits(t *testing.T) {
	tests := []struct {
		name      string
		rate      model.Rate
		requests  int
		wantAllow int
	}{
		{"burst of the whole period", model.Rate{Count: 5, Per: time.Minute}, 8, 5},
		{"per second", model.Rate{Count: 2, Per: time.Second}, 3, 2},
		{"zero is unlimited", model.Rate{}, 100, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eachStore(t, bounds{}, func(t *testing.T, st state.Store, clk *clock) {
				allowed := 0
				for range tt.requests {
					ok, _, err := st.Allow(ctx, "c", tt.rate, clk.now())
					if err != nil {
						t.Fatal(err)
					}
					if ok {
						allowed++
					}
				}
				if allowed != tt.wantAllow {
					t.Errorf("allowed %d, want %d", allowed, tt.wantAllow)
				}
			})
		})
	}
	t.Run("refill and retry", func(t *testing.T) {
		eachStore(t, bounds{}, func(t *testing.T, st state.Store, clk *clock) {
			r := model.Rate{Count: 60, Per: time.Minute}
			allow := func(client string, r model.Rate, at time.Time) (bool, time.Duration) {
				ok, retry, err := st.Allow(ctx, client, r, at)
				if err != nil {
					t.Fatal(err)
				}
				return ok, retry
			}
			t0 := clk.now()
			for range 60 {
				if ok, _ := allow("c", r, t0); !ok {
					t.Fatal("denied within the burst")
				}
			}
			ok, retry := allow("c", r, t0)
			if ok || retry <= 0 || retry > time.Second {
				t.Fatalf("61st request: ok %v retry %s; want denied with retry in (0, 1s]", ok, retry)
			}
			if ok, _ := allow("c", r, t0.Add(time.Second)); !ok {
				t.Error("one token should have come back after a second")
			}
			if ok, _ := allow("c", r, t0.Add(time.Second)); ok {
				t.Error("only one token came back after a second")
			}
			if ok, _ := allow("other", r, t0); !ok {
				t.Error("another client is affected")
			}
			if ok, _ := allow("c", model.Rate{Count: 100, Per: time.Minute}, t0.Add(time.Second)); !ok {
				t.Error("a changed rate should start a new bucket")
			}
		})
	})
	t.Run("concurrent", func(t *testing.T) {
		eachStore(t, bounds{}, func(t *testing.T, st state.Store, clk *clock) {
			const count, callers = 20, 100
			var allowed atomic.Int32
			var wg sync.WaitGroup
			for range callers {
				wg.Go(func() {
					ok, _, err := st.Allow(ctx, "c", model.Rate{Count: count, Per: time.Hour}, clk.now())
					if err != nil {
						t.Error(err)
					}
					if ok {
						allowed.Add(1)
					}
				})
			}
			wg.Wait()
			if allowed.Load() != count {
				t.Errorf("%d concurrent requests at %d/h: %d allowed", callers, count, allowed.Load())
			}
		})
	})
}
