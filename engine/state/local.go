package state

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/engine/model"
	"github.com/tollgate-dev/tollgate/engine/ratelimit"
)

// Options configure a Local.
type Options struct {
	// Dir keeps the state in files there as well as in memory, so that it
	// survives a restart; empty keeps it in memory only. One process at a
	// time may use a folder.
	Dir string
	// MaxRevocationsPerClient and MaxAssertionsPerClient default to the
	// package's constants.
	MaxRevocationsPerClient int
	MaxAssertionsPerClient  int
	// Throttle configures the failed-authentication throttle; zero fields
	// take ratelimit's defaults.
	Throttle ratelimit.ThrottleConfig
	// Now is the clock; tests set it.
	Now func() time.Time
}

// Files of Options.Dir.
const (
	RevocationsFile = "revocations.jsonl"
	AssertionsFile  = "assertions.jsonl"
	lockFile        = "lock"
)

// sweepEvery bounds how long expired entries linger in memory.
const sweepEvery = time.Minute

// Local is the state of one process: in memory, and with a Dir also in
// append-only files there. A change is written and fsynced before the
// call that makes it returns; concurrent changes share one fsync. The
// files are read back at start, dropping what expired and tolerating a
// torn last line, and rewritten from memory (compacted) then and whenever
// they have grown past twice what is live.
type Local struct {
	now         func() time.Time
	revocations *revocationSet
	assertions  *replaySet
	// limiter is in memory only: buckets refill within their period, so
	// a restart forgets little.
	limiter *ratelimit.Limiter
	// throttle is in memory only too, and bounded in keys.
	throttle *ratelimit.Throttle
	lock     *os.File
	loaded   Loaded
}

// Loaded says what Open found in the files of its Dir.
type Loaded struct {
	Revocations, Assertions int
	// Skipped counts lines that could not be read: a torn last line after
	// a crash, or damage.
	Skipped int
}

