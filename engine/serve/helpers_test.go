package serve_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/tollgate-dev/tollgate/engine/repotest"
	"github.com/tollgate-dev/tollgate/engine/serve"
)

// Demo secrets of config/ (README: demo only).
const (
	giftSecret    = "demo-gift-deliveries-secret-not-for-production"
	client1Secret = "demo-client1-secret-not-for-production"
	Client1Secret = "demo-Client1-secret-not-for-production"
	server1Secret = "demo-Server1-secret-not-for-production"
	server2Secret = "demo-Server2-secret-not-for-production"
	worldSecret   = "demo-world-mappers-secret-not-for-production"
	worldAudience = "https://api.worldmappers.example"
)

// running is a real tollgate on 127.0.0.1:0.
type running struct {
	*serve.Server
	url    string
	stderr *syncBuffer
	stop   func()
}

// start serves cfg (defaults, unless it names a bundle: the repository's
// config/ and policies/) until the test ends, exactly as `tollgate serve`
// does.
func start(t testing.TB, cfg serve.Config) *running {
	t.Helper()
	root := repotest.Path(t)
	if cfg.ConfigDir == "" && cfg.Bundle == "" {
		cfg.ConfigDir = filepath.Join(root, "config")
	}
	if cfg.PoliciesDir == "" && cfg.Bundle == "" {
		cfg.PoliciesDir = filepath.Join(root, "policies")
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	stderr := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := serve.New(ctx, cfg, stderr)
	if err != nil {
		cancel()
		t.Fatalf("serve.New: %v\n%s", err, stderr.String())
	}
	if _, err := s.Listen(); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("server did not stop")
		}
	}
	t.Cleanup(stop)
	return &running{Server: s, url: s.URL(), stderr: stderr, stop: stop}
}

// post sends a form with optional Basic credentials.
func (r *running) post(t testing.TB, path string, form url.Values, basicUser, basicPass string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, r.url+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicUser != "" {
		req.SetBasicAuth(url.QueryEscape(basicUser), url.QueryEscape(basicPass))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func decode[T any](t testing.TB, resp *http.Response) T {
	t.Helper()
	defer resp.Body.Close()
	var v T
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("decoding %s: %v", body, err)
	}
	return v
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope"`
	RefreshToken string `json:"refresh_token"`
	Error        string `json:"error"`
	Description  string `json:"error_description"`
}

// verify checks a token as a resource server would: keys from the JWKS
// endpoint, signature, typ at+jwt (RFC 9068 §4), iss, aud, exp.
func (r *running) verify(t testing.TB, raw, audience string) jwt.Token {
	t.Helper()
	set, err := jwk.Fetch(context.Background(), r.url+"/.well-known/jwks.json")
	if err != nil {
		t.Fatalf("fetching JWKS: %v", err)
	}
	msg, err := jws.Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if typ := msg.Signatures()[0].ProtectedHeaders().Type(); typ != "at+jwt" {
		t.Fatalf("typ = %q, want at+jwt", typ)
	}
	if kid := msg.Signatures()[0].ProtectedHeaders().KeyID(); kid == "" {
		t.Fatal("no kid in the header")
	}
	tok, err := jwt.Parse([]byte(raw), jwt.WithKeySet(set), jwt.WithIssuer(r.url), jwt.WithAudience(audience), jwt.WithValidate(true))
	if err != nil {
		t.Fatalf("token does not verify through JWKS: %v", err)
	}
	return tok
}

// syncBuffer collects the server's log output safely across goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func base64URLDecode(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

func basicAuth(id, secret string) string {
	return base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id) + ":" + url.QueryEscape(secret)))
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
