package cache_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/tollgate-dev/tollgate/engine/cache"
)

func stringSize(s string) int { return len(s) }

// held is what the cache holds, counted from its entries: the same
// measure as its own accounting, without trusting it.
func held(c *cache.Cache[string]) (bytes int64, entries int) {
	c.Range(func(k, v string) bool {
		bytes += int64(len(k) + len(v) + cache.EntryOverhead)
		entries++
		return true
	})
	return bytes, entries
}

func TestGetReturnsWhatWasPut(t *testing.T) {
	c := cache.New(1<<20, stringSize)
	if _, ok := c.Get("a"); ok {
		t.Fatal("an empty cache has a")
	}
	c.Put("a", "first")
	c.Put("a", "second")
	if v, ok := c.Get("a"); !ok || v != "first" {
		t.Errorf("Get(a) = %q, %v; want the first value put", v, ok)
	}
	if got, want := c.Bytes(), int64(len("a")+len("first")+cache.EntryOverhead); got != want {
		t.Errorf("Bytes = %d, want %d: a second Put of a key counts nothing", got, want)
	}
}

func TestLargeValuesStayWithinTheBudget(t *testing.T) {
	const budget = 64 << 10
	c := cache.New(budget, stringSize)
	large := strings.Repeat("v", 3<<10)
	for i := range 1000 {
		c.Put(fmt.Sprintf("key-%d", i), large)
		if c.Bytes() > budget {
			t.Fatalf("after %d puts the cache counts %d bytes, over %d", i+1, c.Bytes(), budget)
		}
	}
	bytes, entries := held(c)
	if bytes > c.Bytes() {
		t.Errorf("the entries hold %d bytes, the cache counts %d", bytes, c.Bytes())
	}
	if entries == 0 || entries > budget/len(large) {
		t.Errorf("%d entries of %d bytes in a budget of %d", entries, len(large), budget)
	}
	if _, ok := c.Get("key-999"); !ok {
		t.Error("the last entry put is gone")
	}
}

func TestAnEntryOverHalfTheBudgetIsNotStored(t *testing.T) {
	c := cache.New(1<<10, stringSize)
	c.Put("big", strings.Repeat("x", 600))
	if _, ok := c.Get("big"); ok || c.Bytes() != 0 {
		t.Errorf("an entry larger than a generation was stored (%d bytes)", c.Bytes())
	}
}

// TestWhatIsAskedForSurvivesAFlood: an entry read again and again stays
// while unique one-off entries many times the budget pass through.
func TestWhatIsAskedForSurvivesAFlood(t *testing.T) {
	const budget = 32 << 10
	c := cache.New(budget, stringSize)
	c.Put("hot", "value")
	for i := range 10 * budget / 100 {
		c.Put(fmt.Sprintf("one-off-%d", i), strings.Repeat("x", 100))
		if i%10 == 0 {
			if _, ok := c.Get("hot"); !ok {
				t.Fatalf("the hot entry was dropped after %d one-off entries", i)
			}
		}
	}
}

func TestConcurrentPutsStayWithinTheBudget(t *testing.T) {
	const budget, writers, puts = 16 << 10, 8, 2000
	c := cache.New(budget, stringSize)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range puts {
				key := fmt.Sprintf("%d/%d", w, i)
				c.Put(key, strings.Repeat("v", i%200))
				c.Get(key)
				if n := c.Bytes(); n > budget {
					t.Errorf("the cache counts %d bytes, over %d", n, budget)
					return
				}
			}
		})
	}
	wg.Wait()
	if bytes, _ := held(c); bytes > budget {
		t.Errorf("the entries hold %d bytes, over %d", bytes, budget)
	}
}

func BenchmarkGetHit(b *testing.B) {
	c := cache.New(1<<20, stringSize)
	c.Put("client\x00basic\x01Server2", "decision")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := c.Get("client\x00basic\x01Server2"); !ok {
				b.Fatal("miss")
			}
		}
	})
}
