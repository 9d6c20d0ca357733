// Package ratelimit enforces each client's token rate limit, slows down
// repeated failed client authentication and bounds the key derivations
// running at once. The limits are token buckets, kept in sharded maps so
// that the hot path takes one small lock, and stay bounded in memory under
// attack.
package ratelimit

import (
	"hash/maphash"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
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

// ThrottleConfig sets how many failed authentications are allowed before
// a caller must wait, and how fast attempts are earned back.
//
// Throttling slows the guesser, never the holder of the secret (RFC 6819
// §4.4.1.11). Only what costs a key derivation, and so what a person chose
// and could be guessed, is refused before it is checked, and only per
// client id and address: a stranger elsewhere cannot spend a client's
// attempts. Every other credential (a generated secret, an assertion, a
// certificate, a person's secret verified before) is checked first, and a
// right one is always accepted.
type ThrottleConfig struct {
	// Burst key derivations are allowed at once for one client id from
	// one address; Every earns one back. A success forgives the pair.
	Burst int
	Every time.Duration
	// AddrBurst and AddrEvery are the same for one address, whatever the
	// ids: looser, because many clients may share an address (a NAT, a
	// proxy), and only guesses at person-chosen secrets spend it.
	AddrBurst int
	AddrEvery time.Duration
	// FailBurst and FailEvery bound the failures of every kind one
	// address may make before its failures are answered 429 instead of
	// 401. The credential is checked first all the same, so a right one
	// from that address still gets in.
	FailBurst int
	FailEvery time.Duration
	// MaxKeys bounds the number of pairs and addresses tracked; past it,
	// the oldest idle entries are dropped.
	MaxKeys int
}

// DefaultThrottleConfig allows one client id 10 guesses at a person's
// secret from one address in a burst, then one every 2 seconds (a person
// mistyping is never blocked, a guesser gets 30 tries a minute); one
// address 100 guesses over all ids, then 5 a second; and 100 failures of
// any kind, then 5 a second, before they are answered 429.
func DefaultThrottleConfig() ThrottleConfig {
	return ThrottleConfig{
		Burst: 10, Every: 2 * time.Second,
		AddrBurst: 100, AddrEvery: 200 * time.Millisecond,
		FailBurst: 100, FailEvery: 200 * time.Millisecond,
		MaxKeys: 100_000,
	}
}

// WithDefaults returns cfg with its zero fields set as NewThrottle sets
// them, for a store that keeps the same buckets elsewhere.
func (cfg ThrottleConfig) WithDefaults() ThrottleConfig {
	def := DefaultThrottleConfig()
	if cfg.Burst <= 0 {
		cfg.Burst = def.Burst
	}
	if cfg.Every <= 0 {
		cfg.Every = def.Every
	}
	if cfg.AddrBurst <= 0 {
		cfg.AddrBurst = cfg.Burst * 10
	}
	if cfg.AddrEvery <= 0 {
		cfg.AddrEvery = cfg.Every / 10
	}
	if cfg.FailBurst <= 0 {
		cfg.FailBurst = cfg.AddrBurst
	}
	if cfg.FailEvery <= 0 {
		cfg.FailEvery = cfg.AddrEvery
	}
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = def.MaxKeys
	}
	return cfg
}

// Throttle counts failed client authentication per (client id, address)
// and per address. Each count is a token bucket: a guess takes a token
// before its key derivation runs, so concurrent guesses cannot all pass a
// check made before any of them failed, and gives it back when it turns
// out to be the holder's.
type Throttle struct {
	cfg    ThrottleConfig
	shards [shards]throttleShard
}

type throttleShard struct {
	mu      sync.Mutex
	entries map[string]*bucketState
}

// bucketState is a token bucket of burst tokens earning one back every
// every.
type bucketState struct {
	tokens   float64
	last     time.Time
	burst    int
	every    time.Duration
	lastSeen time.Time
}

func (b *bucketState) refill(now time.Time) {
	if now.After(b.last) {
		b.tokens = min(float64(b.burst), b.tokens+float64(now.Sub(b.last))/float64(b.every))
		b.last = now
	}
}

// NewThrottle returns a Throttle; zero fields of cfg take the defaults.
func NewThrottle(cfg ThrottleConfig) *Throttle {
	cfg = cfg.WithDefaults()
	t := &Throttle{cfg: cfg}
	for i := range t.shards {
		t.shards[i].entries = make(map[string]*bucketState)
	}
	return t
}

// AddressKey is what remoteAddr is throttled as: IPv6 addresses are
// grouped by /64, since one host usually owns a whole /64.
func AddressKey(remoteAddr string) string {
	if ip, err := netip.ParseAddr(remoteAddr); err == nil && ip.Is6() && !ip.Is4In6() {
		prefix, _ := ip.Prefix(64)
		return prefix.String()
	}
	return remoteAddr
}

// Keys of the three kinds of bucket share the maps; the prefixes keep
// them apart.
func pairKey(clientID, addr string) string { return "p\x00" + addr + "\x00" + clientID }
func guessKey(addr string) string          { return "g\x00" + addr }
func failKey(addr string) string           { return "f\x00" + addr }

// Reservation is one guess's token in its pair's and its address's
// buckets, taken by Reserve.
type Reservation struct {
	t          *Throttle
	pair, addr string
}

