// Package httpapi serves the engine over HTTP (SPEC §5). Handlers only
// decode a request, call the engine, and encode the answer; every error body
// is written by writeError.
package httpapi

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"

	"github.com/tollgate-dev/tollgate/engine/authz"
	"github.com/tollgate-dev/tollgate/engine/token"
)

// MaxBodyBytes is the largest request body accepted (SPEC §6); a token
// request is a few hundred bytes.
const MaxBodyBytes = 64 << 10

// Options configure the HTTP frontend.
type Options struct {
	// Ready reports readiness for /readyz; nil means always ready.
	Ready func() bool
	// StateReady reports whether the state store answers; when not,
	// /readyz is 503 and says so. nil means it always does.
	StateReady func() bool
	// Instrument wraps each route's handler to observe it by endpoint name;
	// nil means no instrumentation.
	Instrument func(endpoint string, h http.Handler) http.Handler
	// MutualTLS says the server verifies client certificates, so clients
	// may authenticate with tls_client_auth; the metadata says so.
	MutualTLS bool
	// JWKSMaxAge is how long resource servers may cache the JWKS; zero
	// means token.JWKSMaxAge.
	JWKSMaxAge time.Duration
	// TrustedProxies are the peers whose X-Forwarded-For or Forwarded
	// header names the remote address (see forwardedFor); from any other
	// peer those headers are ignored.
	TrustedProxies []netip.Prefix
}

type server struct {
	svc        *authz.Service
	ready      func() bool
	stateReady func() bool
	instrument func(endpoint string, h http.Handler) http.Handler
	mutualTLS  bool
	metadata   atomic.Pointer[metadataDoc]
	jwksMaxAge time.Duration
}

// NewServer returns the HTTP handler for svc: the public API, which never
// serves /metrics (see NewMetricsServer).
func NewServer(svc *authz.Service, opts Options) http.Handler {
	s := &server{svc: svc, ready: opts.Ready, stateReady: opts.StateReady, instrument: opts.Instrument, mutualTLS: opts.MutualTLS}
	s.jwksMaxAge = opts.JWKSMaxAge
	if s.jwksMaxAge <= 0 {
		s.jwksMaxAge = token.JWKSMaxAge
	}
	if s.instrument == nil {
		s.instrument = func(_ string, h http.Handler) http.Handler { return h }
	}
	if s.ready == nil {
		s.ready = func() bool { return true }
	}
	if s.stateReady == nil {
		s.stateReady = func() bool { return true }
	}
	r := mux.NewRouter()
	addRoutes(r, s)
	var h http.Handler = r
	if len(opts.TrustedProxies) > 0 {
		h = behindProxies(h, opts.TrustedProxies)
	}
	return secureHeaders(h)
}

// NewMetricsServer returns the handler of the metrics listener: metrics
// at /metrics, 404 elsewhere. The metrics name every client and audience,
// so they are served apart from the public API, on an address only
// operators reach (SPEC §6).
func NewMetricsServer(metrics http.Handler) http.Handler {
	r := mux.NewRouter()
	addMetricsRoutes(r, metrics)
	return secureHeaders(r)
}

// Header values every response of a kind carries, built once. net/http
// never modifies a value slice in place (Set replaces it, Add appends to a
// full slice and so copies), so responses can share them.
var (
	valueNosniff  = []string{"nosniff"}
	valueDeny     = []string{"DENY"}
	valueCSP      = []string{"default-src 'none'; frame-ancestors 'none'"}
	valueNoRef    = []string{"no-referrer"}
	valueNoStore  = []string{"no-store"}
	valueNoCache  = []string{"no-cache"}
	valueJSONType = []string{"application/json"}
)

// secureHeaders sets headers every response carries: nothing here is meant
// for a browser to sniff, frame or cache by accident.
func secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["X-Content-Type-Options"] = valueNosniff
		h["X-Frame-Options"] = valueDeny
		h["Content-Security-Policy"] = valueCSP
		h["Referrer-Policy"] = valueNoRef
		next.ServeHTTP(w, r)
	})
}

// allow answers 405 with an Allow header for any other method; HEAD is
// allowed wherever GET is.
func allow(h http.Handler, methods ...string) http.Handler {
	allowed := strings.Join(methods, ", ")
	getAllowed := false
	for _, m := range methods {
		if m == http.MethodGet {
			getAllowed = true
			allowed += ", HEAD"
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, m := range methods {
			if r.Method == m {
				h.ServeHTTP(w, r)
				return
			}
		}
		if getAllowed && r.Method == http.MethodHead {
			h.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Allow", allowed)
		writeError(w, errMethodNotAllowed(r.Method))
	})
}

// remoteHost is the remote address without port: the key for throttling
// and the audit log. It is the peer's, or the one a trusted proxy
// forwarded (behindProxies).
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// behindProxies replaces the remote address of requests that come from a
// trusted proxy with the one it forwarded.
func behindProxies(next http.Handler, trusted []netip.Prefix) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if peer, err := netip.ParseAddrPort(r.RemoteAddr); err == nil && isTrusted(peer.Addr(), trusted) {
			if client, ok := forwardedFor(r.Header, trusted); ok {
				r.RemoteAddr = netip.AddrPortFrom(client, 0).String()
			}
		}
		next.ServeHTTP(w, r)
	})
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	a = a.Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forwardedFor reads the client's address off X-Forwarded-For, or when
// there is none off Forwarded (RFC 7239), as a trusted proxy sent it.
// Each proxy appends the address it was connected from, so the list is
// read from the right: proxies that are trusted are skipped, and the
// first hop that is not one is the client (what is left of it, the client
// could have written). A hop that is no address (RFC 7239 "unknown" or an
// obfuscated name) ends the walk at the trusted hop before it; when every
// hop is trusted, the first one is the client.
func forwardedFor(h http.Header, trusted []netip.Prefix) (netip.Addr, bool) {
	hops := forwardedHops(h)
	var client netip.Addr
	found := false
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			break
		}
		client, found = a, true
		if !isTrusted(a, trusted) {
			break
		}
	}
	return client, found
}

// forwardedHops lists the hops of X-Forwarded-For, every header line of
// it in order, else the for= parameters of Forwarded. Only one of the two
// is read: a proxy appends to the one it writes, and passes the other on
// as the client sent it.
func forwardedHops(h http.Header) []string {
	var hops []string
	if xff := h.Values("X-Forwarded-For"); len(xff) > 0 {
		for _, line := range xff {
			for hop := range strings.SplitSeq(line, ",") {
				hops = append(hops, strings.TrimSpace(hop))
			}
		}
		return hops
	}
	for _, line := range h.Values("Forwarded") {
		for element := range strings.SplitSeq(line, ",") {
			hop := "" // an element without for= is a hop we cannot place
			for pair := range strings.SplitSeq(element, ";") {
				name, value, _ := strings.Cut(strings.TrimSpace(pair), "=")
				if strings.EqualFold(name, "for") {
					hop = strings.Trim(value, `"`)
				}
			}
			hops = append(hops, hop)
		}
	}
	return hops
}

// parseHop reads "192.0.2.1", "192.0.2.1:4711", "2001:db8::1" or
// "[2001:db8::1]:4711".
func parseHop(hop string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(hop); err == nil {
		return ap.Addr().Unmap(), true
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(hop, "["), "]"))
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}
