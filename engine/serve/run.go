package serve

import (
	"context"
	"fmt"
	"io"
	"log/slog"
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
	if u := s.MetricsURL(); u != "" {
		fmt.Fprintf(stderr, "metrics on %s\n", u)
	}
	fmt.Fprintf(stdout, "get a token: curl -s -u CLIENT_ID:CLIENT_SECRET -d grant_type=client_credentials %s/oauth2/token\n", s.URL())

	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				s.log.Info("SIGHUP: reloading configuration, policies, signing keys and TLS certificates")
				_ = s.Reload(ctx)
				_ = s.ReloadKeys()
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
		if cfg.KeysDir != "" {
			stop, err := watchDirs(ctx, s.log, []string{cfg.KeysDir}, relevantKey, func() { _ = s.ReloadKeys() })
			if err != nil {
				s.log.Warn("not watching the keys folder for changes; SIGHUP still reloads it", "error", err.Error())
			} else {
				defer stop()
			}
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
	if s.remote != nil {
		// A bundle URL is polled (bundlepoll.go): no file to watch.
		return func() {}, nil
	}
	dirs, relevant := []string{s.cfg.ConfigDir, s.cfg.PoliciesDir}, relevantSource
	if s.cfg.Bundle != "" {
		dirs, relevant = []string{filepath.Dir(s.cfg.Bundle)}, isBundle(s.cfg.Bundle)
	}
	return watchDirs(ctx, s.log, dirs, relevant, func() { _ = s.Reload(ctx) })
}

// watchDirs calls reload, debounced, when a relevant file under dirs
// changes, until ctx ends or stop is called.
func watchDirs(ctx context.Context, log *slog.Logger, dirs []string, relevant func(string) bool, reload func()) (stop func(), err error) {
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
			case event, ok := <-w.Events:
				if !ok {
					return
				}
				if relevant(event.Name) {
					timer = time.After(ReloadDebounce)
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				log.Warn("file watcher", "error", err.Error())
			case <-timer:
				timer = nil
				reload()
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

// relevantKey matches key files (*.json, as token.LoadDir reads) and the
// "..data" link a Kubernetes Secret volume swaps on update; the hidden
// temporary files tollgate keys rotate renames into place are ignored.
func relevantKey(name string) bool {
	base := filepath.Base(name)
	if base == "..data" {
		return true
	}
	return !strings.HasPrefix(base, ".") && strings.HasSuffix(base, ".json")
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
