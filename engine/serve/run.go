package serve

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

// ReloadDebounce is how long file changes must settle before a reload: an
// editor or `git checkout` writes several files in a burst.
const ReloadDebounce = 250 * time.Millisecond

// Run is `tollgate serve`: listen, announce the address, reload on SIGHUP
// and file changes, and drain on ctx's end (SIGTERM/SIGINT in main).
func Run(ctx context.Context, cfg Config, stdout, stderr io.Writer) error {
	// SIGHUP's default action ends the process: catch it before anything
	// announces that we run, so a reload sent right after start (or during
	// a slow first load) cannot kill the server.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	s, err := New(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	if _, err := s.Listen(); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "listening on %s\n", s.URL())
	fmt.Fprintf(stdout, "get a token: curl -s -u CLIENT_ID:CLIENT_SECRET -d grant_type=client_credentials %s/oauth2/token\n", s.URL())

	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				s.log.Info("SIGHUP: reloading configuration, policies and TLS certificates")
				_ = s.Reload(ctx)
				if s.tls != nil {
					if err := s.tls.reload(); err != nil {
						s.log.Error("TLS reload failed; keeping the previous certificate", "error", err.Error())
					}
				}
			}
		}
	}()
	if cfg.Watch {
		stop, err := s.watch(ctx)
		if err != nil {
			s.log.Warn("not watching files for changes; SIGHUP still reloads", "error", err.Error())
		} else {
			defer stop()
		}
	}
	return s.Serve(ctx)
}

// watch reloads, debounced, when a file under the config or policies
// folder changes, or, serving a bundle, when the bundle file changes. A
// bundle's folder is watched rather than the file itself: deploys replace
// the file by renaming a new one over it, which a watch on the old file
// would never see.
func (s *Server) watch(ctx context.Context) (stop func(), err error) {
	dirs, relevant := []string{s.cfg.ConfigDir, s.cfg.PoliciesDir}, relevantSource
	if s.cfg.Bundle != "" {
		dirs, relevant = []string{filepath.Dir(s.cfg.Bundle)}, isBundle(s.cfg.Bundle)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	for _, dir := range dirs {
		if dir == "" {
			continue
		}
		if err := w.Add(dir); err != nil {
			_ = w.Close()
			return nil, fmt.Errorf("watch %s: %w", dir, err)
		}
	}
	go func() {
		var timer <-chan time.Time
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if relevant(ev.Name) {
					timer = time.After(ReloadDebounce)
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				s.log.Warn("file watcher", "error", err.Error())
			case <-timer:
				timer = nil
				_ = s.Reload(ctx)
			}
		}
	}()
	return func() { _ = w.Close() }, nil
}

// relevantSource ignores editor droppings: only .hcl and .rego files
// matter, and the "..data" link a Kubernetes ConfigMap volume swaps on
// update.
func relevantSource(name string) bool {
	base := filepath.Base(name)
	if base == "..data" {
		return true
	}
	if strings.HasPrefix(base, ".") {
		return false
	}
	return strings.HasSuffix(base, ".hcl") || strings.HasSuffix(base, ".rego")
}

// isBundle matches events on the bundle file (written in place or renamed
// over) and on a ConfigMap's "..data" swap; the temporary files a deploy
// writes next to it are ignored.
func isBundle(bundle string) func(name string) bool {
	want := filepath.Base(bundle)
	return func(name string) bool {
		base := filepath.Base(name)
		return base == want || base == "..data"
	}
}
