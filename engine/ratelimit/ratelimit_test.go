package ratelimit_test

import (
	"fmt"
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

func TestThrottleBlocksByClientAndByAddress(t *testing.T) {
	cfg := ratelimit.ThrottleConfig{Burst: 3, Every: time.Second, AddrBurst: 4, AddrEvery: time.Second, MaxKeys: 1000}
	th := ratelimit.NewThrottle(cfg)
	for range 3 {
		if blocked, _ := th.Check("victim", "10.0.0.1", t0); blocked {
			t.Fatal("blocked within the burst")
		}
		th.Failure("victim", "10.0.0.1", t0)
	}
	blocked, retry := th.Check("victim", "10.0.0.2", t0)
	if !blocked || retry < time.Second {
		t.Errorf("same client id from another address: blocked %v retry %s; want blocked", blocked, retry)
	}
	if blocked, _ := th.Check("another-client", "10.0.0.1", t0); blocked {
		t.Error("the address allows more failures than one client id: another client from it is not blocked yet")
	}
	th.Failure("another-client", "10.0.0.1", t0)
	if blocked, _ := th.Check("third-client", "10.0.0.1", t0); !blocked {
		t.Error("an address past its burst should be blocked for every client id")
	}
	if blocked, _ := th.Check("another-client", "10.0.0.9", t0); blocked {
		t.Error("an unrelated client from an unrelated address is blocked")
	}
	if blocked, _ := th.Check("victim", "10.0.0.3", t0.Add(1500*time.Millisecond)); blocked {
		t.Error("the client id should earn an attempt back after Every")
	}
	th.Success("victim", "10.0.0.1")
	if blocked, _ := th.Check("victim", "10.0.0.4", t0); blocked {
		t.Error("a success forgives the client id")
	}
	if blocked, _ := th.Check("x", "10.0.0.1", t0); !blocked {
		t.Error("a success must not forgive the address")
	}
}

func TestThrottleGroupsIPv6By64(t *testing.T) {
	th := ratelimit.NewThrottle(ratelimit.ThrottleConfig{Burst: 2, Every: time.Hour, AddrBurst: 2, AddrEvery: time.Hour})
	th.Failure("a", "2001:db8::1", t0)
	th.Failure("b", "2001:db8::2", t0)
	if blocked, _ := th.Check("c", "2001:db8::ffff", t0); !blocked {
		t.Error("addresses of one /64 should share a record")
	}
	if blocked, _ := th.Check("c", "2001:db8:0:1::1", t0); blocked {
		t.Error("another /64 is blocked")
	}
}

func TestThrottleMemoryIsBounded(t *testing.T) {
	th := ratelimit.NewThrottle(ratelimit.ThrottleConfig{Burst: 10, Every: time.Hour, MaxKeys: 6400})
	for i := range 100_000 {
		th.Failure(fmt.Sprintf("random-%d", i), fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), t0.Add(time.Duration(i)))
	}
	if n := th.Len(); n > 6400 {
		t.Errorf("tracking %d keys, want at most 6400", n)
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

func BenchmarkThrottleCheck(b *testing.B) {
	th := ratelimit.NewThrottle(ratelimit.DefaultThrottleConfig())
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			th.Check("client-0001", "127.0.0.1", time.Now())
		}
	})
}
