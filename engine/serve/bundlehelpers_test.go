package serve_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/engine/bundle"
	"github.com/tollgate-dev/tollgate/engine/repotest"
)

// bundleServer is a static host for bundles, as nginx serves files: an
// ETag made of the file's modification time and size, Last-Modified,
// and 304 to If-None-Match or If-Modified-Since. It counts what it
// answers.
type bundleServer struct {
	*httptest.Server
	dir                   string
	noETag                atomic.Bool
	requests, notModified atomic.Int64
	conditional           atomic.Int64
}

func newBundleServer(t *testing.T) *bundleServer {
	t.Helper()
	bs := &bundleServer{dir: t.TempDir()}
	bs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bs.requests.Add(1)
		if r.Header.Get("If-None-Match") != "" || r.Header.Get("If-Modified-Since") != "" {
			bs.conditional.Add(1)
		}
		path := filepath.Join(bs.dir, filepath.Base(r.URL.Path))
		body, err := os.ReadFile(path)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		info, err := os.Stat(path)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		if !bs.noETag.Load() {
			w.Header().Set("ETag", fmt.Sprintf(`"%x-%x"`, info.ModTime().UnixNano(), info.Size()))
		}
		rec := &statusRecorder{ResponseWriter: w}
		http.ServeContent(rec, r, "", info.ModTime(), bytes.NewReader(body))
		if rec.status == http.StatusNotModified {
			bs.notModified.Add(1)
		}
	}))
	t.Cleanup(bs.Close)
	return bs
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

// bundleURL is where the server serves its tollgate.tar.gz.
func (bs *bundleServer) bundleURL() string { return bs.URL + "/tollgate.tar.gz" }

// publish puts archive on the server, renamed over the old one as a
// deploy does, with a modification time of its own (a new ETag).
func (bs *bundleServer) publish(t *testing.T, archive []byte) {
	t.Helper()
	path := filepath.Join(bs.dir, "tollgate.tar.gz")
	writeFile(t, path, string(archive))
	stamp := time.Now().Add(time.Duration(bs.requests.Load()+1) * time.Second)
	if err := os.Chtimes(path, stamp, stamp); err != nil {
		t.Fatal(err)
	}
}

// makeBundle packs configDir and the repository's policies, signed by
// signer unless it is nil.
func makeBundle(t *testing.T, configDir string, signer *bundle.Signer) (archive []byte, revision string) {
	t.Helper()
	src, err := bundle.ReadDirs(configDir, repotest.Path(t, "policies"), "")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if signer == nil {
		revision, err = bundle.Write(&buf, src)
	} else {
		revision, err = bundle.WriteSigned(&buf, src, signer)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), revision
}

// configWithClient is the repository's config plus a client "added-client".
func configWithClient(t *testing.T) string {
	t.Helper()
	config := copyConfig(t)
	writeFile(t, filepath.Join(config, "added.hcl"), extraClient("added-client"))
	return config
}

// signingPair makes a bundle signing key and writes its public half to a
// PEM file for --verification-key.
func signingPair(t *testing.T) (*bundle.Signer, string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := bundle.NewSigner(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), bundle.SigningOptions{})
	if err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	public := filepath.Join(t.TempDir(), "bundle-signing.pub.pem")
	writeFile(t, public, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki})))
	return signer, public
}

// metric reads one sample of r's /metrics (r has a MetricsAddr), 0 when
// absent.
func metric(t *testing.T, r *running, sample string) int {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sample) + ` (\d+)$`).FindStringSubmatch(get(t, r.MetricsURL()))
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

const (
	reloadFailures  = `tollgate_config_reloads_total{result="failure"}`
	reloadSuccesses = `tollgate_config_reloads_total{result="success"}`
)

// closedURL is a bundle URL on 127.0.0.1 where nothing listens.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/tollgate.tar.gz"
}

// tamper changes one declaration of a signed archive, keeping its
// signature.
func tamper(t *testing.T, archive []byte) []byte {
	t.Helper()
	b, err := bundle.Parse(archive)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Files.Config["config/added.hcl"]; !ok {
		t.Fatal("no config/added.hcl to change")
	}
	return repotest.ReplaceInArchive(t, archive, "/config/added.hcl", append(b.Files.Config["config/added.hcl"], "# changed\n"...))
}
