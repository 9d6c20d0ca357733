package serve

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
)

// tlsState holds the certificate and client CA pool, swappable on SIGHUP
// without dropping connections: each handshake reads the current ones.
type tlsState struct {
	certFile, keyFile, caFile string
	cert                      atomic.Pointer[tls.Certificate]
	clientCAs                 atomic.Pointer[x509.CertPool]
}

func newTLSState(cfg Config) (*tlsState, error) {
	if cfg.TLSCert == "" || cfg.TLSKey == "" {
		return nil, errors.New("TLS needs both --tls-cert and --tls-key")
	}
	t := &tlsState{certFile: cfg.TLSCert, keyFile: cfg.TLSKey, caFile: cfg.ClientCA}
	if err := t.reload(); err != nil {
		return nil, err
	}
	return t, nil
}

// reload reads the files anew; on error the previous state stays.
func (t *tlsState) reload() error {
	cert, err := tls.LoadX509KeyPair(t.certFile, t.keyFile)
	if err != nil {
		return fmt.Errorf("TLS certificate: %w", err)
	}
	var pool *x509.CertPool
	if t.caFile != "" {
		pem, err := os.ReadFile(t.caFile)
		if err != nil {
			return fmt.Errorf("client CA: %w", err)
		}
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("client CA: no PEM certificates in %s", t.caFile)
		}
	}
	t.cert.Store(&cert)
	if pool != nil {
		t.clientCAs.Store(pool)
	}
	return nil
}

// config is TLS 1.2+ with Go's modern defaults (AEAD suites, X25519/P-256).
// With a client CA, certificates are requested and, when sent, verified;
// they are not required, because most clients authenticate with secrets.
// RFC 8705 client authentication builds on the verified chain.
func (t *tlsState) config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			c := &tls.Config{
				MinVersion:   tls.VersionTLS12,
				NextProtos:   []string{"h2", "http/1.1"},
				Certificates: []tls.Certificate{*t.cert.Load()},
			}
			if pool := t.clientCAs.Load(); pool != nil {
				c.ClientCAs = pool
				c.ClientAuth = tls.VerifyClientCertIfGiven
			}
			return c, nil
		},
	}
}
