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

// reserve takes a throttle token for one guess at client's secret from
// addr at now, failing the test on an error of the store.
func reserve(t *testing.T, st state.Store, client, addr string, at time.Time) (state.Reservation, bool, time.Duration) {
	t.Helper()
	r, ok, retry, err := st.Reserve(ctx, client, addr, at)
	if err != nil {
		t.Fatal(err)
	}
	if ok != (r != nil) {
		t.Fatalf("Reserve: ok %v with reservation %v", ok, r)
	}
	return r, ok, retry
}

// reserveAll makes n reservations and counts those that passed.
func reserveAll(t *testing.T, st state.Store, client, addr string, at time.Time, n int) int {
	t.Helper()
	passed := 0
	for range n {
		if _, ok, _ := reserve(t, st, client, addr, at); ok {
			passed++
		}
	}
	return passed
}

// TestStoresThrottleGuessesPerClientAndAddress: one client id from one
// address has a burst of guesses, then one per interval, with a
// Retry-After of at least a second; the same id from another address,
// and another id from the same address, have their own budgets.
func TestStoresThrottleGuessesPerClientAndAddress(t *testing.T) {
	eachStore(t, bounds{}, func(t *testing.T, st state.Store, clk *clock) {
		const addr = "203.0.113.7"
		t0 := clk.now()
		if n := reserveAll(t, st, "person", addr, t0, 10); n != 10 {
			t.Fatalf("%d of a burst of 10 guesses passed", n)
		}
		_, ok, retry := reserve(t, st, "person", addr, t0)
		if ok || retry < time.Second || retry > 2*time.Second {
			t.Fatalf("the 11th guess: ok %v retry %s; want refused with retry in [1s, 2s]", ok, retry)
		}
		if _, ok, _ := reserve(t, st, "person", "198.51.100.1", t0); !ok {
			t.Error("the same id from another address is refused")
		}
		if _, ok, _ := reserve(t, st, "other", addr, t0); !ok {
			t.Error("another id from the same address is refused")
		}
		if n := reserveAll(t, st, "person", addr, t0.Add(2*time.Second), 2); n != 1 {
			t.Errorf("2 s later %d guesses passed, want 1", n)
		}
		if n := reserveAll(t, st, "person", addr, t0.Add(time.Minute), 11); n != 10 {
			t.Errorf("a minute later %d of 11 guesses passed, want the whole burst of 10", n)
		}
	})
}

// TestStoresThrottleRefundAndForgive: a refunded reservation gives its
// tokens back; a forgiving one (the holder's secret) restores the pair's
// whole burst, but not the address's guesses at every id.
func TestStoresThrottleRefundAndForgive(t *testing.T) {
	cfg := ratelimit.ThrottleConfig{Burst: 3, Every: time.Minute, AddrBurst: 5, AddrEvery: time.Minute}
	eachStore(t, bounds{throttle: cfg}, func(t *testing.T, st state.Store, clk *clock) {
		const addr = "203.0.113.7"
		now := clk.now()
		for range 2 {
			reserve(t, st, "person", addr, now)
		}
		r, ok, _ := reserve(t, st, "person", addr, now)
		if !ok {
			t.Fatal("the third guess of a burst of 3 is refused")
		}
		if err := r.Refund(ctx, false); err != nil {
			t.Fatal(err)
		}
		r, ok, _ = reserve(t, st, "person", addr, now)
		if !ok {
			t.Fatal("the token refunded did not come back")
		}
		if _, ok, _ := reserve(t, st, "person", addr, now); ok {
			t.Fatal("a refund gave back more than one token")
		}
		// The last guess was the holder's: the pair is forgiven.
		if err := r.Refund(ctx, true); err != nil {
			t.Fatal(err)
		}
		// Both refunds gave the address its tokens back: it has spent 2
		// of its 5. The forgiven pair has its whole burst of 3 again.
		if n := reserveAll(t, st, "person", addr, now, 4); n != 3 {
			t.Errorf("after forgiving, %d of 4 guesses passed, want the pair's burst of 3", n)
		}
		if _, ok, _ := reserve(t, st, "another", addr, now); ok {
			t.Error("forgiving the pair forgave the address's guesses at other ids")
		}
	})
}

