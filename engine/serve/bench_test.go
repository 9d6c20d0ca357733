package serve_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/engine/internal/repotest"
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
	})
}
