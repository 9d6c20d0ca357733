package clientauth

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/tollgate-dev/tollgate/engine/model"
)

// ErrCertificate is wrapped by every tls_client_auth rejection.
var ErrCertificate = errors.New("client certificate rejected")

// AuthenticateCertificate checks that cert, a certificate the TLS
// handshake verified against the server's client CA, is the one id's
// certificate block names (RFC 8705 §2.1.2).
func (idx *Index) AuthenticateCertificate(id string, cert *x509.Certificate) Result {
	e, known := idx.byID[id]
	res := Result{Declared: e.who}
	switch {
	case !known:
		res.Reason = "unknown client id"
	case e.who.Client == nil || e.who.Client.Certificate == nil:
		res.Reason = fmt.Sprintf("%v: the client names no certificate: it authenticates with %s", ErrCertificate, authMethodOf(e.who))
	case cert == nil:
		res.Reason = fmt.Sprintf("%v: no verified client certificate was presented", ErrCertificate)
	case !certificateMatches(e.who.Client.Certificate, cert):
		res.Reason = fmt.Sprintf("%v: the certificate (subject %q) is not the one client %q names", ErrCertificate, shorten(cert.Subject.String()), id)
	default:
		sum := sha256.Sum256(cert.Raw)
		res.OK = true
		res.Declared.Credential = "certificate " + hex.EncodeToString(sum[:4])
	}
	return res
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
