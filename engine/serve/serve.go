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
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate-dev/tollgate/engine/audit"
	"github.com/tollgate-dev/tollgate/engine/authz"
	"github.com/tollgate-dev/tollgate/engine/bundle"
	"github.com/tollgate-dev/tollgate/engine/clientauth"
	"github.com/tollgate-dev/tollgate/engine/hclconf"
	"github.com/tollgate-dev/tollgate/engine/httpapi"
	"github.com/tollgate-dev/tollgate/engine/metrics"
	"github.com/tollgate-dev/tollgate/engine/model"
	"github.com/tollgate-dev/tollgate/engine/state"
	"github.com/tollgate-dev/tollgate/engine/token"
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
	cfg      Config
	log      *slog.Logger
	svc      *authz.Service
	metrics  *metrics.Metrics
	kdfCache *clientauth.Cache
	parsed   *hclconf.Cache
	handler  http.Handler
	http     *http.Server
	listener net.Listener
	tls      *tlsState
	ready    atomic.Bool
	reloadMu sync.Mutex
	// freeLater returns a big reload's garbage to the OS once reloads
	// pause (see returnLoadGarbage); reloadMu guards it.
	freeLater *time.Timer
	// requests counts requests as they arrive; a reload reads it to tell
	// whether it shares the CPU with them (see rest).
	requests atomic.Uint64
	sleep    func(time.Duration)
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
		cfg:      cfg,
		log:      slog.New(slog.NewTextHandler(stderr, nil)),
		metrics:  metrics.New(),
		kdfCache: authz.NewKDFCache(),
		parsed:   hclconf.NewCache(),
		sleep:    time.Sleep,
	}
	if err := s.openBundleSources(); err != nil {
		return nil, err
	}
	s.health = newStateHealth(s.log, s.metrics)
	start := time.Now()
	snap, revision, parsed, err := s.loadFirst(ctx)
	s.metrics.Reloaded(err == nil, time.Since(start), sizes(snap))
	if err != nil {
		return nil, fmt.Errorf("loading configuration: %w", err)
	}
	if cfg.Bundle != "" {
		s.log.Info("serving a bundle", "bundle", s.bundleName(), "revision", revision)
	}
	if parsed >= bigParse {
		// Nothing is served yet: the garbage goes back at once.
		debug.FreeOSMemory()
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
		s.requests.Add(1)
		api.ServeHTTP(w, r)
	})
	return s, nil
}

// sources says what a (re)load reads: the bundle file, read anew each
// time, the last bundle fetched from a URL, or the folders. revision is
// the bundle's, as logs show it (marked unverified unless it is the
// content hash), empty for folders. With --verification-key, a bundle
// whose signature does not verify is an error like any other.
func (s *Server) sources() (src authz.Sources, revision string, err error) {
	if s.cfg.Bundle == "" {
		return authz.Sources{ConfigDir: s.cfg.ConfigDir, PoliciesDir: s.cfg.PoliciesDir}, "", nil
	}
	var b *bundle.Bundle
	if s.remote != nil {
		if b, err = bundle.ParseVerified(s.remote.current(), s.verifier); err != nil {
			err = fmt.Errorf("from %s: %w", s.remote, err)
		}
	} else {
		b, err = bundle.ReadVerified(s.cfg.Bundle, s.verifier)
	}
	if err != nil {
		return authz.Sources{}, "", err
	}
	if b.Signed && !b.SignatureVerified {
		s.log.Warn("the bundle is signed, but without --verification-key its signature is not checked", "bundle", s.bundleName())
	}
	return b.Sources, b.RevisionLabel(), nil
}

// load builds a snapshot from the sources and says how many bytes of HCL
// it parsed. A reload rests between files while requests arrive (rest),
// until ctx ends.
func (s *Server) load(ctx context.Context, reload bool) (snap *authz.Snapshot, revision string, parsed int, err error) {
	src, revision, err := s.sources()
	if err != nil {
		return nil, "", 0, err
	}
	src.Parsed = s.parsed
	if reload {
		src.Pace = func(took time.Duration) {
			if ctx.Err() == nil {
				s.rest(took)
			}
		}
	}
	if s.svc != nil {
		src.Previous = s.svc.Snapshot()
	}
	snap, err = authz.Load(ctx, src, s.kdfCache)
	return snap, revision, s.parsed.LastParsed(), err
}

func sizes(snap *authz.Snapshot) map[string]int {
	if snap == nil {
		return nil
	}
	c := snap.Store.Counts()
	return map[string]int{"clients": c.Clients, "servers": c.Servers, "accounts": c.Accounts, "groups": c.Groups}
}

