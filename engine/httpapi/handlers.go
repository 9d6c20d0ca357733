package httpapi

import (
	"crypto/x509"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/engine/authz"
	"github.com/tollgate-dev/tollgate/engine/model"
	"github.com/tollgate-dev/tollgate/engine/oauth"
)

// handleToken is the token endpoint (RFC 6749 §4.4.2, §5).
func handleToken(s *server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decodeTokenRequest(w, r)
		if err != nil {
			writeError(w, err)
			return
		}
		tok, err := s.svc.Issue(r.Context(), req)
		if err != nil {
			writeError(w, err)
			return
		}
		noStore(w)
		writeJSON(w, http.StatusOK, tok)
	})
}

func decodeTokenRequest(w http.ResponseWriter, r *http.Request) (*authz.TokenRequest, error) {
	p, err := decodeBody(w, r)
	if err != nil {
		return nil, err
	}
	creds, err := credentials(r, p)
	if err != nil {
		return nil, err
	}
	req := &authz.TokenRequest{
		Credentials: creds,
		Audience:    p["audience"],
		Resource:    p["resource"],
		RemoteAddr:  remoteHost(r),
	}
	if req.GrantType, err = p.single("grant_type"); err != nil {
		return nil, err
	}
	if req.Scope, err = p.single("scope"); err != nil {
		return nil, err
	}
	if err := checkBounds(req); err != nil {
		return nil, err
	}
	return req, nil
}

func decodeTokenOp(w http.ResponseWriter, r *http.Request) (*authz.TokenOpRequest, error) {
	p, err := decodeBody(w, r)
	if err != nil {
		return nil, err
	}
	creds, err := credentials(r, p)
	if err != nil {
		return nil, err
	}
	req := &authz.TokenOpRequest{Credentials: creds, RemoteAddr: remoteHost(r)}
	if req.Token, err = p.single("token"); err != nil {
		return nil, err
	}
	if req.TokenTypeHint, err = p.single("token_type_hint"); err != nil {
		return nil, err
	}
	return req, nil
}

// handleIntrospect is RFC 7662 token introspection.
func handleIntrospect(s *server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decodeTokenOp(w, r)
		if err != nil {
			writeError(w, err)
			return
		}
		out, err := s.svc.Introspect(r.Context(), req)
		if err != nil {
			writeError(w, err)
			return
		}
		noStore(w)
		writeJSON(w, http.StatusOK, out)
	})
}

// handleRevoke is RFC 7009 token revocation.
func handleRevoke(s *server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decodeTokenOp(w, r)
		if err != nil {
			writeError(w, err)
			return
		}
		if err := s.svc.Revoke(r.Context(), req); err != nil {
			writeError(w, err)
			return
		}
		noStore(w)
		w.WriteHeader(http.StatusOK)
	})
}

// handleUserInfo returns the bearer token subject's claims. The token comes
// in the Authorization header (RFC 6750 §2.1) or, for POST, the form body
// (§2.2), never both.
func handleUserInfo(s *server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bearer, err := bearerToken(w, r)
		if err != nil {
			writeError(w, err)
			return
		}
		info, err := s.svc.UserInfo(r.Context(), bearer, verifiedCertificate(r), remoteHost(r))
		if err != nil {
			writeError(w, err)
			return
		}
		noStore(w)
		writeJSON(w, http.StatusOK, info)
	})
}

// verifiedCertificate is the client certificate the TLS handshake
// verified against the client CA, or nil.
func verifiedCertificate(r *http.Request) *x509.Certificate {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
		return nil
	}
	return r.TLS.VerifiedChains[0][0]
}

func bearerToken(w http.ResponseWriter, r *http.Request) (string, error) {
	var fromBody string
	if r.Method == http.MethodPost && r.ContentLength != 0 {
		p, err := decodeBody(w, r)
		if err != nil {
			return "", err
		}
		if fromBody, err = p.single("access_token"); err != nil {
			return "", err
		}
	}
	header := r.Header.Get("Authorization")
	if header == "" {
		if fromBody == "" {
			return "", oauth.New(oauth.InvalidToken, "a bearer token is required")
		}
		return fromBody, nil
	}
	if fromBody != "" {
		return "", oauth.New(oauth.InvalidRequest, "the token came in more than one way")
	}
	scheme, tok, found := strings.Cut(header, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return "", oauth.New(oauth.InvalidToken, "the Authorization header must be: Bearer <token>")
	}
	return strings.TrimSpace(tok), nil
}