// Open returns the state of one process, read from opts.Dir when set.
func Open(opts Options) (*Local, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxRevocationsPerClient <= 0 {
		opts.MaxRevocationsPerClient = MaxRevocationsPerClient
	}
	if opts.MaxAssertionsPerClient <= 0 {
		opts.MaxAssertionsPerClient = MaxAssertionsPerClient
	}
	l := &Local{
		now:         opts.Now,
		revocations: &revocationSet{clients: map[string]*clientRevocations{}, max: opts.MaxRevocationsPerClient},
		assertions:  &replaySet{clients: map[string]map[jtiKey]int64{}, max: opts.MaxAssertionsPerClient},
		limiter:     ratelimit.NewLimiter(),
		throttle:    ratelimit.NewThrottle(opts.Throttle),
	}
	if opts.Dir == "" {
		return l, nil
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	lock, err := lockDir(filepath.Join(opts.Dir, lockFile))
	if err != nil {
		return nil, err
	}
	l.lock = lock
	now := l.now()
	var skipped int
	if l.revocations.journal, l.loaded.Revocations, skipped, err = openJournal(filepath.Join(opts.Dir, RevocationsFile), l.now,
		func(r record) bool { return l.revocations.load(r, now) }, l.revocations.records); err != nil {
		_ = l.Close()
		return nil, err
	}
	l.loaded.Skipped += skipped
	if l.assertions.journal, l.loaded.Assertions, skipped, err = openJournal(filepath.Join(opts.Dir, AssertionsFile), l.now,
		func(r record) bool { return l.assertions.load(r, now) }, l.assertions.records); err != nil {
		_ = l.Close()
		return nil, err
	}
	l.loaded.Skipped += skipped
	return l, nil
}

// Loaded says what Open read back from the files.
func (l *Local) Loaded() Loaded { return l.loaded }

// Durable reports whether the state survives a restart.
func (l *Local) Durable() bool { return l.lock != nil }

// Close closes the files and frees the folder for another process.
func (l *Local) Close() error {
	err := errors.Join(l.revocations.journal.close(), l.assertions.journal.close())
	if l.lock != nil {
		err = errors.Join(err, l.lock.Close())
		l.lock = nil
	}
	return err
}

// Revoke implements Revocations.
func (l *Local) Revoke(_ context.Context, t Token) error { return l.revocations.revoke(t, l.now()) }

// Revoked implements Revocations.
func (l *Local) Revoked(_ context.Context, t Token) (bool, error) {
	return l.revocations.revoked(t), nil
}

// Seen implements Replay.
func (l *Local) Seen(_ context.Context, client, jti string) (bool, error) {
	return l.assertions.seen(client, jti), nil
}

// Use implements Replay.
func (l *Local) Use(_ context.Context, client, jti string, until time.Time) error {
	return l.assertions.use(client, jti, until, l.now())
}

// Allow implements RateLimits.
func (l *Local) Allow(_ context.Context, client string, r model.Rate, now time.Time) (bool, time.Duration, error) {
	ok, retryAfter := l.limiter.Allow(client, &r, now)
	return ok, retryAfter, nil
}

// Reserve implements Throttles.
func (l *Local) Reserve(_ context.Context, client, remoteAddr string, now time.Time) (Reservation, bool, time.Duration, error) {
	r, ok, retryAfter := l.throttle.Reserve(client, remoteAddr, now)
	if !ok {
		return nil, false, retryAfter, nil
	}
	return localReservation{r}, true, 0, nil
}

type localReservation struct{ r ratelimit.Reservation }

func (r localReservation) Refund(_ context.Context, forgive bool) error {
	r.r.Refund(forgive)
	return nil
}

// Failed implements Throttles.
func (l *Local) Failed(_ context.Context, remoteAddr string, now time.Time) (bool, time.Duration, error) {
	throttled, retryAfter := l.throttle.Failed(remoteAddr, now)
	return throttled, retryAfter, nil
}

// record is one line of a file: a revoked token (Client, JTI, Exp), a
// client's cut-off (Client, Before), or a used assertion (Client, JTI: a
// hash of the jti, Exp: the last second it could be accepted).
type record struct {
	Client string `json:"client"`
	JTI    string `json:"jti,omitempty"`
	Exp    int64  `json:"exp,omitempty"`
	Before int64  `json:"before,omitempty"`
}

func (r record) appendLine(b []byte) []byte {
	line, _ := json.Marshal(r) // strings and integers only: it cannot fail
	return append(append(b, line...), '\n')
}

// revocationSet holds revoked token ids per client until the tokens
// expire, and per client a cut-off: tokens issued at or before it are all
// revoked.
type revocationSet struct {
	mu        sync.RWMutex
	clients   map[string]*clientRevocations
	max       int
	lastSweep time.Time
	journal   *journal // nil in memory only
}

type clientRevocations struct {
	ids map[string]int64 // jti -> exp, Unix seconds
	// before is a Unix second; zero when none. It is kept for good: one
	// number per client that ever overflowed, and no token it covers may
	// come back.
	before int64
}

func (r *revocationSet) revoke(t Token, now time.Time) error {
	r.mu.Lock()
	c := r.clients[t.Client]
	if c == nil {
		c = &clientRevocations{ids: map[string]int64{}}
		r.clients[t.Client] = c
	}
	if _, done := c.ids[t.ID]; done || t.IssuedAt.Unix() <= c.before {
		r.mu.Unlock()
		// A retry after a failed write must not pass for stored.
		return r.journal.retry()
	}
	if len(c.ids) >= r.max {
		c.sweep(now.Unix())
	}
	var line []byte
	if len(c.ids) < r.max {
		c.ids[t.ID] = t.ExpiresAt.Unix()
		line = record{Client: t.Client, JTI: t.ID, Exp: t.ExpiresAt.Unix()}.appendLine(nil)
	} else {
		// Every token in ids was issued before now: the cut-off covers
		// them all, and this one.
		c.before = max(c.before, now.Unix(), t.IssuedAt.Unix())
		clear(c.ids)
		line = record{Client: t.Client, Before: c.before}.appendLine(nil)
	}
	if now.Sub(r.lastSweep) >= sweepEvery {
		r.lastSweep = now
		for id, c := range r.clients {
			if c.sweep(now.Unix()); len(c.ids) == 0 && c.before == 0 {
				delete(r.clients, id)
			}
		}
	}
	r.mu.Unlock()
	return r.journal.append(line)
}

func (c *clientRevocations) sweep(now int64) {
	for id, exp := range c.ids {
		if exp < now {
			delete(c.ids, id)
		}
	}
}

func (r *revocationSet) revoked(t Token) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c := r.clients[t.Client]
	if c == nil {
		return false
	}
	if t.IssuedAt.Unix() <= c.before {
		return true
	}
	_, ok := c.ids[t.ID]
	return ok
}

