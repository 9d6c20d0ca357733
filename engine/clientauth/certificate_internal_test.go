package clientauth

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"net/url"
	"testing"

	"github.com/tollgate-dev/tollgate/engine/model"
)

// TestCertificateMatches: each kind of name matches its own field of the
// certificate only, with the comparison RFC 8705 §2.1.2 implies.
func TestCertificateMatches(t *testing.T) {
	spiffe, _ := url.Parse("spiffe://example.org/device/42")
	cert := &x509.Certificate{
		Subject:        pkix.Name{CommonName: "device-42", Organization: []string{"Example Corp"}},
		DNSNames:       []string{"device-42.iot.example"},
		URIs:           []*url.URL{spiffe},
		IPAddresses:    []net.IP{net.ParseIP("10.0.0.42")},
		EmailAddresses: []string{"device42@example.com"},
	}
	for _, tc := range []struct {
		name string
		m    model.CertificateMatch
		want bool
	}{
		{"subject DN", model.CertificateMatch{SubjectDN: "CN=device-42,O=Example Corp"}, true},
		{"subject DN in the other order", model.CertificateMatch{SubjectDN: "O=Example Corp,CN=device-42"}, false},
		{"subject DN of a prefix", model.CertificateMatch{SubjectDN: "CN=device-42"}, false},
		{"DNS SAN, any case", model.CertificateMatch{SANDNS: "Device-42.IOT.example"}, true},
		{"another DNS SAN", model.CertificateMatch{SANDNS: "device-43.iot.example"}, false},
		{"the CN is not a DNS SAN", model.CertificateMatch{SANDNS: "device-42"}, false},
		{"URI SAN", model.CertificateMatch{SANURI: "spiffe://example.org/device/42"}, true},
		{"URI SAN of a prefix", model.CertificateMatch{SANURI: "spiffe://example.org/device/4"}, false},
		{"IP SAN", model.CertificateMatch{SANIP: "10.0.0.42"}, true},
		{"IP SAN as IPv4-mapped IPv6", model.CertificateMatch{SANIP: "::ffff:10.0.0.42"}, true},
		{"another IP SAN", model.CertificateMatch{SANIP: "10.0.0.43"}, false},
		{"email SAN", model.CertificateMatch{SANEmail: "Device42@example.com"}, true},
		{"nothing set matches nothing", model.CertificateMatch{}, false},
	} {
		if got := certificateMatches(&tc.m, cert); got != tc.want {
			t.Errorf("%s: matches = %v, want %v", tc.name, got, tc.want)
		}
	}
}