// loadKeys reads --keys for the settings' signing_alg, or makes an
// ephemeral key without it, and logs what signs and what is published.
func (s *Server) loadKeys(settings model.Settings) (*token.KeySet, error) {
	alg := settings.SigningAlg
	if s.cfg.KeysDir == "" {
		s.log.Warn("no --keys given: signing with an ephemeral key; tokens stop verifying when the process restarts", "alg", alg)
		return token.Ephemeral(alg)
	}
	now := time.Now()
	keys, err := token.LoadDir(s.cfg.KeysDir, alg, now)
	if err != nil {
		return nil, fmt.Errorf("loading keys: %w", err)
	}
	attrs := []any{"dir", s.cfg.KeysDir, "alg", alg, "signing", keys.SigningKeyID(now), "published", strings.Join(keys.Published(now), ",")}
	at, next := keys.NextChange(now)
	if !at.IsZero() {
		attrs = append(attrs, "next_change", at.UTC().Format(time.RFC3339), "signing_then", next)
	}
	s.log.Info("signing keys loaded", attrs...)
	if !at.IsZero() && next == "" {
		s.log.Warn("no key can sign once the next key retires: run `tollgate keys rotate` before then", "at", at.UTC().Format(time.RFC3339))
	}
	s.warnEarlyRetirement(keys, settings)
	return keys, nil
}

// warnEarlyRetirement names the keys that leave the JWKS before tokens
// of max_token_ttl they signed expire: those tokens would stop verifying.
func (s *Server) warnEarlyRetirement(keys *token.KeySet, settings model.Settings) {
	if early := keys.RetiredEarly(settings.MaxTokenTTL); len(early) > 0 {
		s.log.Warn("these keys retire before the last tokens they sign expire: rotate with a --retire-after of at least max_token_ttl",
			"keys", strings.Join(early, ","), "max_token_ttl", settings.MaxTokenTTL)
	}
}

// ReloadKeys re-reads --keys and swaps the new key set in. A folder that
// does not load, or in which no key can sign, keeps the last good keys:
// logged, and counted as a failed reload.
func (s *Server) ReloadKeys() error {
	if s.cfg.KeysDir == "" {
		return nil
	}
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	start := time.Now()
	keys, err := s.loadKeys(s.svc.Snapshot().Settings)
	s.metrics.Reloaded(err == nil, time.Since(start), nil)
	if err != nil {
		s.log.Error("keys reload failed; still signing with the last good keys", "error", err.Error())
		return err
	}
	s.svc.SwapKeys(keys)
	return nil
}

// openAudit opens the audit log, buffered so that concurrent requests
// share write system calls. Serve closes it (writing its last lines)
// before the file.
func (s *Server) openAudit(stderr io.Writer) (*audit.Logger, error) {
	if s.cfg.AuditLog == "" {
		l := audit.NewBuffered(stderr)
		s.closers = append(s.closers, l)
		return l, nil
	}
	f, err := os.OpenFile(s.cfg.AuditLog, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening audit log: %w", err)
	}
	l := audit.NewBuffered(f)
	s.closers = append(s.closers, l, f)
	return l, nil
}

