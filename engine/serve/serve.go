// Package serve runs tollgate as a daemon: it loads the first snapshot,
// listens, reloads on SIGHUP and on file changes, serves TLS, and drains
// in-flight requests on SIGTERM/SIGINT.
package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate-dev/tollgate/engine/authz"
	"github.com/tollgate-dev/tollgate/engine/bundle"
	"github.com/tollgate-dev/tollgate/engine/httpapi"
	"github.com/tollgate-dev/tollgate/engine/metrics"
	"github.com/tollgate-dev/tollgate/engine/reload"
	"github.com/tollgate-dev/tollgate/engine/state"
)

// Config is what `tollgate serve` is told by its flags.
type Config struct {
	ConfigDir   string
	PoliciesDir string
	Addr        string
	KeysDir     string
	TLSCert     string
	TLSKey      string
	ClientCA    string
	// MetricsAddr, when set, is a second listen address that serves
	// /metrics, which the public listener never does: the metrics name
	// every client and audience (SPEC §6).
	MetricsAddr string
	// Bundle is a bundle file (tollgate bundle build) to serve from
	// instead of ConfigDir and PoliciesDir, which must then be empty, or
	// the http:// or https:// URL of one on a bundle server, polled
	// every BundlePoll (bundlepoll.go).
	Bundle string
	// BundlePoll is how often a Bundle URL is polled; zero means
	// DefaultBundlePoll.
	BundlePoll time.Duration
	// BundleCache is a folder that keeps the last good bundle from a
	// Bundle URL, so that a start while the server is away serves it.
	BundleCache string
	// VerificationKey is a PEM public key file: only bundles signed with
	// its private key, the signature covering every file, are served.
	VerificationKey string
	// AuditLog is a file to append audit lines to; empty means stderr.
	AuditLog string
	// Watch reloads on file changes under ConfigDir and PoliciesDir, or
	// when the Bundle file is replaced, and re-reads KeysDir when a key
	// file changes.
	Watch bool
	// ShutdownTimeout bounds the drain of in-flight requests.
	ShutdownTimeout time.Duration
	// JWKSMaxAge is the Cache-Control max-age of the JWKS; zero means
	// token.JWKSMaxAge. Keys must be published longer than this before
	// they sign (tollgate keys rotate --publish-ahead).
	JWKSMaxAge time.Duration
	// ShutdownDelay keeps serving, with /readyz answering 503, this long
	// after SIGTERM before the listener closes, so a load balancer sees
	// the server leave before connections are refused.
	ShutdownDelay time.Duration
	// DataDir keeps revocations and used client assertion ids in files
	// there, so that they survive a restart; empty keeps them in memory.
	DataDir string
	// TrustedProxies are the reverse proxies and load balancers whose
	// X-Forwarded-For or Forwarded header names the client's address, for
	// throttling and the audit log; empty trusts no such header.
	TrustedProxies []netip.Prefix

	// State is "memory" (or empty) for the state of this process alone,
	// or a redis:// or rediss:// URL of the store a fleet shares.
	State string
}

// Timeouts of the HTTP server (SPEC §6): a slow or idle peer cannot hold
// a connection for long.
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 10 * time.Second
	WriteTimeout      = 15 * time.Second
	IdleTimeout       = 120 * time.Second
	MaxHeaderBytes    = 16 << 10
)

// Server is a running tollgate.
type Server struct {
	cfg     Config
	log     *slog.Logger
	svc     *authz.Service
	metrics *metrics.Metrics
	// reloader owns every load of the configuration and what reloads
	// share (reloading.go).
	reloader *reload.Reloader
	handler  http.Handler
	http     *http.Server
	listener net.Listener
	tls      *tlsState
	ready    atomic.Bool
	closers  []io.Closer
	health   *stateHealth

	// metricsListener serves /metrics when --metrics-addr is set.
	metricsListener net.Listener
	// verifier checks bundle signatures (--verification-key); remote is
	// a --bundle URL. See bundlepoll.go.
	verifier *bundle.Verifier
	remote   *remoteBundle
}

