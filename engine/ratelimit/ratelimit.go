// Package ratelimit enforces each client's token rate limit and slows down
// repeated failed client authentication. Both are token buckets from
// golang.org/x/time/rate, kept in sharded maps so that the hot path takes
// one small lock, and both stay bounded in memory under attack.
package ratelimit

import (
	"hash/maphash"
	"net/netip"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/tollgate-dev/tollgate/engine/model"
)

const shards = 64

var seed = maphash.MakeSeed()

func shardOf(key string) int { return int(maphash.String(seed, key) % shards) }

// Limiter enforces each client's rate_limit with a token bucket per client.
// Only authenticated clients reach it, so its size is bounded by the
// configuration.
type Limiter struct {
	shards [shards]limiterShard
}

type limiterShard struct {
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	rate    model.Rate
	limiter *rate.Limiter
}

// NewLimiter returns an empty Limiter.
func NewLimiter() *Limiter {
	l := &Limiter{}
	for i := range l.shards {
		l.shards[i].buckets = make(map[string]*bucket)
	}
	return l
}

// Allow reports whether client may get one more token at now; when not,
// retryAfter says how long until it may. A nil rate is unlimited. A
// client's bucket survives reloads; if its rate changed, it starts afresh.
func (l *Limiter) Allow(clientID string, r *model.Rate, now time.Time) (ok bool, retryAfter time.Duration) {
	if r == nil || r.Count <= 0 || r.Per <= 0 {
		return true, 0
	}
	s := &l.shards[shardOf(clientID)]
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[clientID]
	if b == nil || b.rate != *r {
		// The whole period's allowance may be spent at once (burst =
		// count), as "600/m" reads to a person.
		b = &bucket{rate: *r, limiter: rate.NewLimiter(rate.Every(r.Per/time.Duration(r.Count)), r.Count)}
		s.buckets[clientID] = b
	}
	res := b.limiter.ReserveN(now, 1)
	if delay := res.DelayFrom(now); delay > 0 {
		res.CancelAt(now)
		return false, delay
	}
	return true, 0
}

// ThrottleConfig sets how many failed authentications a client id or a
// remote address may make before it must wait, and how fast it earns
// attempts back.
type ThrottleConfig struct {
	// Burst failures are allowed at once for one client id.
	Burst int
	// Every is the time a client id takes to earn one failure back.
	Every time.Duration
	// AddrBurst and AddrEvery are the same for one remote address. They
	// are looser, because many clients may share an address (a NAT, a
	// node), and one of them failing must not lock the others out.
	AddrBurst int
	AddrEvery time.Duration
	// MaxKeys bounds the number of ids and addresses tracked; past it, the
	// oldest idle entries are dropped.
	MaxKeys int
}

// DefaultThrottleConfig allows a client id 10 failures in a burst, then
// one every 2 seconds (a person mistyping is never blocked, a guesser gets
// 30 tries a minute), and an address 100, then 5 a second.
func DefaultThrottleConfig() ThrottleConfig {
	return ThrottleConfig{Burst: 10, Every: 2 * time.Second, AddrBurst: 100, AddrEvery: 200 * time.Millisecond, MaxKeys: 100_000}
}

// Throttle slows down repeated failed client authentication, per client id
// and per remote address, so guessing secrets is slow while other clients
// and other addresses are unaffected.
type Throttle struct {
	cfg    ThrottleConfig
	shards [shards]throttleShard
}

type throttleShard struct {
	mu      sync.Mutex
	entries map[string]*failures
}

type failures struct {
	limiter  *rate.Limiter
	lastSeen time.Time
}

// NewThrottle returns a Throttle.
func NewThrottle(cfg ThrottleConfig) *Throttle {
	if cfg.Burst <= 0 {
		cfg.Burst = DefaultThrottleConfig().Burst
	}
	if cfg.Every <= 0 {
		cfg.Every = DefaultThrottleConfig().Every
	}
	if cfg.AddrBurst <= 0 {
		cfg.AddrBurst = cfg.Burst * 10
	}
	if cfg.AddrEvery <= 0 {
		cfg.AddrEvery = cfg.Every / 10
	}
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = DefaultThrottleConfig().MaxKeys
	}
	t := &Throttle{cfg: cfg}
	for i := range t.shards {
		t.shards[i].entries = make(map[string]*failures)
	}
	return t
}

