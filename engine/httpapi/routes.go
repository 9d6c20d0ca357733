package httpapi

import (
	"net/http"

	"github.com/gorilla/mux"
)

// addRoutes is the whole HTTP API surface (SPEC §5) on one screen.
func addRoutes(r *mux.Router, s *server) {
	r.Handle("/oauth2/token", allow(handleToken(s), http.MethodPost))
	r.Handle("/oauth2/introspect", allow(handleIntrospect(s), http.MethodPost))
	r.Handle("/oauth2/revoke", allow(handleRevoke(s), http.MethodPost))
	r.Handle("/oauth2/userinfo", allow(handleUserInfo(s), http.MethodGet, http.MethodPost))
	r.Handle("/.well-known/jwks.json", allow(handleJWKS(s), http.MethodGet))
	r.Handle("/.well-known/oauth-authorization-server", allow(handleMetadata(s), http.MethodGet))
	r.Handle("/.well-known/openid-configuration", allow(handleMetadata(s), http.MethodGet))
	r.Handle("/healthz", allow(handleHealthz(), http.MethodGet))
	r.Handle("/readyz", allow(handleReadyz(s), http.MethodGet))
	r.Handle("/metrics", allow(s.metricsHandler, http.MethodGet))
	r.NotFoundHandler = handleNotFound()
}
