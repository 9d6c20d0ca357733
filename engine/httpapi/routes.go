package httpapi

import (
	"net/http"

	"github.com/gorilla/mux"
)

// addRoutes is the whole HTTP API surface (SPEC §5) on one screen.
// Each route is instrumented under its path.
func addRoutes(r *mux.Router, s *server) {
	handle := func(path string, h http.Handler) { r.Handle(path, s.instrument(path, h)) }
	handle("/oauth2/token", allow(handleToken(s), http.MethodPost))
	handle("/oauth2/introspect", allow(handleIntrospect(s), http.MethodPost))
	handle("/oauth2/revoke", allow(handleRevoke(s), http.MethodPost))
	handle("/oauth2/userinfo", allow(handleUserInfo(s), http.MethodGet, http.MethodPost))
	handle("/.well-known/jwks.json", allow(handleJWKS(s), http.MethodGet))
	handle("/.well-known/oauth-authorization-server", allow(handleMetadata(s), http.MethodGet))
	handle("/.well-known/openid-configuration", allow(handleMetadata(s), http.MethodGet))
	handle("/healthz", allow(handleHealthz(), http.MethodGet))
	handle("/readyz", allow(handleReadyz(s), http.MethodGet))
	// No /metrics here: it names every client and audience, so it is
	// only on the metrics listener (addMetricsRoutes, SPEC §6).
	r.NotFoundHandler = s.instrument("other", handleNotFound())
}

// addMetricsRoutes is the whole surface of the metrics listener
// (--metrics-addr).
func addMetricsRoutes(r *mux.Router, metrics http.Handler) {
	r.Handle("/metrics", allow(metrics, http.MethodGet))
	r.NotFoundHandler = handleNotFound()
}
