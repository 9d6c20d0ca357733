package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate-dev/tollgate/engine/metrics"
	"github.com/tollgate-dev/tollgate/engine/state"
)

// StateCheckEvery is how often a replica pings a shared state store: how
// soon /readyz shows an outage, and the recovery after it.
const StateCheckEvery = time.Second

// stateLogEvery bounds the log lines of failed state calls: the first is
// logged at once, then one line at most this often, with the counts.
const stateLogEvery = 10 * time.Second

// sharedState reports whether --state names a store shared by replicas.
func sharedState(url string) bool { return url != "" && url != "memory" }

// openSharedState opens the store of --state redis://. Redis may be away
// at start: the server starts all the same, not ready until it answers.
func (s *Server) openSharedState() (state.Store, error) {
	if s.cfg.DataDir != "" {
		return nil, errors.New("--data-dir and --state redis:// exclude each other: the Redis server keeps the state")
	}
	r, err := state.OpenRedis(state.RedisOptions{URL: s.cfg.State})
	if err != nil {
		return nil, err
	}
	s.health.ping = r.Ping
	s.health.where = r.String()
	s.closers = append(s.closers, closerFunc(s.health.stop), r)
	if err := s.health.check(context.Background()); err != nil {
		s.log.Warn("the shared state does not answer: not ready until it does; what needs it is refused with 503",
			"state", r.String(), "error", err.Error())
	} else {
		s.log.Info("state shared on Redis: revocations, used client assertion ids, rate limits and failed-authentication throttles", "state", r.String())
	}
	s.health.start(StateCheckEvery)
	return r, nil
}

type closerFunc func()

func (f closerFunc) Close() error { f(); return nil }

// stateHealth watches the state store: a periodic PING says whether it
// answers (for /readyz and the tollgate_state_up gauge), and every failed
// call is counted by operation and logged at a bounded rate.
type stateHealth struct {
	log     *slog.Logger
	metrics *metrics.Metrics
	// ping is nil for the memory store, which is always up.
	ping  func(context.Context) error
	where string
	down  atomic.Bool
	quit  chan struct{}
	done  chan struct{}

	mu       sync.Mutex
	lastLog  time.Time
	failures map[string]int // since the last line, by operation
}

func newStateHealth(log *slog.Logger, m *metrics.Metrics) *stateHealth {
	return &stateHealth{log: log, metrics: m, where: "memory", failures: map[string]int{}}
}

// up reports whether the store answered its last check.
func (h *stateHealth) up() bool { return !h.down.Load() }

// check pings the store once and records the answer; a change is logged.
func (h *stateHealth) check(ctx context.Context) error {
	err := h.ping(ctx)
	if err != nil {
		h.metrics.StateFailed("ping")
	}
	h.metrics.StateUp(err == nil)
	wasDown := h.down.Swap(err != nil)
	switch {
	case err != nil && !wasDown:
		h.log.Error("the shared state does not answer: /readyz answers 503, and what needs it is refused with 503 temporarily_unavailable",
			"state", h.where, "error", err.Error())
	case err == nil && wasDown:
		h.log.Info("the shared state answers again", "state", h.where)
	}
	return err
}

func (h *stateHealth) start(every time.Duration) {
	h.quit, h.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(h.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-h.quit:
				return
			case <-tick.C:
				_ = h.check(context.Background())
			}
		}
	}()
}

func (h *stateHealth) stop() {
	if h.quit == nil {
		return
	}
	close(h.quit)
	<-h.done
	h.quit = nil
}

// failed counts a failed call of op and logs it: the first at once, then
// at most one line per stateLogEvery with how many failed meanwhile.
func (h *stateHealth) failed(op string, err error) {
	h.metrics.StateFailed(op)
	now := time.Now()
	h.mu.Lock()
	h.failures[op]++
	if now.Sub(h.lastLog) < stateLogEvery {
		h.mu.Unlock()
		return
	}
	counts := h.failures
	h.failures, h.lastLog = map[string]int{}, now
	h.mu.Unlock()
	h.log.Error("state store calls failed: the requests that needed them were refused with 503 temporarily_unavailable",
		"state", h.where, "failures", formatCounts(counts), "last_op", op, "error", err.Error(),
		"next_report_in", stateLogEvery.String())
}

func formatCounts(counts map[string]int) string {
	ops := make([]string, 0, len(counts))
	for op, n := range counts {
		ops = append(ops, fmt.Sprintf("%s=%d", op, n))
	}
	sort.Strings(ops)
	return strings.Join(ops, ",")
}
