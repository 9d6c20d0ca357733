package authz

import (
	"fmt"
	"sync"
	"testing"
)

// TestDecisionCacheStaysBounded: however puts interleave, the cache never
// holds more than max entries plus one per concurrent writer, and it keeps
// what was put last.
func TestDecisionCacheStaysBounded(t *testing.T) {
	const max, writers, puts = 16, 8, 2000
	c := newDecisionCache(max)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range puts {
				c.put(fmt.Sprintf("%d/%d", w, i), &Evaluation{})
			}
		})
	}
	wg.Wait()
	n := 0
	c.entries.Range(func(any, any) bool { n++; return true })
	if n > max+writers {
		t.Errorf("%d entries, want at most %d", n, max+writers)
	}
	c.put("last", &Evaluation{})
	if _, ok := c.get("last"); !ok {
		t.Error("the last entry put is not there")
	}
}