// TestStoresThrottleGuessesPerAddress: guesses at many ids from one
// address share the address's bucket, and an address refused spends
// nothing of the pair's; IPv6 addresses count by /64.
func TestStoresThrottleGuessesPerAddress(t *testing.T) {
	cfg := ratelimit.ThrottleConfig{Burst: 2, Every: time.Minute, AddrBurst: 4, AddrEvery: time.Minute}
	eachStore(t, bounds{throttle: cfg}, func(t *testing.T, st state.Store, clk *clock) {
		now := clk.now()
		for _, addr := range []string{"203.0.113.7", "2001:db8:1:2::1"} {
			for i := range 4 {
				if _, ok, _ := reserve(t, st, fmt.Sprint("id-", i), addr, now); !ok {
					t.Fatalf("%s: guess at id %d of an address burst of 4 refused", addr, i)
				}
			}
			_, ok, retry := reserve(t, st, "fresh", addr, now)
			if ok || retry < time.Second {
				t.Errorf("%s: a 5th id past the address's burst: ok %v retry %s", addr, ok, retry)
			}
		}
		if _, ok, _ := reserve(t, st, "fresh", "2001:db8:1:2:ffff::9", now); ok {
			t.Error("another address of the same IPv6 /64 has its own budget")
		}
		if _, ok, _ := reserve(t, st, "fresh", "2001:db8:1:3::1", now); !ok {
			t.Error("an address of another /64 is refused")
		}
		// The refusals above spent none of "fresh"'s pair: once the
		// address has a token again, so does the pair, twice.
		later := now.Add(2 * time.Minute)
		if n := reserveAll(t, st, "fresh", "203.0.113.7", later, 3); n != 2 {
			t.Errorf("once the address refilled, %d of 3 guesses at a fresh id passed, want its burst of 2", n)
		}
	})
}

// TestStoresThrottleFailuresPerAddress: failures of any kind from one
// address are counted; past the burst they are throttled, with a
// Retry-After of at least a second, and another address is not.
func TestStoresThrottleFailuresPerAddress(t *testing.T) {
	cfg := ratelimit.ThrottleConfig{FailBurst: 5, FailEvery: 10 * time.Second}
	eachStore(t, bounds{throttle: cfg}, func(t *testing.T, st state.Store, clk *clock) {
		failed := func(addr string, at time.Time) (bool, time.Duration) {
			throttled, retry, err := st.Failed(ctx, addr, at)
			if err != nil {
				t.Fatal(err)
			}
			return throttled, retry
		}
		now := clk.now()
		for i := range 5 {
			if throttled, _ := failed("203.0.113.7", now); throttled {
				t.Fatalf("failure %d of a burst of 5 throttled", i+1)
			}
		}
		throttled, retry := failed("203.0.113.7", now)
		if !throttled || retry < time.Second || retry > 10*time.Second {
			t.Errorf("the 6th failure: throttled %v retry %s; want throttled with retry in [1s, 10s]", throttled, retry)
		}
		if throttled, _ := failed("198.51.100.1", now); throttled {
			t.Error("another address is throttled")
		}
		if throttled, _ := failed("203.0.113.7", now.Add(10*time.Second)); throttled {
			t.Error("a failure earned back is still throttled")
		}
	})
}

// TestStoresThrottleIsAtomic: of many guesses at once at one pair,
// exactly the burst passes: taking a token is one step, not a read and a
// write.
func TestStoresThrottleIsAtomic(t *testing.T) {
	const callers = 60
	eachStore(t, bounds{}, func(t *testing.T, st state.Store, clk *clock) {
		var passed atomic.Int32
		var wg sync.WaitGroup
		for range callers {
			wg.Go(func() {
				_, ok, _, err := st.Reserve(ctx, "person", "203.0.113.7", clk.now())
				if err != nil {
					t.Error(err)
				}
				if ok {
					passed.Add(1)
				}
			})
		}
		wg.Wait()
		if passed.Load() != 10 {
			t.Errorf("%d guesses at once against a burst of 10: %d passed", callers, passed.Load())
		}
	})
}
