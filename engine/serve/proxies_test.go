package serve_test

import (
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/engine/serve"
)

// TestTrustedProxies: X-Forwarded-For and Forwarded name the remote
// address (for the audit line and for throttling) only on connections
// from --trusted-proxies; the rightmost hop that is not a trusted proxy is
// the client.
func TestTrustedProxies(t *testing.T) {
	tests := []struct {
		name    string
		trusted string
		from    string
		header  http.Header
		want    string
	}{
		{"no trusted proxies: headers ignored", "", hostA, http.Header{"X-Forwarded-For": {"203.0.113.7"}}, hostA},
		{"from a trusted proxy", "127.0.0.1/32", hostA, http.Header{"X-Forwarded-For": {"198.51.100.1, 203.0.113.7"}}, "203.0.113.7"},
		{"from an untrusted host", "127.0.0.1/32", hostB, http.Header{"X-Forwarded-For": {"203.0.113.7"}}, hostB},
		{"through a chain of trusted proxies", "127.0.0.0/8,10.0.0.0/8", hostA,
			http.Header{"X-Forwarded-For": {"198.51.100.1, 203.0.113.7", "10.1.2.3"}}, "203.0.113.7"},
		{"every hop trusted: the first", "127.0.0.0/8,10.0.0.0/8", hostA, http.Header{"X-Forwarded-For": {"10.9.9.9, 10.1.2.3"}}, "10.9.9.9"},
		{"Forwarded", "127.0.0.1/32", hostA,
			http.Header{"Forwarded": {`for=192.0.2.60;proto=http;by=203.0.113.43, for="[2001:db8:cafe::17]:4711"`}}, "2001:db8:cafe::17"},
		{"a hop that is no address: the proxy", "127.0.0.1/32", hostA, http.Header{"X-Forwarded-For": {"not-an-ip"}}, hostA},
		{"no header from a trusted proxy", "127.0.0.1/32", hostA, nil, hostA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			auditPath := filepath.Join(t.TempDir(), "audit.log")
			cfg := serve.Config{AuditLog: auditPath}
			for _, p := range strings.Split(tt.trusted, ",") {
				if p != "" {
					cfg.TrustedProxies = append(cfg.TrustedProxies, netip.MustParsePrefix(p))
				}
			}
			srv := start(t, cfg)
			if a := ask(t, from(tt.from), srv.url, "/oauth2/token", grant, "client1", client1Secret, tt.header); a.status != 200 {
				t.Fatalf("token: %d %s", a.status, a.body)
			}
			if got := auditEvents(t, auditPath, 1)[0]["remote_addr"]; got != tt.want {
				t.Errorf("remote_addr %v, want %s", got, tt.want)
			}
		})
	}
}

// TestThrottlingFollowsTheForwardedAddress: behind one trusted proxy, a
// guesser's forwarded address is throttled and another client's is not.
func TestThrottlingFollowsTheForwardedAddress(t *testing.T) {
	dir := copyConfig(t)
	personClient(t, dir, "person", personSecret)
	srv := start(t, serve.Config{ConfigDir: dir, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	proxy := from(hostA)
	guesser := http.Header{"X-Forwarded-For": {"203.0.113.7"}}
	throttled := false
	for _, a := range guessAtOnce(t, proxy, srv.url, "/oauth2/token", grant, "person", 12, guesser) {
		if a.status == 429 {
			throttled = true
		}
	}
	if !throttled {
		t.Error("12 wrong secrets from one forwarded address were not throttled")
	}
	if a := ask(t, proxy, srv.url, "/oauth2/token", grant, "person", personSecret, http.Header{"X-Forwarded-For": {"198.51.100.1"}}); a.status != 200 {
		t.Errorf("the holder behind the same proxy: %d %s", a.status, a.body)
	}
}
