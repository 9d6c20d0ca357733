// Package httpapi serves the engine over HTTP (SPEC §5). Handlers only
// decode a request, call the engine, and encode the answer; every error body
// is written by writeError.
package httpapi

import (
	"net"
	"net/http"
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
	// Instrument wraps each route's handler to observe it by endpoint name;
	// nil means no instrumentation.
	Instrument func(endpoint string, h http.Handler) http.Handler
	// MutualTLS says the server verifies client certificates, so clients
	// may authenticate with tls_client_auth; the metadata says so.
	MutualTLS bool
	// JWKSMaxAge is how long resource servers may cache the JWKS; zero
	// means token.JWKSMaxAge.
	JWKSMaxAge time.Duration
}

type server struct {
	svc        *authz.Service
	ready      func() bool
	instrument func(endpoint string, h http.Handler) http.Handler
	mutualTLS  bool
	metadata   atomic.Pointer[metadataDoc]
	jwksMaxAge time.Duration
}

// NewServer returns the HTTP handler for svc: the public API, which never
// serves /metrics (see NewMetricsServer).
func NewServer(svc *authz.Service, opts Options) http.Handler {
	s := &server{svc: svc, ready: opts.Ready, instrument: opts.Instrument, mutualTLS: opts.MutualTLS}
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
	r := mux.NewRouter()
	addRoutes(r, s)
	return secureHeaders(r)
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

// remoteHost is the peer's address without port: the key for throttling
// and the audit log. Forwarded headers are not trusted.
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
