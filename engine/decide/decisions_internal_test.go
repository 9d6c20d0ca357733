package decide

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestDecisionCacheStaysWithinItsBytes: a client sending many unique,
// large values cannot grow the decision cache past its byte budget, and
// an audience that names no server is not kept at all.
func TestDecisionCacheStaysWithinItsBytes(t *testing.T) {
	snap := exampleDecider(t)
	const budget = 1 << 20
	snap.decisions = newDecisionCache(budget)
	ctx := context.Background()
	large := strings.Repeat("x", 8<<10)
	for i := range 300 {
		unknown := fmt.Sprintf("https://%d.example/%s", i, large)
		ev, err := snap.Evaluate(ctx, &EvalRequest{ClientID: "Client1", Audience: []string{unknown}})
		if err != nil || ev.Decision.Allow || ev.Decision.Error != "invalid_target" {
			t.Fatalf("unknown audience: %+v %v", ev, err)
		}
		// A known server with a unique unknown scope is cached, within
		// the budget.
		ev, err = snap.Evaluate(ctx, &EvalRequest{ClientID: "Client1", Audience: []string{"Server2"}, Scope: []string{fmt.Sprint(i) + large}})
		if err != nil || ev.Decision.Allow {
			t.Fatalf("unknown scope: %+v %v", ev, err)
		}
	}
	held, unknownKept := int64(0), 0
	snap.decisions.Range(func(k string, ev *Evaluation) bool {
		held += int64(len(k) + evaluationSize(ev))
		if strings.Contains(k, ".example/") {
			unknownKept++
		}
		return true
	})
	if held > budget || snap.decisions.Bytes() > budget {
		t.Errorf("the cache holds %d bytes of keys and values and counts %d, want at most %d", held, snap.decisions.Bytes(), budget)
	}
	if held == 0 {
		t.Error("nothing was cached: the test proves nothing")
	}
	if unknownKept > 0 {
		t.Errorf("%d entries are keyed by an audience that names no server", unknownKept)
	}
}
