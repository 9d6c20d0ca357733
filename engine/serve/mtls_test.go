package serve_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/tollgate-dev/tollgate/engine/serve"
)

// clientCert issues a client certificate from ca with subject and URI SANs.
func (ca *pki) clientCert(t *testing.T, subject pkix.Name, uris ...string) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: subject,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	for _, u := range uris {
		parsed, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = append(tmpl.URIs, parsed)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// mtlsServer serves the example configuration plus two tls_client_auth
// clients over HTTPS, verifying client certificates from clientCA.
func mtlsServer(t *testing.T) (srv *running, serverCA, clientCA *pki) {
	t.Helper()
	dir := t.TempDir()
	serverCA, clientCA = newCA(t, "server CA"), newCA(t, "client CA")
	certPath, keyPath := writePEM(t, dir, serverCA.issue(t, "127.0.0.1", x509.ExtKeyUsageServerAuth))
	caPath := filepath.Join(dir, "client-ca.pem")
	if err := os.WriteFile(caPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: clientCA.cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := copyConfig(t)
	writeFile(t, filepath.Join(conf, "devices.hcl"), `client "iot-device-42" {
  auth_method = "tls_client_auth"
  certificate { subject_dn = "CN=iot-device-42,O=Example Corp" }
  access "world-mappers" { scopes = ["read:geocode"] }
}

client "sensor" {
  auth_method = "tls_client_auth"
  certificate { san_uri = "spiffe://example.org/sensor" }
  access "world-mappers" { scopes = ["read:geocode"] }
}
`)
	return start(t, serve.Config{ConfigDir: conf, TLSCert: certPath, TLSKey: keyPath, ClientCA: caPath}), serverCA, clientCA
}

// TestTLSClientAuth: a tls_client_auth client gets a token with
// golang.org/x/oauth2/clientcredentials by sending only its client_id over
// a connection where it presents the certificate its block names (RFC
// 8705 §2.1); the token verifies through JWKS. Another client's
// certificate, a certificate whose subject differs, or none at all is 401
// invalid_client; one from another CA fails the handshake.
func TestTLSClientAuth(t *testing.T) {
	srv, serverCA, clientCA := mtlsServer(t)
	otherCA := newCA(t, "other CA")
	device := clientCA.clientCert(t, pkix.Name{CommonName: "iot-device-42", Organization: []string{"Example Corp"}})
	sensor := clientCA.clientCert(t, pkix.Name{CommonName: "anything"}, "spiffe://example.org/sensor")
	impostor := clientCA.clientCert(t, pkix.Name{CommonName: "iot-device-42", Organization: []string{"Other Corp"}})
	foreign := otherCA.clientCert(t, pkix.Name{CommonName: "iot-device-42", Organization: []string{"Example Corp"}})

	httpClient := func(cert *tls.Certificate) *http.Client {
		cfg := &tls.Config{RootCAs: serverCA.pool}
		if cert != nil {
			cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
	}
	fetch := func(clientID string, cert *tls.Certificate) (*oauth2.Token, error) {
		cfg := clientcredentials.Config{
			ClientID: clientID, TokenURL: srv.url + "/oauth2/token", AuthStyle: oauth2.AuthStyleInParams,
			EndpointParams: url.Values{"audience": {worldAudience}},
		}
		return cfg.Token(context.WithValue(context.Background(), oauth2.HTTPClient, httpClient(cert)))
	}

	for _, tc := range []struct {
		name, client string
		cert         *tls.Certificate
	}{
		{"subject DN", "iot-device-42", &device},
		{"URI SAN", "sensor", &sensor},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := fetch(tc.client, tc.cert)
			if err != nil {
				t.Fatal(err)
			}
			set, err := jwk.Fetch(context.Background(), srv.url+"/.well-known/jwks.json", jwk.WithHTTPClient(httpClient(nil)))
			if err != nil {
				t.Fatal(err)
			}
			claims, err := jwt.ParseString(tok.AccessToken, jwt.WithKeySet(set), jwt.WithIssuer(srv.url), jwt.WithAudience(worldAudience), jwt.WithValidate(true))
			if err != nil {
				t.Fatalf("token does not verify through JWKS: %v", err)
			}
			if claims.Subject() != tc.client || claims.PrivateClaims()["scope"] != "read:geocode" {
				t.Errorf("sub %q scope %v", claims.Subject(), claims.PrivateClaims()["scope"])
			}
			// Bound to the certificate (RFC 8705 §3.1).
			leaf, _ := x509.ParseCertificate(tc.cert.Certificate[0])
			sum := sha256.Sum256(leaf.Raw)
			wantCnf := map[string]any{"x5t#S256": base64.RawURLEncoding.EncodeToString(sum[:])}
			if cnf, _ := claims.PrivateClaims()["cnf"].(map[string]any); !reflect.DeepEqual(cnf, wantCnf) {
				t.Errorf("cnf = %v, want %v", claims.PrivateClaims()["cnf"], wantCnf)
			}
		})
	}
	for _, tc := range []struct {
		name, client string
		cert         *tls.Certificate
	}{
		{"another client's certificate", "sensor", &device},
		{"a subject that differs", "iot-device-42", &impostor},
		{"no certificate", "iot-device-42", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := fetch(tc.client, tc.cert)
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) || re.Response.StatusCode != http.StatusUnauthorized || re.ErrorCode != "invalid_client" {
				t.Fatalf("err = %v, want 401 invalid_client", err)
			}
		})
	}
	if _, err := fetch("iot-device-42", &foreign); err == nil || errors.As(err, new(*oauth2.RetrieveError)) {
		t.Errorf("a certificate from another CA: err = %v, want a failed handshake", err)
	}

	// A client with a secret may present a certificate too: it still
	// authenticates with its secret, and its token is not bound.
	cfg := clientcredentials.Config{ClientID: "gift-deliveries", ClientSecret: giftSecret, TokenURL: srv.url + "/oauth2/token",
		AuthStyle: oauth2.AuthStyleInParams, EndpointParams: url.Values{"audience": {worldAudience}}}
	if tok, err := cfg.Token(context.WithValue(context.Background(), oauth2.HTTPClient, httpClient(&device))); err != nil {
		t.Errorf("a secret client over mutual TLS: %v", err)
	} else if strings.Contains(string(mustDecodeSegment(t, tok.AccessToken, 1)), "cnf") {
		t.Error("a secret client's token is bound to a certificate")
	}

	// The userinfo endpoint, a resource of tollgate's own, honours the
	// binding: the token works only with the certificate it is bound to;
	// introspection shows the binding.
	tok, err := fetch("iot-device-42", &device)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cert *tls.Certificate
		want int
	}{
		{"the bound certificate", &device, http.StatusOK},
		{"another certificate", &sensor, http.StatusUnauthorized},
		{"no certificate", nil, http.StatusUnauthorized},
	} {
		req, _ := http.NewRequest(http.MethodGet, srv.url+"/oauth2/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := httpClient(tc.cert).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("userinfo with %s: status %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
	introspect, _ := http.NewRequest(http.MethodPost, srv.url+"/oauth2/introspect", strings.NewReader(url.Values{"token": {tok.AccessToken}}.Encode()))
	introspect.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	introspect.SetBasicAuth("world-mappers", worldSecret)
	resp, err := httpClient(nil).Do(introspect)
	if err != nil {
		t.Fatal(err)
	}
	if got := decode[map[string]any](t, resp); got["active"] != true || got["cnf"] == nil {
		t.Errorf("introspection of a bound token: %v, want active with cnf", got)
	}

	resp, err = httpClient(nil).Get(srv.url + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	if meta := decode[map[string]any](t, resp); !containsAll(meta["token_endpoint_auth_methods_supported"], "tls_client_auth") ||
		meta["tls_client_certificate_bound_access_tokens"] != true {
		t.Errorf("metadata does not offer tls_client_auth and bound tokens: %v", meta)
	}
}

// TestTLSClientAuthNeedsAClientCA: served without a client CA, the
// metadata does not offer tls_client_auth and the log names the clients
// that could never authenticate.
func TestTLSClientAuthNeedsAClientCA(t *testing.T) {
	conf := copyConfig(t)
	writeFile(t, filepath.Join(conf, "devices.hcl"), `client "iot-device-42" {
  auth_method = "tls_client_auth"
  certificate { san_dns = "device-42.iot.example" }
}
`)
	srv := start(t, serve.Config{ConfigDir: conf})
	resp, err := http.Get(srv.url + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	if meta := decode[map[string]any](t, resp); containsAll(meta["token_endpoint_auth_methods_supported"], "tls_client_auth") ||
		meta["tls_client_certificate_bound_access_tokens"] != false {
		t.Errorf("metadata offers tls_client_auth or bound tokens without a client CA: %v", meta)
	}
	if log := srv.stderr.String(); !strings.Contains(log, "tls_client_auth") || !strings.Contains(log, "iot-device-42") {
		t.Errorf("no warning about iot-device-42 in the log:\n%s", log)
	}
}

// mustDecodeSegment returns a JWT's segment i, decoded.
func mustDecodeSegment(t *testing.T, raw string, i int) []byte {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %.20s...", raw)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	return b
}