// handleJWKS publishes the public signing keys (RFC 7517 §5). Unlike the
// OAuth endpoints' no-store, resource servers may cache it for max-age:
// a rotated-in key is published longer than that before it signs (see
// token.Rotate), so a cache that honours max-age never meets an unknown
// kid.
func handleJWKS(s *server) http.Handler {
	cacheControl := "public, max-age=" + strconv.Itoa(int(s.jwksMaxAge/time.Second))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", cacheControl)
		writeBody(w, http.StatusOK, s.svc.JWKS())
	})
}

// metadataDoc is the RFC 8414 document of one snapshot, encoded once.
type metadataDoc struct {
	snap *authz.Snapshot
	body []byte
}

// handleMetadata serves RFC 8414 authorization server metadata.
func handleMetadata(s *server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		snap := s.svc.Snapshot()
		doc := s.metadata.Load()
		if doc == nil || doc.snap != snap {
			doc = &metadataDoc{snap: snap, body: mustJSON(metadata(s.svc, snap, s.mutualTLS))}
			s.metadata.Store(doc)
		}
		w.Header().Set("Cache-Control", "public, max-age=60")
		writeBody(w, http.StatusOK, doc.body)
	})
}

// metadata is the RFC 8414 document. tls_client_auth, and tokens bound to
// its certificates (RFC 8705 §3.3), are offered only when the server
// verifies client certificates (mutualTLS): without a client CA no client
// could authenticate that way.
func metadata(svc *authz.Service, snap *authz.Snapshot, mutualTLS bool) map[string]any {
	issuer := svc.Issuer(snap)
	base := strings.TrimSuffix(issuer, "/")
	authMethods := []string{model.AuthClientSecretBasic, model.AuthClientSecretPost, model.AuthPrivateKeyJWT}
	if mutualTLS {
		authMethods = append(authMethods, model.AuthTLSClientAuth)
	}
	return map[string]any{
		"tls_client_certificate_bound_access_tokens": mutualTLS,
		"issuer":                                issuer,
		"token_endpoint":                        svc.TokenEndpoint(snap),
		"jwks_uri":                              base + "/.well-known/jwks.json",
		"introspection_endpoint":                base + "/oauth2/introspect",
		"revocation_endpoint":                   base + "/oauth2/revoke",
		"userinfo_endpoint":                     base + "/oauth2/userinfo",
		"grant_types_supported":                 []string{oauth.GrantTypeClientCredentials},
		"response_types_supported":              []string{},
		"token_endpoint_auth_methods_supported": authMethods,
		"introspection_endpoint_auth_methods_supported": authMethods,
		"revocation_endpoint_auth_methods_supported":    authMethods,
		"scopes_supported": scopesSupported(snap),
		"token_endpoint_auth_signing_alg_values_supported":         authz.AssertionAlgorithms,
		"introspection_endpoint_auth_signing_alg_values_supported": authz.AssertionAlgorithms,
		"revocation_endpoint_auth_signing_alg_values_supported":    authz.AssertionAlgorithms,
		"access_token_signing_alg_values_supported":                []string{svc.Keys().Alg()},
	}
}

func scopesSupported(snap *authz.Snapshot) []string {
	seen := map[string]bool{}
	var scopes []string
	for _, srv := range snap.Config.Servers {
		for _, sc := range srv.Scopes {
			if !seen[sc] {
				seen[sc] = true
				scopes = append(scopes, sc)
			}
		}
	}
	sort.Strings(scopes)
	if scopes == nil {
		scopes = []string{}
	}
	return scopes
}

func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeBody(w, http.StatusOK, []byte(`{"status":"ok"}`))
	})
}

func handleReadyz(s *server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.ready() {
			writeBody(w, http.StatusServiceUnavailable, []byte(`{"status":"not ready"}`))
			return
		}
		if !s.stateReady() {
			// What needs the shared state is refused meanwhile (SPEC §8).
			writeBody(w, http.StatusServiceUnavailable, []byte(`{"status":"not ready","state":"unavailable"}`))
			return
		}
		writeBody(w, http.StatusOK, []byte(`{"status":"ready"}`))
	})
}