// load takes one record read back from the file.
func (r *revocationSet) load(rec record, now time.Time) bool {
	switch {
	case rec.Client == "":
		return false
	case rec.Before > 0:
		c := r.clientOf(rec.Client)
		c.before = max(c.before, rec.Before)
		clear(c.ids)
		return true
	case rec.JTI == "" || rec.Exp < now.Unix():
		return rec.JTI != ""
	}
	c := r.clientOf(rec.Client)
	if len(c.ids) >= r.max {
		// More than the bound allows now: fail safe, as revoke would.
		c.before = max(c.before, now.Unix())
		clear(c.ids)
		return true
	}
	c.ids[rec.JTI] = rec.Exp
	return true
}

func (r *revocationSet) clientOf(id string) *clientRevocations {
	c := r.clients[id]
	if c == nil {
		c = &clientRevocations{ids: map[string]int64{}}
		r.clients[id] = c
	}
	return c
}

// records appends every live record, one a line, for a rewrite.
func (r *revocationSet) records(b []byte, now int64) ([]byte, int) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	n := 0
	for id, c := range r.clients {
		if c.before > 0 {
			b = record{Client: id, Before: c.before}.appendLine(b)
			n++
		}
		for jti, exp := range c.ids {
			if exp >= now {
				b = record{Client: id, JTI: jti, Exp: exp}.appendLine(b)
				n++
			}
		}
	}
	return b, n
}

// replaySet remembers, per client, a hash of each used jti (never the
// assertion) until the assertion expires.
type replaySet struct {
	mu        sync.Mutex
	clients   map[string]map[jtiKey]int64 // -> until, Unix seconds
	max       int
	lastSweep time.Time
	journal   *journal
}

type jtiKey [16]byte

func keyOf(jti string) jtiKey {
	sum := sha256.Sum256([]byte(jti))
	return jtiKey(sum[:16])
}

func (r *replaySet) seen(client, jti string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.clients[client][keyOf(jti)]
	return ok
}

func (r *replaySet) use(client, jti string, until, now time.Time) error {
	key := keyOf(jti)
	// Kept through the whole second until falls in.
	last := until.Unix()
	if until.Nanosecond() > 0 {
		last++
	}
	r.mu.Lock()
	seen := r.clients[client]
	if seen == nil {
		seen = map[jtiKey]int64{}
		r.clients[client] = seen
	}
	if _, used := seen[key]; used {
		r.mu.Unlock()
		return ErrReplayed
	}
	if len(seen) >= r.max {
		oldest := sweepJTIs(seen, now.Unix())
		if len(seen) >= r.max {
			r.mu.Unlock()
			return &QuotaError{Client: client, Max: r.max, RetryAfter: time.Unix(oldest+1, 0).Sub(now)}
		}
	}
	if now.Sub(r.lastSweep) >= sweepEvery {
		r.lastSweep = now
		for id, s := range r.clients {
			if sweepJTIs(s, now.Unix()); len(s) == 0 && id != client {
				delete(r.clients, id)
			}
		}
	}
	seen[key] = last
	r.mu.Unlock()
	return r.journal.append(record{Client: client, JTI: hex.EncodeToString(key[:]), Exp: last}.appendLine(nil))
}

// sweepJTIs drops the expired entries and returns the earliest until of
// those left.
func sweepJTIs(seen map[jtiKey]int64, now int64) (oldest int64) {
	for k, last := range seen {
		switch {
		case last < now:
			delete(seen, k)
		case oldest == 0 || last < oldest:
			oldest = last
		}
	}
	return oldest
}

func (r *replaySet) load(rec record, now time.Time) bool {
	raw, err := hex.DecodeString(rec.JTI)
	if rec.Client == "" || err != nil || len(raw) != len(jtiKey{}) {
		return false
	}
	if rec.Exp < now.Unix() {
		return true
	}
	seen := r.clients[rec.Client]
	if seen == nil {
		seen = map[jtiKey]int64{}
		r.clients[rec.Client] = seen
	}
	seen[jtiKey(raw)] = rec.Exp
	return true
}

func (r *replaySet) records(b []byte, now int64) ([]byte, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for id, seen := range r.clients {
		for k, last := range seen {
			if last >= now {
				b = record{Client: id, JTI: hex.EncodeToString(k[:]), Exp: last}.appendLine(b)
				n++
			}
		}
	}
	return b, n
}
