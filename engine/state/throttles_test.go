package state_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/engine/ratelimit"
	"github.com/tollgate-dev/tollgate/engine/state"
)

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