// openState opens what must outlive a request: with --state redis://, the
// store the fleet shares; under --data-dir, read back from the files
// there; else in memory, which the log says.
func (s *Server) openState() (state.Store, error) {
	if sharedState(s.cfg.State) {
		return s.openSharedState()
	}
	st, err := state.Open(state.Options{Dir: s.cfg.DataDir})
	if err != nil {
		return nil, fmt.Errorf("opening --data-dir: %w", err)
	}
	s.closers = append(s.closers, st)
	if !st.Durable() {
		s.log.Warn("no --data-dir given: revocations and used client assertion ids are kept in memory only and do not survive a restart")
		return st, nil
	}
	loaded := st.Loaded()
	s.log.Info("revocations and used client assertion ids are kept in --data-dir", "data_dir", s.cfg.DataDir,
		"revocations", loaded.Revocations, "assertions", loaded.Assertions)
	if loaded.Skipped > 0 {
		s.log.Warn("unreadable lines in --data-dir skipped (a torn last line after a crash is expected)", "data_dir", s.cfg.DataDir, "lines", loaded.Skipped)
	}
	return st, nil
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

// rest keeps a reload that parses many files from slowing the requests
// it runs beside: between two files, when requests arrived since the last
// rest (or, for the first, since the last reload), it sleeps reloadPause
// times as long as the last parse took, so the parsing takes at most
// 1/(1+reloadPause) of a core while the server is busy. An idle server
// reloads at full speed. A file is parsed in one go, so a single huge
// file is not spread out.
func (s *Server) rest(took time.Duration) {
	if s.requests.Swap(0) == 0 {
		return
	}
	s.sleep(reloadPause * took)
}

// reloadPause is how many times its parse time a busy reload rests after
// each file. Parsing, with the garbage collection it causes, is nearly
// all of a reload's cost (10,000 clients in 100 files: about 0.6 s of a
// core when every file changed). Measured with such reloads back to back
// on 2 cores under load, a pause of 3 kept 0.86 of the quiet throughput
// and 8 kept 0.96, each reload then taking 4 to 9 s instead of 0.6 s.
const reloadPause = 8

// returnLoadGarbage hands the memory a big reload used and dropped back
// to the operating system, once reloads pause for freeDelay. Parsing HCL
// allocates about 100 times the size of the files (10,000 clients:
// 2.7 MB of HCL, ~270 MB of garbage); left to the runtime's background scavenger,
// the process would keep that footprint for minutes. The forced
// collection costs tens of milliseconds of CPU and the pages given back
// are faulted in again by the next big load, so it is skipped after a
// small reload (one edited file: its garbage is left to the scavenger),
// and put off while big reloads follow each other.
func (s *Server) returnLoadGarbage(parsed int) {
	if parsed < bigParse {
		return
	}
	if s.freeLater == nil {
		s.freeLater = time.AfterFunc(freeDelay, debug.FreeOSMemory)
		return
	}
	s.freeLater.Reset(freeDelay)
}

// bigParse is the HCL a load must parse for its garbage to be returned:
// about 50 MB of garbage, or 2,000 clients of `make bench`'s kind.
const bigParse = 512 << 10

// freeDelay is how long reloads must pause before a big one's garbage is
// returned.
const freeDelay = time.Second

// close releases what New opened: the audit log first, so its last lines
// reach the file before the file closes.
func (s *Server) close() {
	s.reloadMu.Lock()
	if s.freeLater != nil {
		s.freeLater.Stop()
	}
	s.reloadMu.Unlock()
	for _, c := range s.closers {
		_ = c.Close()
	}
	s.closers = nil
}

// Reload builds a whole new snapshot from the sources and swaps it in. On
// any error the running snapshot stays, the problems are logged, and the
// failure is counted; nothing is half-applied.
func (s *Server) Reload(ctx context.Context) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	start := time.Now()
	snap, revision, parsed, err := s.load(ctx, true)
	var keys *token.KeySet
	if err == nil && snap.Settings.SigningAlg != s.svc.Snapshot().Settings.SigningAlg {
		if s.cfg.KeysDir == "" {
			err = errors.New("signing_alg changed: restart to sign with a new ephemeral key")
		} else {
			keys, err = s.loadKeys(snap.Settings)
		}
	}
	s.metrics.Reloaded(err == nil, time.Since(start), sizes(snap))
	if err != nil {
		s.log.Error("reload failed; still serving the last good configuration", "error", err.Error())
		return err
	}
	if keys != nil {
		s.svc.SwapKeys(keys)
	} else if snap.Settings.MaxTokenTTL != s.svc.Snapshot().Settings.MaxTokenTTL {
		s.warnEarlyRetirement(s.svc.Keys(), snap.Settings)
	}
	s.svc.Swap(snap)
	s.returnLoadGarbage(parsed)
	c := snap.Store.Counts()
	attrs := []any{"clients", c.Clients, "servers", c.Servers, "accounts", c.Accounts, "groups", c.Groups, "took", time.Since(start).Round(time.Millisecond)}
	if s.cfg.Bundle != "" {
		attrs = append(attrs, "bundle", s.bundleName(), "revision", revision)
	}
	s.log.Info("configuration reloaded", attrs...)
	s.warnUnreachableClients(snap)
	s.logWarnings(snap)
	return nil
}

// mutualTLS reports that the server verifies client certificates, which
// tls_client_auth needs.
func (s *Server) mutualTLS() bool { return s.tls != nil && s.cfg.ClientCA != "" }

// warnUnreachableClients names the tls_client_auth clients of snap when
// the server verifies no client certificate: they could never
// authenticate. The configuration is valid on its own (check cannot know
// how it will be served), so this is a warning.
func (s *Server) warnUnreachableClients(snap *authz.Snapshot) {
	if s.mutualTLS() {
		return
	}
	var ids []string
	for _, c := range snap.Config.Clients {
		if c.AuthMethod == model.AuthTLSClientAuth {
			ids = append(ids, c.ID)
		}
	}
	if len(ids) > 0 {
		s.log.Warn("these clients use tls_client_auth, but the server verifies no client certificates (serve with --tls-cert, --tls-key and --client-ca): they cannot authenticate",
			"clients", strings.Join(ids, ","))
	}
}

// logWarnings logs each warning of the configuration's load, one line
// each, with where it is declared: at every load, a credential that
// expired or expires soon is named again until it is rotated.
func (s *Server) logWarnings(snap *authz.Snapshot) {
	for _, d := range snap.Warnings {
		attrs := []any{"detail", d.Detail}
		if d.Subject != nil {
			attrs = append([]any{"at", fmt.Sprintf("%s:%d:%d", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)}, attrs...)
		}
		s.log.Warn(d.Summary, attrs...)
	}
}

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