// Ids and addresses share the maps; the prefixes keep them apart.
func idKey(clientID string) string { return "id\x00" + clientID }

// addrKey groups IPv6 addresses by /64: one host usually owns a whole /64.
func addrKey(remoteAddr string) string {
	if ip, err := netip.ParseAddr(remoteAddr); err == nil && ip.Is6() && !ip.Is4In6() {
		prefix, _ := ip.Prefix(64)
		return "ip\x00" + prefix.String()
	}
	return "ip\x00" + remoteAddr
}

// Check is called before a secret is verified: when the client id or the
// address has failed too often, it reports blocked and how long to wait,
// and the caller answers without checking the secret at all.
func (t *Throttle) Check(clientID, remoteAddr string, now time.Time) (blocked bool, retryAfter time.Duration) {
	if wait, blocked := t.check(idKey(clientID), t.cfg.Every, now); blocked {
		return true, wait
	}
	return t.checkAddr(remoteAddr, now)
}

func (t *Throttle) checkAddr(remoteAddr string, now time.Time) (bool, time.Duration) {
	wait, blocked := t.check(addrKey(remoteAddr), t.cfg.AddrEvery, now)
	return blocked, wait
}

func (t *Throttle) check(key string, every time.Duration, now time.Time) (time.Duration, bool) {
	s := &t.shards[shardOf(key)]
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.entries[key]
	if f == nil {
		return 0, false
	}
	if tokens := f.limiter.TokensAt(now); tokens < 1 {
		return max(time.Duration((1-tokens)*float64(every)), time.Second), true
	}
	return 0, false
}

// Failure records a failed authentication against the id and the address.
func (t *Throttle) Failure(clientID, remoteAddr string, now time.Time) {
	t.fail(idKey(clientID), t.cfg.Every, t.cfg.Burst, now)
	t.fail(addrKey(remoteAddr), t.cfg.AddrEvery, t.cfg.AddrBurst, now)
}

func (t *Throttle) fail(key string, every time.Duration, burst int, now time.Time) {
	s := &t.shards[shardOf(key)]
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.entries[key]
	if f == nil {
		if len(s.entries) >= t.cfg.MaxKeys/shards {
			s.pruneLocked(now, t.cfg)
		}
		f = &failures{limiter: rate.NewLimiter(rate.Every(every), burst)}
		s.entries[key] = f
	}
	f.limiter.AllowN(now, 1)
	f.lastSeen = now
}

// Success forgives the client id's failures: the right secret proves the
// caller knew it. The address keeps its record, so one valid client cannot
// launder guesses against others from the same address.
func (t *Throttle) Success(clientID, remoteAddr string) {
	key := idKey(clientID)
	s := &t.shards[shardOf(key)]
	s.mu.Lock()
	delete(s.entries, key)
	s.mu.Unlock()
}

// pruneLocked drops entries that have earned all their attempts back; if
// none has, it drops the least recently seen half, so memory stays bounded
// even when an attacker cycles through ids and addresses.
func (s *throttleShard) pruneLocked(now time.Time, cfg ThrottleConfig) {
	full := max(time.Duration(cfg.Burst)*cfg.Every, time.Duration(cfg.AddrBurst)*cfg.AddrEvery)
	for key, f := range s.entries {
		if now.Sub(f.lastSeen) >= full {
			delete(s.entries, key)
		}
	}
	if len(s.entries) < cfg.MaxKeys/shards {
		return
	}
	seen := make([]time.Time, 0, len(s.entries))
	for _, f := range s.entries {
		seen = append(seen, f.lastSeen)
	}
	cutoff := median(seen)
	for key, f := range s.entries {
		if !f.lastSeen.After(cutoff) {
			delete(s.entries, key)
		}
	}
}

func median(times []time.Time) time.Time {
	slices.SortFunc(times, time.Time.Compare)
	return times[len(times)/2]
}

// Len is the number of ids and addresses tracked.
func (t *Throttle) Len() int {
	n := 0
	for i := range t.shards {
		t.shards[i].mu.Lock()
		n += len(t.shards[i].entries)
		t.shards[i].mu.Unlock()
	}
	return n
}
