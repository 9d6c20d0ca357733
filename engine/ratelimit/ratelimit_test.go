package ratelimit_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/engine/model"
	"github.com/tollgate-dev/tollgate/engine/ratelimit"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func TestLimiterEnforcesTheClientsRate(t *testing.T) {
	tests := []struct {
		name      string
		rate      *model.Rate
		requests  int
		at        time.Duration // offset of every request
		wantAllow int
	}{
		{"unlimited", nil, 1000, 0, 1000},
		{"burst of the whole period", &model.Rate{Count: 5, Per: time.Minute}, 8, 0, 5},
		{"per second", &model.Rate{Count: 2, Per: time.Second}, 3, 0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := ratelimit.NewLimiter()
			allowed := 0
			for range tt.requests {
				if ok, _ := l.Allow("c", tt.rate, t0.Add(tt.at)); ok {
					allowed++
				}
			}
			if allowed != tt.wantAllow {
				t.Errorf("allowed %d, want %d", allowed, tt.wantAllow)
			}
		})
	}
}

func TestLimiterRefillsAndTellsWhenToRetry(t *testing.T) {
	l := ratelimit.NewLimiter()
	r := &model.Rate{Count: 60, Per: time.Minute}
	for range 60 {
		if ok, _ := l.Allow("c", r, t0); !ok {
			t.Fatal("denied within the burst")
		}
	}
	ok, retry := l.Allow("c", r, t0)
	if ok || retry <= 0 || retry > time.Second {
		t.Fatalf("61st request: ok %v retry %s; want denied with retry in (0, 1s]", ok, retry)
	}
	if ok, _ := l.Allow("c", r, t0.Add(time.Second)); !ok {
		t.Error("one token should have come back after a second")
	}
	if ok, _ := l.Allow("other", r, t0); !ok {
		t.Error("another client is affected")
	}
	if ok, _ := l.Allow("c", &model.Rate{Count: 100, Per: time.Minute}, t0.Add(time.Second)); !ok {
		t.Error("a changed rate should start a new bucket")
	}
}

// TestThrottleIsPerIDAndAddress: guesses at one id from one address run
// out; the same id from another address, and another id from the same
// address, still have theirs.
func TestThrottleIsPerIDAndAddress(t *testing.T) {
	th := ratelimit.NewThrottle(ratelimit.ThrottleConfig{Burst: 3, Every: time.Second, AddrBurst: 5, AddrEvery: time.Second, MaxKeys: 1000})
	for i := range 3 {
		if _, ok, _ := th.Reserve("victim", "10.0.0.1", t0); !ok {
			t.Fatalf("guess %d refused within the burst", i)
		}
	}
	if _, ok, retry := th.Reserve("victim", "10.0.0.1", t0); ok || retry < time.Second {
		t.Errorf("past the burst: ok %v retry %s; want refused", ok, retry)
	}
	if _, ok, _ := th.Reserve("victim", "10.0.0.2", t0); !ok {
		t.Error("the same id from another address is refused: a stranger locked it out")
	}
	if _, ok, _ := th.Reserve("other", "10.0.0.1", t0); !ok {
		t.Error("another id from the address is refused before the address's burst")
	}
	th.Reserve("third", "10.0.0.1", t0)
	if _, ok, _ := th.Reserve("fourth", "10.0.0.1", t0); ok {
		t.Error("an address past its burst should be refused for every id")
	}
	if _, ok, _ := th.Reserve("victim", "10.0.0.1", t0.Add(1500*time.Millisecond)); !ok {
		t.Error("the pair should earn a guess back after Every")
	}
}

// TestThrottleReservesAtomically: of many guesses at once, only the burst
// gets a token, however they interleave.
func TestThrottleReservesAtomically(t *testing.T) {
	th := ratelimit.NewThrottle(ratelimit.ThrottleConfig{Burst: 10, Every: time.Hour})
	var wg sync.WaitGroup
	var got atomic.Int64
	for range 60 {
		wg.Go(func() {
			if _, ok, _ := th.Reserve("person", "10.0.0.1", t0); ok {
				got.Add(1)
			}
		})
	}
	wg.Wait()
	if got.Load() != 10 {
		t.Errorf("%d of 60 concurrent guesses reserved, want 10", got.Load())
	}
}