// Reserve takes a token for one guess at clientID's secret from
// remoteAddr, before the key derivation runs. When either bucket is
// empty it takes none and says how long to wait.
func (t *Throttle) Reserve(clientID, remoteAddr string, now time.Time) (r Reservation, ok bool, retryAfter time.Duration) {
	addr := AddressKey(remoteAddr)
	r = Reservation{t: t, pair: pairKey(clientID, addr), addr: guessKey(addr)}
	if wait, ok := t.take(r.pair, t.cfg.Burst, t.cfg.Every, now); !ok {
		return Reservation{}, false, wait
	}
	if wait, ok := t.take(r.addr, t.cfg.AddrBurst, t.cfg.AddrEvery, now); !ok {
		t.give(r.pair, false)
		return Reservation{}, false, wait
	}
	return r, true, 0
}

// Refund gives the tokens back: the guess was never checked (the server
// was too busy), or it was the holder's secret, which forgives the
// pair's earlier failures too. The address's earlier failures stay, so a
// client that knows its own secret cannot launder guesses at others'.
func (r Reservation) Refund(forgive bool) {
	if r.t == nil {
		return
	}
	r.t.give(r.pair, forgive)
	r.t.give(r.addr, false)
}

// Failed records a failed authentication of any kind from remoteAddr and
// reports whether the address has failed too often, and so should be
// answered 429 with retryAfter.
func (t *Throttle) Failed(remoteAddr string, now time.Time) (throttled bool, retryAfter time.Duration) {
	wait, ok := t.take(failKey(AddressKey(remoteAddr)), t.cfg.FailBurst, t.cfg.FailEvery, now)
	return !ok, wait
}

// take takes one token from key's bucket, or says how long until there
// is one.
func (t *Throttle) take(key string, burst int, every time.Duration, now time.Time) (time.Duration, bool) {
	s := &t.shards[shardOf(key)]
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.entries[key]
	if b == nil {
		if len(s.entries) >= t.cfg.MaxKeys/shards {
			s.pruneLocked(now, t.cfg)
		}
		b = &bucketState{tokens: float64(burst), last: now, burst: burst, every: every}
		s.entries[key] = b
	}
	b.refill(now)
	b.lastSeen = now
	if b.tokens < 1 {
		return max(time.Duration((1-b.tokens)*float64(every)), time.Second), false
	}
	b.tokens--
	return 0, true
}

// give puts a token back in key's bucket, or, with forgive, forgets it.
func (t *Throttle) give(key string, forgive bool) {
	s := &t.shards[shardOf(key)]
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.entries[key]
	switch {
	case b == nil:
	case forgive:
		delete(s.entries, key)
	default:
		b.tokens = min(float64(b.burst), b.tokens+1)
	}
}

// pruneLocked drops buckets that have earned all their tokens back; if
// none has, it drops the least recently seen half, so memory stays
// bounded even when an attacker cycles through ids and addresses.
func (s *throttleShard) pruneLocked(now time.Time, cfg ThrottleConfig) {
	for key, b := range s.entries {
		b.refill(now)
		if b.tokens >= float64(b.burst) {
			delete(s.entries, key)
		}
	}
	if len(s.entries) < cfg.MaxKeys/shards {
		return
	}
	seen := make([]time.Time, 0, len(s.entries))
	for _, b := range s.entries {
		seen = append(seen, b.lastSeen)
	}
	cutoff := median(seen)
	for key, b := range s.entries {
		if !b.lastSeen.After(cutoff) {
			delete(s.entries, key)
		}
	}
}

func median(times []time.Time) time.Time {
	slices.SortFunc(times, time.Time.Compare)
	return times[len(times)/2]
}

// Len is the number of buckets tracked.
func (t *Throttle) Len() int {
	n := 0
	for i := range t.shards {
		t.shards[i].mu.Lock()
		n += len(t.shards[i].entries)
		t.shards[i].mu.Unlock()
	}
	return n
}

// Slots bound work that may run at once, such as key derivations: each
// takes memory (argon2id: tens of MiB) and a core, so running more of
// them at once than there are cores only adds memory. Callers past the
// bound wait, up to a limit in number and in time, and are then refused.
type Slots struct {
	sem        chan struct{}
	waiting    atomic.Int64
	maxWaiting int64
	maxWait    time.Duration
}

// NewSlots lets n run at once, and at most maxWaiting wait, each at most
// maxWait.
func NewSlots(n, maxWaiting int, maxWait time.Duration) *Slots {
	return &Slots{sem: make(chan struct{}, max(n, 1)), maxWaiting: int64(maxWaiting), maxWait: maxWait}
}

// DefaultSlots lets one key derivation per core run at once, with 32 per
// core waiting for at most 2 seconds: a waiting request holds no
// derivation's memory, and a burst of holders (a fleet restarting) gets
// through rather than being refused.
func DefaultSlots() *Slots {
	n := runtime.GOMAXPROCS(0)
	return NewSlots(n, 32*n, 2*time.Second)
}

// Acquire takes a slot, waiting if need be; it reports false, holding
// nothing, when too many wait already or the wait ran out. Release gives
// the slot back.
func (s *Slots) Acquire() bool {
	select {
	case s.sem <- struct{}{}:
		return true
	default:
	}
	if s.waiting.Add(1) > s.maxWaiting {
		s.waiting.Add(-1)
		return false
	}
	defer s.waiting.Add(-1)
	timer := time.NewTimer(s.maxWait)
	defer timer.Stop()
	select {
	case s.sem <- struct{}{}:
		return true
	case <-timer.C:
		return false
	}
}

// Release gives back a slot Acquire took.
func (s *Slots) Release() { <-s.sem }
