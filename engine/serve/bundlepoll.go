package serve

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/engine/authz"
	"github.com/tollgate-dev/tollgate/engine/bundle"
)

// DefaultBundlePoll is how often a --bundle URL is polled unless
// --bundle-poll says otherwise.
const DefaultBundlePoll = 30 * time.Second

// maxBackoff bounds how far failed polls push the next one back.
const maxBackoff = 5 * time.Minute

// remoteBundle is a --bundle URL: the Remote that fetches it, and the
// archive that a (re)load parses. The poller sets the archive and then
// calls Reload, the one owner of reloads for files and URLs alike;
// SIGHUP reloads the same archive again.
type remoteBundle struct {
	*bundle.Remote
	cacheDir string
	interval time.Duration

	mu      sync.Mutex
	archive []byte
	digest  [sha256.Size]byte
}

// openBundleSources reads the verification key and, for a --bundle URL,
// prepares its Remote. The flags that only make sense with a bundle, or
// with a URL, are refused without one.
func (s *Server) openBundleSources() error {
	cfg := s.cfg
	if cfg.VerificationKey != "" {
		if cfg.Bundle == "" {
			return errors.New("--verification-key verifies bundles: serve a --bundle, not folders")
		}
		v, err := bundle.LoadVerifier(cfg.VerificationKey)
		if err != nil {
			return err
		}
		s.verifier = v
		s.log.Info("serving only bundles signed with the verification key", "key", v.Fingerprint())
	}
	if !bundle.IsURL(cfg.Bundle) {
		if cfg.BundleCache != "" {
			return errors.New("--bundle-cache keeps bundles fetched from a --bundle URL, and there is none")
		}
		return nil
	}
	remote, err := bundle.NewRemote(cfg.Bundle, nil)
	if err != nil {
		return err
	}
	interval := cfg.BundlePoll
	if interval <= 0 {
		interval = DefaultBundlePoll
	}
	s.remote = &remoteBundle{Remote: remote, cacheDir: cfg.BundleCache, interval: interval}
	if s.verifier == nil && strings.HasPrefix(cfg.Bundle, "http://") {
		s.log.Warn("fetching the bundle over plain http without --verification-key: anyone on the path can change the configuration", "bundle", remote)
	}
	return nil
}

// current is the archive a load parses.
func (r *remoteBundle) current() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.archive
}

// set makes archive the one the next load parses.
func (r *remoteBundle) set(archive []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.archive, r.digest = archive, sha256.Sum256(archive)
}

// same reports that archive is byte for byte the current one: a server
// that gives a redeployed, identical file a new ETag causes no reload.
func (r *remoteBundle) same(archive []byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.archive != nil && sha256.Sum256(archive) == r.digest
}

// keep writes archive, which just loaded, to the cache, if there is one.
// A cache that cannot be written costs only the next start without the
// server, so it is logged and serving goes on.
func (s *Server) keep(archive []byte) {
	if s.remote.cacheDir == "" {
		return
	}
	if err := bundle.WriteCache(s.remote.cacheDir, archive); err != nil {
		s.log.Warn("could not keep the bundle in --bundle-cache", "error", err.Error())
	}
}

// bundleName names the served bundle in logs: the file, or the URL
// without its credentials.
func (s *Server) bundleName() string {
	if s.remote != nil {
		return s.remote.String()
	}
	return s.cfg.Bundle
}

// loadFirst is the load of New. For a --bundle URL it fetches the bundle
// once; when the server is away, or its bundle does not load, it starts
// from the cached bundle instead (logged), and without one it fails.
func (s *Server) loadFirst(ctx context.Context) (snap *authz.Snapshot, revision string, err error) {
	if s.remote == nil {
		return s.reloader.Load(ctx)
	}
	archive, _, fetchErr := s.remote.Fetch(ctx)
	if fetchErr == nil {
		s.metrics.BundleFetched("changed")
		s.remote.set(archive)
		snap, revision, err := s.reloader.Load(ctx)
		if err == nil {
			s.keep(archive)
			return snap, revision, nil
		}
		if s.remote.cacheDir == "" {
			return nil, "", err
		}
		s.metrics.Reloaded(false, 0, nil)
		fetchErr = err
	} else {
		s.metrics.BundleFetched("error")
		if s.remote.cacheDir == "" {
			return nil, "", fmt.Errorf("%w (and no --bundle-cache to start from)", fetchErr)
		}
	}
	cached, err := bundle.ReadCache(s.remote.cacheDir)
	if err != nil {
		return nil, "", fmt.Errorf("%w; and no cached bundle to start from: %w", fetchErr, err)
	}
	s.remote.set(cached)
	if snap, revision, err = s.reloader.Load(ctx); err != nil {
		return nil, "", fmt.Errorf("%w; and the cached bundle does not load either: %w", fetchErr, err)
	}
	s.log.Warn("starting from the cached bundle: the bundle server's did not load; polling goes on",
		"bundle", s.remote, "cache", filepath.Join(s.remote.cacheDir, bundle.CacheFile), "error", fetchErr.Error())
	return snap, revision, nil
}

// pollBundle polls the bundle server until ctx ends. A bundle that
// differs from the current one is reloaded through Reload (on failure
// the last good configuration keeps serving, logged and counted), and
// kept in the cache once it loaded. The Remote remembers the ETag of a
// bundle that failed too, so it is not fetched and refused again on
// every poll, only when the server has a new one.
func (s *Server) pollBundle(ctx context.Context) {
	failures := 0
	for {
		timer := time.NewTimer(pollDelay(s.remote.interval, failures, rand.Float64()))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		archive, notModified, err := s.remote.Fetch(ctx)
		if ctx.Err() != nil {
			return
		}
		switch {
		case err != nil:
			failures++
			s.metrics.BundleFetched("error")
			s.log.Warn("bundle server: fetch failed; still serving the last good configuration",
				"error", err.Error(), "retry_within", pollDelay(s.remote.interval, failures, 0))
		case notModified || s.remote.same(archive):
			failures = 0
			s.metrics.BundleFetched("unchanged")
		default:
			failures = 0
			s.metrics.BundleFetched("changed")
			s.remote.set(archive)
			if s.Reload(ctx) == nil {
				s.keep(archive)
			}
		}
	}
}

// pollDelay is the wait before the next poll: the interval, doubled for
// each failed poll in a row up to ten intervals or maxBackoff (whichever
// is less, but never under one interval), then shortened by a random
// 0-25% (random in [0,1)) so that replicas started together do not poll
// in step. A new bundle thus reaches every replica within one interval.
func pollDelay(interval time.Duration, failures int, random float64) time.Duration {
	ceiling := max(min(10*interval, maxBackoff), interval)
	d := interval
	for range failures {
		if d *= 2; d >= ceiling {
			d = ceiling
			break
		}
	}
	return d - time.Duration(random*0.25*float64(d))
}