// New loads keys and the first snapshot. Any problem is returned as one
// error: a server that cannot load its configuration does not start.
func New(ctx context.Context, cfg Config, stderr io.Writer) (*Server, error) {
	// The log and, without --audit-log, the audit lines share stderr: one
	// lock keeps their writes whole and apart, whatever stderr is.
	stderr = &lockedWriter{w: stderr}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 10 * time.Second
	}
	if cfg.Bundle != "" && (cfg.ConfigDir != "" || cfg.PoliciesDir != "") {
		return nil, errors.New("serve either a bundle or the config and policies folders, not both")
	}
	s := &Server{
		cfg:     cfg,
		log:     slog.New(slog.NewTextHandler(stderr, nil)),
		metrics: metrics.New(),
	}
	s.reloader = reload.NewReloader(reload.Options{Sources: s.sources, Accept: s.acceptReload})
	if err := s.openBundleSources(); err != nil {
		return nil, err
	}
	s.health = newStateHealth(s.log, s.metrics)
	start := time.Now()
	snap, revision, err := s.loadFirst(ctx)
	s.metrics.Reloaded(err == nil, time.Since(start), sizes(snap))
	if err != nil {
		return nil, fmt.Errorf("loading configuration: %w", err)
	}
	if cfg.Bundle != "" {
		s.log.Info("serving a bundle", "bundle", s.bundleName(), "revision", revision)
	}
	keys, err := s.loadKeys(snap.Settings)
	if err != nil {
		return nil, err
	}
	auditLog, err := s.openAudit(stderr)
	if err != nil {
		return nil, err
	}
	st, err := s.openState()
	if err != nil {
		s.close()
		return nil, err
	}
	if cfg.TLSCert != "" || cfg.TLSKey != "" {
		if s.tls, err = newTLSState(cfg); err != nil {
			s.close()
			return nil, err
		}
	}
	s.warnUnreachableClients(snap)
	s.logWarnings(snap)
	s.svc = authz.NewService(snap, authz.Options{Keys: keys, Audit: auditLog, Observer: s.metrics, State: state.Observed(st, s.health.failed), Log: s.log})
	s.reloader.Serve(s.svc)
	api := httpapi.NewServer(s.svc, httpapi.Options{
		Ready:          s.ready.Load,
		StateReady:     s.health.up,
		Instrument:     s.metrics.Instrument,
		MutualTLS:      s.mutualTLS(),
		JWKSMaxAge:     cfg.JWKSMaxAge,
		TrustedProxies: cfg.TrustedProxies,
	})
	if len(cfg.TrustedProxies) > 0 {
		s.log.Info("the remote address is taken from X-Forwarded-For or Forwarded on connections from trusted proxies", "trusted_proxies", prefixList(cfg.TrustedProxies))
	}
	s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.reloader.RequestArrived()
		api.ServeHTTP(w, r)
	})
	return s, nil
}

// Handler returns the HTTP handler, for in-process tests and benchmarks.
func (s *Server) Handler() http.Handler { return s.handler }

// Service returns the engine.
func (s *Server) Service() *authz.Service { return s.svc }

// Listen binds the address, and the metrics address if set; port 0 picks
// a free port. It sets the default issuer from the address actually
// bound.
func (s *Server) Listen() (net.Addr, error) {
	addr := s.cfg.Addr
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	if err := s.listenMetrics(); err != nil {
		_ = ln.Close()
		return nil, err
	}
	if s.tls != nil {
		ln = tls.NewListener(ln, s.tls.config())
	}
	s.listener = ln
	s.svc.SetDefaultIssuer(s.URL())
	return ln.Addr(), nil
}

// URL is the base URL the server listens on.
func (s *Server) URL() string {
	scheme := "http"
	if s.tls != nil {
		scheme = "https"
	}
	return scheme + "://" + s.listener.Addr().String()
}

// Serve answers requests until ctx is done, then drains in-flight requests
// within the shutdown timeout. It returns nil after a clean drain.
func (s *Server) Serve(ctx context.Context) error {
	if s.listener == nil {
		return errors.New("serve: Listen first")
	}
	s.http = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.ready.Store(true)
	// The poller ends before the server closes: it must not reload or
	// write the cache after that.
	stopPolling := func() {}
	if s.remote != nil {
		pollCtx, cancel := context.WithCancel(ctx)
		polled := make(chan struct{})
		go func() { defer close(polled); s.pollBundle(pollCtx) }()
		stopPolling = func() { cancel(); <-polled }
	}
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(s.listener) }()
	stopMetrics := s.serveMetrics()

	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
		s.ready.Store(false)
		if s.cfg.ShutdownDelay > 0 {
			s.log.Info("shutting down: not ready, still serving", "delay", s.cfg.ShutdownDelay)
			time.Sleep(s.cfg.ShutdownDelay)
		}
		s.log.Info("shutting down: draining in-flight requests", "timeout", s.cfg.ShutdownTimeout)
		shutdownCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
		err = s.http.Shutdown(shutdownCtx)
		cancel()
	}
	stopPolling()
	// The metrics stay up through the drain, so a scrape can see it.
	metricsCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	stopMetrics(metricsCtx)
	cancel()
	s.close()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// lockedWriter serializes writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// close releases what New opened: the audit log first, so its last lines
// reach the file before the file closes.
func (s *Server) close() {
	s.reloader.Close()
	for _, c := range s.closers {
		_ = c.Close()
	}
	s.closers = nil
}

// mutualTLS reports that the server verifies client certificates, which
// tls_client_auth needs.
func (s *Server) mutualTLS() bool { return s.tls != nil && s.cfg.ClientCA != "" }

// ParseTrustedProxies reads --trusted-proxies: CIDR prefixes, or single
// addresses.
func ParseTrustedProxies(values []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range values {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		if p, err := netip.ParsePrefix(v); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(v)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q is neither a CIDR prefix nor an address", v)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

func prefixList(ps []netip.Prefix) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.String()
	}
	return strings.Join(parts, ",")
}
