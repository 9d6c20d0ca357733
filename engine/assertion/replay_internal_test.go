package assertion

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestReplayCacheSweepsExpiredEntries: entries of expired assertions are
// dropped at the next sweep, a minute on, even when the cache is far from
// full; unexpired ones stay.
func TestReplayCacheSweepsExpiredEntries(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	c := newReplayCache(1000)
	for i := range 10 {
		if err := c.use("c", fmt.Sprint(i), now.Add(time.Minute), now); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.use("c", "long", now.Add(5*time.Minute), now); err != nil {
		t.Fatal(err)
	}
	later := now.Add(2 * time.Minute)
	if err := c.use("c", "new", later.Add(time.Minute), later); err != nil {
		t.Fatal(err)
	}
	if len(c.seen) != 2 {
		t.Errorf("%d entries after the sweep, want 2 (the unexpired and the new one)", len(c.seen))
	}
	if err := c.use("c", "long", later.Add(time.Minute), later); !errors.Is(err, errReplayed) {
		t.Errorf("an unexpired jti after the sweep: %v, want errReplayed", err)
	}
}
