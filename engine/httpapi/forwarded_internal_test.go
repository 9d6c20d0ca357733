package httpapi

import (
	"net/http"
	"net/netip"
	"testing"
)

// TestForwardedFor: the client is the rightmost hop that is not a trusted
// proxy, in X-Forwarded-For or else Forwarded; a hop that is no address
// stops the walk at the trusted hop after it.
func TestForwardedFor(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	tests := []struct {
		name   string
		header http.Header
		want   string // "" for none
	}{
		{"none", http.Header{}, ""},
		{"one hop", http.Header{"X-Forwarded-For": {"203.0.113.7"}}, "203.0.113.7"},
		{"the client's own entries are left of the proxy's", http.Header{"X-Forwarded-For": {"1.1.1.1, 203.0.113.7, 10.0.0.2"}}, "203.0.113.7"},
		{"with a port", http.Header{"X-Forwarded-For": {"203.0.113.7:5555"}}, "203.0.113.7"},
		{"IPv4-mapped IPv6", http.Header{"X-Forwarded-For": {"::ffff:203.0.113.7"}}, "203.0.113.7"},
		{"IPv6 in brackets", http.Header{"X-Forwarded-For": {"[2001:db8::1]"}}, "2001:db8::1"},
		{"trusted IPv6 hop", http.Header{"X-Forwarded-For": {"2001:db8::1, fd00::5"}}, "2001:db8::1"},
		{"garbage after a trusted hop", http.Header{"X-Forwarded-For": {"203.0.113.7, junk, 10.0.0.9"}}, "10.0.0.9"},
		{"garbage only", http.Header{"X-Forwarded-For": {"junk"}}, ""},
		{"a zone is no client address", http.Header{"X-Forwarded-For": {"fe80::1%eth0"}}, ""},
		{"Forwarded, quoted IPv6 with port", http.Header{"Forwarded": {`for="[2001:db8::1]:4711";proto=https`}}, "2001:db8::1"},
		{"Forwarded, case and several lines", http.Header{"Forwarded": {"For=198.51.100.3", "for=10.0.0.1"}}, "198.51.100.3"},
		{"Forwarded unknown", http.Header{"Forwarded": {"for=unknown"}}, ""},
		{"X-Forwarded-For wins over Forwarded", http.Header{"X-Forwarded-For": {"203.0.113.7"}, "Forwarded": {"for=198.51.100.3"}}, "203.0.113.7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := forwardedFor(tt.header, trusted)
			if !ok {
				if tt.want != "" {
					t.Errorf("none found, want %s", tt.want)
				}
				return
			}
			if got.String() != tt.want {
				t.Errorf("got %s, want %q", got, tt.want)
			}
		})
	}
}
