package state

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
