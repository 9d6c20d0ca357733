package reload

import (
	"context"
	"errors"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate-dev/tollgate/engine/authz"
	"github.com/tollgate-dev/tollgate/engine/clientauth"
	"github.com/tollgate-dev/tollgate/engine/hclconf"
)

// Reloader is the one owner of a server's loads: the first, then every
// reload, whatever asked for it (SIGHUP, a file change, a bundle poll).
// What reloads share lives here and nowhere else: the parsed HCL files,
// the KDF verifications, the snapshot a reload builds from, the service
// it swaps into, the pacing against the requests it runs beside, and the
// timer that returns a big reload's garbage. Reloads run one at a time.
type Reloader struct {
	sources func() (Sources, error)
	accept  func(next, current *authz.Snapshot) error

	mu  sync.Mutex
	svc *authz.Service
	// previous is the last snapshot loaded, the one a reload replaces:
	// the new store is built from its store, sharing every unchanged
	// declaration, and its policy serves again when no policy changed.
	previous *authz.Snapshot
	parsed   *hclconf.Cache
	kdf      *clientauth.Cache
	// freeLater returns a big reload's garbage to the OS once reloads
	// pause (see returnLoadGarbage); mu guards it.
	freeLater *time.Timer
	// requests counts requests as they arrive; a reload reads it to tell
	// whether it shares the CPU with them (see yieldToRequests).
	requests atomic.Uint64
	sleep    func(time.Duration)
}

// Options configure a Reloader.
type Options struct {
	// Sources says what each load reads; it is called once per load.
	Sources func() (Sources, error)
	// Accept, when set, is called before a reloaded snapshot replaces the
	// current one, with both, while no other reload runs; an error
	// refuses the reload. A server uses it to swap keys a new
	// signing_alg needs.
	Accept func(next, current *authz.Snapshot) error
}

// NewReloader returns a Reloader with empty caches.
func NewReloader(opts Options) *Reloader {
	return &Reloader{
		sources: opts.Sources,
		accept:  opts.Accept,
		parsed:  hclconf.NewCache(),
		kdf:     NewKDFCache(),
		sleep:   time.Sleep,
	}
}

// Load is the first load, before anything is served: at full speed, and
// a big one's garbage goes back to the OS at once. It returns the
// snapshot for the service that Serve then names, and the revision of
// the sources it read.
func (r *Reloader) Load(ctx context.Context) (*authz.Snapshot, string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.previous = nil
	snap, revision, err := r.load(ctx, false)
	if err != nil {
		return nil, revision, err
	}
	r.previous = snap
	if r.parsed.LastParsedBytes() >= bigParse {
		debug.FreeOSMemory()
	}
	return snap, revision, nil
}

// Serve makes svc, which serves the snapshot Load returned, the service
// every later Reload swaps its snapshot into.
func (r *Reloader) Serve(svc *authz.Service) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.svc = svc
}

// Reload builds a whole new snapshot from the sources, from the last one
// loaded, and swaps it into the service Serve named, if any. On any
// error the running snapshot stays and nothing is half-applied. It rests
// between files while requests arrive (see yieldToRequests), until ctx ends. It
// returns the new snapshot and the revision of the sources it read.
func (r *Reloader) Reload(ctx context.Context) (*authz.Snapshot, string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.previous == nil {
		return nil, "", errors.New("reload: nothing loaded yet")
	}
	snap, revision, err := r.load(ctx, true)
	if err == nil && r.accept != nil {
		err = r.accept(snap, r.previous)
	}
	if err != nil {
		return nil, revision, err
	}
	if r.svc != nil {
		r.svc.Swap(snap)
	}
	r.previous = snap
	r.returnLoadGarbage(r.parsed.LastParsedBytes())
	return snap, revision, nil
}

// Hold runs fn while no reload runs, for a change that must not
// interleave with one: the signing keys, which a reload may replace too.
func (r *Reloader) Hold(fn func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fn()
}

// RequestArrived counts a request, which a reload then rests for.
func (r *Reloader) RequestArrived() { r.requests.Add(1) }

// Close stops the timer a big reload may have left running.
func (r *Reloader) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.freeLater != nil {
		r.freeLater.Stop()
	}
}

// load builds a snapshot from the sources, from the previous one when
// there is one. A reload rests between files while requests arrive.
func (r *Reloader) load(ctx context.Context, yielding bool) (*authz.Snapshot, string, error) {
	src, err := r.sources()
	if err != nil {
		return nil, "", err
	}
	ls := loadState{parsed: r.parsed, kdf: r.kdf}
	if yielding {
		ls.yield = func(took time.Duration) {
			if ctx.Err() == nil {
				r.yieldToRequests(took)
			}
		}
	}
	ls.previous = r.previous
	snap, _, _, err := build(ctx, src, ls)
	return snap, src.Revision, err
}
