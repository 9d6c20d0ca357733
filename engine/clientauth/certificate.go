package clientauth

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/tollgate-dev/tollgate/engine/model"
)

// ErrCertificate is wrapped by every tls_client_auth rejection.
var ErrCertificate = errors.New("client certificate rejected")

// AuthenticateCertificate returns the client id is when cert, a
// certificate the TLS handshake verified against the server's client CA,
// is the one the client's certificate block names (RFC 8705 §2.1.2).
func (idx *Index) AuthenticateCertificate(id string, cert *x509.Certificate) (Principal, error) {
	e, known := idx.byID[id]
	if !known || e.who.Client == nil || e.who.Client.Certificate == nil {
		return Principal{}, fmt.Errorf("%w: client %q does not authenticate with a certificate", ErrCertificate, id)
	}
	if cert == nil {
		return Principal{}, fmt.Errorf("%w: no verified client certificate was presented", ErrCertificate)
	}
	if !certificateMatches(e.who.Client.Certificate, cert) {
		return Principal{}, fmt.Errorf("%w: the certificate (subject %q) is not the one client %q names", ErrCertificate, cert.Subject.String(), id)
	}
	return e.who, nil
}

// certificateMatches compares the one name m sets with cert's: the
// subject DN exactly as RFC 4514 writes it, DNS names and emails without
// regard to case, URIs exactly, IP addresses by value.
func certificateMatches(m *model.CertificateMatch, cert *x509.Certificate) bool {
	switch {
	case m.SubjectDN != "":
		return cert.Subject.String() == m.SubjectDN
	case m.SANDNS != "":
		for _, name := range cert.DNSNames {
			if strings.EqualFold(name, m.SANDNS) {
				return true
			}
		}
	case m.SANURI != "":
		for _, u := range cert.URIs {
			if u.String() == m.SANURI {
				return true
			}
		}
	case m.SANIP != "":
		want := net.ParseIP(m.SANIP)
		for _, ip := range cert.IPAddresses {
			if want != nil && ip.Equal(want) {
				return true
			}
		}
	case m.SANEmail != "":
		for _, addr := range cert.EmailAddresses {
			if strings.EqualFold(addr, m.SANEmail) {
				return true
			}
		}
	}
	return false
}
