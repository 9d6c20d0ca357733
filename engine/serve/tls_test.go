package serve_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/engine/serve"
)

// pki is a throwaway certificate authority for one test.
type pki struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newCA(t *testing.T, name string) *pki {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &pki{cert: cert, key: key, pool: pool}
}

func (ca *pki) issue(t *testing.T, cn string, usage x509.ExtKeyUsage) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func writePEM(t *testing.T, dir string, cert tls.Certificate) (certPath, keyPath string) {
	t.Helper()
	certPath, keyPath = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	keyDER, _ := x509.MarshalECPrivateKey(cert.PrivateKey.(*ecdsa.PrivateKey))
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath
}

// TestTLSAndClientCertificates: HTTPS with TLS 1.2+, the issuer is https,
// a client certificate from the client CA is accepted, one from another CA
// is refused, and old TLS versions are refused.
func TestTLSAndClientCertificates(t *testing.T) {
	dir := t.TempDir()
	serverCA, clientCA, otherCA := newCA(t, "server CA"), newCA(t, "client CA"), newCA(t, "other CA")
	certPath, keyPath := writePEM(t, dir, serverCA.issue(t, "127.0.0.1", x509.ExtKeyUsageServerAuth))
	caPath := filepath.Join(dir, "client-ca.pem")
	if err := os.WriteFile(caPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: clientCA.cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := start(t, serve.Config{TLSCert: certPath, TLSKey: keyPath, ClientCA: caPath})
	if !strings.HasPrefix(srv.url, "https://") {
		t.Fatalf("URL %s, want https", srv.url)
	}

	clientWith := func(cfg *tls.Config) *http.Client {
		cfg.RootCAs = serverCA.pool
		return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
	}
	tests := []struct {
		name    string
		cfg     *tls.Config
		wantErr bool
	}{
		{"no client certificate", &tls.Config{}, false},
		{"client certificate from the client CA", presenting(clientCA.issue(t, "gift-deliveries", x509.ExtKeyUsageClientAuth)), false},
		{"client certificate from another CA", presenting(otherCA.issue(t, "mallory", x509.ExtKeyUsageClientAuth)), true},
		{"TLS 1.1", &tls.Config{MaxVersion: tls.VersionTLS11}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := clientWith(tt.cfg).Get(srv.url + "/.well-known/oauth-authorization-server")
			if tt.wantErr {
				if err == nil {
					resp.Body.Close()
					t.Fatal("the handshake succeeded")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			meta := decode[map[string]any](t, resp)
			if meta["issuer"] != srv.url || resp.TLS.Version < tls.VersionTLS12 {
				t.Errorf("issuer %v over TLS %x", meta["issuer"], resp.TLS.Version)
			}
		})
	}
}

// presenting sends cert whatever CAs the server names, as a misconfigured
// or hostile client would.
func presenting(cert tls.Certificate) *tls.Config {
	return &tls.Config{GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }}
}
