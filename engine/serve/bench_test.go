package serve_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/engine/authz"
	"github.com/tollgate-dev/tollgate/engine/model"
	"github.com/tollgate-dev/tollgate/engine/oauth"
	"github.com/tollgate-dev/tollgate/engine/redistest"
	"github.com/tollgate-dev/tollgate/engine/repotest"
	"github.com/tollgate-dev/tollgate/engine/secret"
	"github.com/tollgate-dev/tollgate/engine/serve"
)

// BenchmarkTokenEndpoint is one whole token request in-process, through
// everything `tollgate serve` puts on the path: router, security headers,
// metrics, body decoding, client authentication, rate limit, decision
// (cached after the first), ES256 signing, the response, and an audit line
// written to a file. Only the network is left out.
func BenchmarkTokenEndpoint(b *testing.B) {
	root := repotest.Path(b)
	s, err := serve.New(context.Background(), serve.Config{
		ConfigDir:   filepath.Join(root, "config"),
		PoliciesDir: filepath.Join(root, "policies"),
		AuditLog:    filepath.Join(b.TempDir(), "audit.log"),
	}, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	h := s.Handler()
	const body = "grant_type=client_credentials&scope=Server2"
	auth := "Basic " + basicAuth("Client1", Client1Secret)
	request := func() *http.Request {
		r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8080/oauth2/token", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Authorization", auth)
		return r
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, request())
			if w.Code != http.StatusOK {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		serveInParallel(b, h, request)
	})
}

// BenchmarkTokenEndpointState is BenchmarkTokenEndpoint's whole request
// with the state in memory and on a real redis-server, for a secret client
// without rate_limit (no round trip to Redis: the two should match), for
// one with a rate_limit (one GCRA script per token), and an introspection
// (one revocation look-up).
func BenchmarkTokenEndpointState(b *testing.B) {
	root := repotest.Path(b)
	redis := redistest.Start(b, redistest.Options{})
	config := b.TempDir()
	entries, err := os.ReadDir(filepath.Join(root, "config"))
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range entries {
		body, err := os.ReadFile(filepath.Join(root, "config", e.Name()))
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(config, e.Name()), body, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	limited := fmt.Sprintf("client \"limited\" {\n  secret { hash = %q }\n  rate_limit = \"1000000000/s\"\n}\n", secret.SHA256Hash(limitedSecret))
	if err := os.WriteFile(filepath.Join(config, "limited.hcl"), []byte(limited), 0o644); err != nil {
		b.Fatal(err)
	}
	for _, where := range []string{"memory", "redis"} {
		st := "memory"
		if where == "redis" {
			st = redis.URL()
		}
		s, err := serve.New(context.Background(), serve.Config{
			ConfigDir:   config,
			PoliciesDir: filepath.Join(root, "policies"),
			AuditLog:    filepath.Join(b.TempDir(), "audit.log"),
			State:       st,
		}, io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		h := s.Handler()
		held, err := s.Service().Issue(context.Background(), &authz.TokenRequest{
			GrantType:   oauth.GrantTypeClientCredentials,
			Credentials: authz.Credentials{ID: "client1", Secret: client1Secret, Method: model.AuthClientSecretBasic},
		})
		if err != nil {
			b.Fatal(err)
		}
		for _, client := range []struct{ name, path, body, auth string }{
			{"token/no-rate-limit", "/oauth2/token", "grant_type=client_credentials&scope=Server2", "Basic " + basicAuth("Client1", Client1Secret)},
			{"token/rate-limit", "/oauth2/token", "grant_type=client_credentials", "Basic " + basicAuth("limited", limitedSecret)},
			// An introspection looks the token up in the revocations.
			{"introspect", "/oauth2/introspect", "token=" + held.AccessToken, "Basic " + basicAuth("client1", client1Secret)},
		} {
			request := func() *http.Request {
				r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8080"+client.path, strings.NewReader(client.body))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				r.Header.Set("Authorization", client.auth)
				return r
			}
			b.Run(where+"/"+client.name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetParallelism(32) // 64 requests in flight on 2 cores
				serveInParallel(b, h, request)
			})
		}
	}
}

// BenchmarkIntrospectEndpoint is one whole introspection request
// in-process (RFC 7662): the resource server's authentication, the
// token's verification, the revocation check, the response and an audit
// line. It is the whole request that Verify is a part of.
func BenchmarkIntrospectEndpoint(b *testing.B) {
	root := repotest.Path(b)
	s, err := serve.New(context.Background(), serve.Config{
		ConfigDir:   filepath.Join(root, "config"),
		PoliciesDir: filepath.Join(root, "policies"),
		AuditLog:    filepath.Join(b.TempDir(), "audit.log"),
	}, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	h := s.Handler()
	post := func(path, body, auth string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8080"+path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Authorization", auth)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("%s: status %d: %s", path, w.Code, w.Body)
		}
		return w
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	w := post("/oauth2/token", "grant_type=client_credentials&scope=Server2", "Basic "+basicAuth("Client1", Client1Secret))
	if err := json.Unmarshal(w.Body.Bytes(), &tok); err != nil {
		b.Fatal(err)
	}
	body := url.Values{"token": {tok.AccessToken}}.Encode()
	auth := "Basic " + basicAuth("Server2", server2Secret)
	b.ReportAllocs()
	for b.Loop() {
		if w := post("/oauth2/introspect", body, auth); !strings.Contains(w.Body.String(), `"active":true`) {
			b.Fatalf("inactive: %s", w.Body)
		}
	}
}

// serveInParallel has h answer request() on every goroutine of
// b.RunParallel; any answer but 200 fails the benchmark.
func serveInParallel(b *testing.B, h http.Handler, request func() *http.Request) {
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, request())
			if w.Code != http.StatusOK {
				b.Errorf("status %d: %s", w.Code, w.Body)
				return
			}
		}
	})
}
