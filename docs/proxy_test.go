package docs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestHowtoTrustedProxiesRunsAsWritten runs the --trusted-proxies part of
// docs/howto/reverse-proxy.md in a copy of the repository: the server
// trusting 127.0.0.1, then curl playing the proxy. It checks that the
// token's audit line has the address X-Forwarded-For names, as the page
// says, and that the same request from a peer outside the trusted range
// (127.0.0.2, another loopback address) has that peer's address.
func TestHowtoTrustedProxiesRunsAsWritten(t *testing.T) {
	requireTools(t, "sh", "make", "go", "git", "curl")
	// Its own copy of the repository, its own port: it runs beside the others.
	t.Parallel()
	page := markdownSection(t, readDoc(t, "docs/howto/reverse-proxy.md"), "Behind a proxy: `--trusted-proxies`")
	blocks := shellBlocks(t, page)
	if len(blocks) != 2 {
		t.Fatalf("the proxy part has %d sh blocks, want 2 (serve, curl as the proxy)", len(blocks))
	}
	forwarded := regexp.MustCompile(`-H 'X-Forwarded-For: ([^']+)'`).FindStringSubmatch(blocks[1])
	if forwarded == nil {
		t.Fatalf("the curl sends no X-Forwarded-For: %q", blocks[1])
	}
	if want := `"remote_addr":"` + forwarded[1] + `"`; !strings.Contains(page, want) {
		t.Errorf("the page does not say the audit line has %s", want)
	}
	clone := builtCopyOfRepository(t)
	srv := serveBlock(t, clone, blocks[0])

	out, err := runShellIn(clone, strings.ReplaceAll(blocks[1], defaultURL, srv.url))
	var resp struct {
		AccessToken string `json:"access_token"`
	}
	if err != nil || json.Unmarshal([]byte(out), &resp) != nil || resp.AccessToken == "" {
		t.Fatalf("curl as the proxy: %v\n%s", err, out)
	}
	if got := auditLine(t, srv, resp.AccessToken)["remote_addr"]; got != forwarded[1] {
		t.Errorf("from the trusted proxy, remote_addr is %v, want %s from X-Forwarded-For", got, forwarded[1])
	}

	untrusted := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 5 * time.Second}).DialContext}}
	req, err := http.NewRequest(http.MethodPost, srv.url+"/oauth2/token", strings.NewReader("grant_type=client_credentials"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", forwarded[1])
	req.SetBasicAuth("client1", "demo-client1-secret-not-for-production")
	resp.AccessToken = ""
	got, err := untrusted.Do(req)
	if err != nil {
		t.Fatalf("from 127.0.0.2: %v", err)
	}
	defer got.Body.Close()
	if err := json.NewDecoder(got.Body).Decode(&resp); err != nil || resp.AccessToken == "" {
		t.Fatalf("from 127.0.0.2: %s, %v", got.Status, err)
	}
	if addr := auditLine(t, srv, resp.AccessToken)["remote_addr"]; addr != "127.0.0.2" {
		t.Errorf("from an untrusted peer, remote_addr is %v, want the peer's 127.0.0.2, not X-Forwarded-For's %s", addr, forwarded[1])
	}
}

// TestHowtoServeHTTPSRunsAsWritten runs the HTTPS part of
// docs/howto/reverse-proxy.md in a copy of the repository: the
// self-signed certificate and the server using it, then the curl that
// trusts it. It checks that the metadata then names https:// endpoints,
// that a token comes over TLS from a client trusting only that
// certificate, and that plain HTTP is not served.
func TestHowtoServeHTTPSRunsAsWritten(t *testing.T) {
	requireTools(t, "sh", "make", "go", "git", "curl", "openssl")
	// Its own copy of the repository, its own port: it runs beside the others.
	t.Parallel()
	page := markdownSection(t, readDoc(t, "docs/howto/reverse-proxy.md"), "HTTPS by tollgate itself")
	blocks := shellBlocks(t, page)
	if len(blocks) != 2 {
		t.Fatalf("the HTTPS part has %d sh blocks, want 2 (certificate and serve, curl)", len(blocks))
	}
	clone := builtCopyOfRepository(t)
	srv := serveBlock(t, clone, blocks[0])
	if !strings.HasPrefix(srv.url, "https://") {
		t.Fatalf("the server listens on %s, want https://", srv.url)
	}

	out, err := runShellIn(clone, strings.ReplaceAll(blocks[1], "https://127.0.0.1:8080", srv.url))
	var metadata struct {
		Issuer        string `json:"issuer"`
		TokenEndpoint string `json:"token_endpoint"`
	}
	if err != nil || json.Unmarshal([]byte(out), &metadata) != nil {
		t.Fatalf("curl --cacert: %v\n%s", err, out)
	}
	if metadata.Issuer != srv.url || metadata.TokenEndpoint != srv.url+"/oauth2/token" {
		t.Errorf("the metadata names issuer %q and token endpoint %q, want %s and its /oauth2/token", metadata.Issuer, metadata.TokenEndpoint, srv.url)
	}

	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(readFile(t, filepath.Join(clone, "tls.crt")))) {
		t.Fatal("tls.crt holds no certificate")
	}
	overTLS := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	client1 := client{id: "client1", secret: "demo-client1-secret-not-for-production"}
	if _, err := client1.token(context.Background(), overTLS, srv.url); err != nil {
		t.Errorf("a token over TLS trusting only tls.crt: %v", err)
	}

	plain, err := http.Get("http://" + strings.TrimPrefix(srv.url, "https://") + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatalf("plain HTTP: %v", err)
	}
	defer plain.Body.Close()
	body, _ := io.ReadAll(plain.Body)
	if plain.StatusCode == http.StatusOK || json.Valid(body) {
		t.Errorf("plain HTTP got %s %q, want no metadata without TLS", plain.Status, body)
	}
}