// TestThrottleRefund: a refunded guess costs nothing; a forgiving refund
// (the holder's secret) clears the pair, but not the address.
func TestThrottleRefund(t *testing.T) {
	th := ratelimit.NewThrottle(ratelimit.ThrottleConfig{Burst: 2, Every: time.Hour, AddrBurst: 2, AddrEvery: time.Hour})
	for range 5 {
		r, ok, _ := th.Reserve("c", "10.0.0.1", t0)
		if !ok {
			t.Fatal("a refunded guess was counted")
		}
		r.Refund(false)
	}
	th.Reserve("c", "10.0.0.1", t0)
	r, _, _ := th.Reserve("c", "10.0.0.1", t0)
	if _, ok, _ := th.Reserve("c", "10.0.0.1", t0); ok {
		t.Fatal("past the burst")
	}
	r.Refund(true)
	if _, ok, _ := th.Reserve("c", "10.0.0.1", t0); !ok {
		t.Error("the holder's success did not forgive the pair")
	}
	if _, ok, _ := th.Reserve("d", "10.0.0.1", t0); ok {
		t.Error("a success forgave the address's earlier guesses")
	}
}

func TestThrottleFailuresAnswer429PastTheirBurst(t *testing.T) {
	th := ratelimit.NewThrottle(ratelimit.ThrottleConfig{FailBurst: 3, FailEvery: time.Second})
	for i := range 3 {
		if throttled, _ := th.Failed("10.0.0.1", t0); throttled {
			t.Fatalf("failure %d throttled within the burst", i)
		}
	}
	if throttled, retry := th.Failed("10.0.0.1", t0); !throttled || retry < time.Second {
		t.Errorf("past the burst: throttled %v retry %s", throttled, retry)
	}
	if throttled, _ := th.Failed("10.0.0.2", t0); throttled {
		t.Error("another address is throttled")
	}
	if _, ok, _ := th.Reserve("c", "10.0.0.1", t0); !ok {
		t.Error("cheap failures spent the address's guesses")
	}
}

func TestThrottleGroupsIPv6By64(t *testing.T) {
	th := ratelimit.NewThrottle(ratelimit.ThrottleConfig{Burst: 2, Every: time.Hour, AddrBurst: 2, AddrEvery: time.Hour})
	th.Reserve("a", "2001:db8::1", t0)
	th.Reserve("b", "2001:db8::2", t0)
	if _, ok, _ := th.Reserve("c", "2001:db8::ffff", t0); ok {
		t.Error("addresses of one /64 should share a bucket")
	}
	if _, ok, _ := th.Reserve("c", "2001:db8:0:1::1", t0); !ok {
		t.Error("another /64 is refused")
	}
}

func TestThrottleMemoryIsBounded(t *testing.T) {
	th := ratelimit.NewThrottle(ratelimit.ThrottleConfig{Burst: 10, Every: time.Hour, MaxKeys: 6400})
	for i := range 100_000 {
		addr := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		th.Reserve(fmt.Sprintf("random-%d", i), addr, t0.Add(time.Duration(i)))
		th.Failed(addr, t0.Add(time.Duration(i)))
	}
	if n := th.Len(); n > 6400 {
		t.Errorf("tracking %d keys, want at most 6400", n)
	}
}

// TestSlotsBoundWhatRunsAtOnce: past n at once, callers wait for a slot;
// past maxWaiting waiting, or past maxWait, they are refused.
func TestSlotsBoundWhatRunsAtOnce(t *testing.T) {
	s := ratelimit.NewSlots(2, 1, 50*time.Millisecond)
	if !s.Acquire() || !s.Acquire() {
		t.Fatal("refused within n")
	}
	start := time.Now()
	if s.Acquire() {
		t.Fatal("a third ran at once")
	}
	if waited := time.Since(start); waited < 40*time.Millisecond {
		t.Errorf("refused after %s, want after waiting maxWait", waited)
	}
	got := make(chan bool)
	go func() { got <- s.Acquire() }()
	time.Sleep(10 * time.Millisecond)
	if s.Acquire() {
		t.Error("a second waiter was let in past maxWaiting")
	}
	s.Release()
	if !<-got {
		t.Error("the waiter did not get the released slot")
	}
}

func BenchmarkAllow(b *testing.B) {
	l := ratelimit.NewLimiter()
	r := &model.Rate{Count: 1 << 30, Per: time.Second}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Allow("client-0001", r, time.Now())
		}
	})
}

func BenchmarkThrottleReserve(b *testing.B) {
	th := ratelimit.NewThrottle(ratelimit.DefaultThrottleConfig())
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r, _, _ := th.Reserve("client-0001", "127.0.0.1", time.Now())
			r.Refund(true)
		}
	})
}
