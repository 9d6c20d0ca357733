package serve_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/engine/bundle"
	"github.com/tollgate-dev/tollgate/engine/repotest"
	"github.com/tollgate-dev/tollgate/engine/serve"
)

// TestReplicasPickUpANewBundle: two replicas polling one bundle server
// both serve a new revision within the poll interval of its publication,
// each keeping it in its own cache.
func TestReplicasPickUpANewBundle(t *testing.T) {
	const poll = 500 * time.Millisecond
	bs := newBundleServer(t)
	first, _ := makeBundle(t, repotest.Path(t, "config"), nil)
	bs.publish(t, first)
	var replicas []*running
	var caches []string
	for range 2 {
		cache := filepath.Join(t.TempDir(), "cache")
		caches = append(caches, cache)
		replicas = append(replicas, start(t, serve.Config{Bundle: bs.bundleURL(), BundlePoll: poll, BundleCache: cache}))
	}
	for _, r := range replicas {
		if got := tokenStatus(t, r.url, "added-client", extraClientSecret); got != 401 {
			t.Fatalf("before the new bundle: %d", got)
		}
	}

	second, revision := makeBundle(t, configWithClient(t), nil)
	published := time.Now()
	bs.publish(t, second)
	for i, r := range replicas {
		eventually(t, "the replica serves the new bundle", func() bool { return tokenStatus(t, r.url, "added-client", extraClientSecret) == 200 })
		took := time.Since(published)
		t.Logf("replica %d serves the new revision %s after %v", i, revision, took.Round(time.Millisecond))
		// One poll interval, plus the reload itself on a busy machine.
		if took > poll+2*time.Second {
			t.Errorf("replica %d took %v, poll interval %v", i, took, poll)
		}
		if !strings.Contains(r.stderr.String(), "revision="+revision) {
			t.Errorf("replica %d does not log the new revision:\n%s", i, r.stderr.String())
		}
	}
	for i, cache := range caches {
		path := filepath.Join(cache, bundle.CacheFile)
		eventually(t, "the cache holds the new bundle", func() bool {
			body, err := os.ReadFile(path)
			return err == nil && bytes.Equal(body, second)
		})
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm != 0o600 {
			t.Errorf("replica %d's cache file has mode %v, want 0600", i, perm)
		}
	}
}

// TestUnchangedBundleIsNotReloaded: polls of an unchanged bundle are
// conditional and answered 304, with If-None-Match or, from a server
// without ETags, If-Modified-Since; the same bytes republished (a new
// ETag) are fetched but not reloaded.
func TestUnchangedBundleIsNotReloaded(t *testing.T) {
	for _, withETag := range []bool{true, false} {
		t.Run("ETag "+strconv.FormatBool(withETag), func(t *testing.T) {
			bs := newBundleServer(t)
			bs.noETag.Store(!withETag)
			archive, _ := makeBundle(t, repotest.Path(t, "config"), nil)
			bs.publish(t, archive)
			r := start(t, serve.Config{Bundle: bs.bundleURL(), BundlePoll: 50 * time.Millisecond, MetricsAddr: "127.0.0.1:0"})
			eventually(t, "five conditional polls", func() bool { return bs.conditional.Load() >= 5 })
			if got, conditional := bs.notModified.Load(), bs.conditional.Load(); got < conditional-1 {
				t.Errorf("%d of %d conditional polls answered 304", got, conditional)
			}
			if got := bs.requests.Load() - bs.conditional.Load(); got != 1 {
				t.Errorf("%d unconditional requests, want the first one only", got)
			}
			if got := metric(t, r, reloadSuccesses); got != 1 {
				t.Errorf("%d successful loads, want the first one only", got)
			}

			if withETag {
				before := metric(t, r, `tollgate_bundle_fetches_total{result="unchanged"}`)
				bs.publish(t, archive) // same bytes, new modification time: a new ETag
				requests := bs.requests.Load()
				eventually(t, "more polls", func() bool { return bs.requests.Load() >= requests+3 })
				if got := metric(t, r, `tollgate_bundle_fetches_total{result="unchanged"}`); got < before+3 {
					t.Errorf("unchanged polls %d, then %d", before, got)
				}
				if got := metric(t, r, reloadSuccesses); got != 1 {
					t.Errorf("the same bytes under a new ETag reloaded: %d loads", got)
				}
			}
			if strings.Contains(r.stderr.String(), "configuration reloaded") {
				t.Errorf("an unchanged bundle was reloaded:\n%s", r.stderr.String())
			}
		})
	}
}

// TestStartWhileTheBundleServerIsAway: with a cache, a replica starts
// from the last good bundle (logged) and picks up the server's once it
// is back; without one, the start fails and says why. Credentials in
// the URL reach no log line and no error.
func TestStartWhileTheBundleServerIsAway(t *testing.T) {
	bs := newBundleServer(t)
	archive, revision := makeBundle(t, configWithClient(t), nil)
	bs.publish(t, archive)
	cache := t.TempDir()
	first := start(t, serve.Config{Bundle: bs.bundleURL(), BundleCache: cache})
	first.stop()
	bs.Close()

	down := closedURL(t)
	withSecrets := strings.Replace(down, "http://", "http://user:hunter2@", 1) + "?X-Amz-Signature=topsecret"
	r := start(t, serve.Config{Bundle: withSecrets, BundleCache: cache, BundlePoll: 50 * time.Millisecond})
	if got := tokenStatus(t, r.url, "added-client", extraClientSecret); got != 200 {
		t.Errorf("the cached bundle does not serve: %d", got)
	}
	logs := r.stderr.String()
	if !strings.Contains(logs, "starting from the cached bundle") || !strings.Contains(logs, "revision="+revision) {
		t.Errorf("the start from the cache is not logged:\n%s", logs)
	}
	eventually(t, "failed polls are logged", func() bool { return strings.Contains(r.stderr.String(), "fetch failed") })
	if logs := r.stderr.String(); strings.Contains(logs, "hunter2") || strings.Contains(logs, "topsecret") {
		t.Errorf("the URL's credentials are logged:\n%s", logs)
	}

	tests := []struct {
		name  string
		cache string
		want  []string
	}{
		{name: "no cache", want: []string{"fetching " + down, "connection refused", "no --bundle-cache"}},
		{name: "an empty cache", cache: t.TempDir(), want: []string{"fetching " + down, "no cached bundle to start from"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := serve.New(context.Background(), serve.Config{Addr: "127.0.0.1:0", Bundle: withSecrets, BundleCache: tt.cache}, &syncBuffer{})
			if err == nil {
				t.Fatal("started without a bundle")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q, want it to say %q", err, want)
				}
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "topsecret") {
				t.Errorf("the error shows the URL's credentials: %v", err)
			}
		})
	}
}

// TestServerBackAfterAStartFromTheCache: polling goes on after a start
// from the cache, and the server's bundle is loaded once it answers.
func TestServerBackAfterAStartFromTheCache(t *testing.T) {
	cache := t.TempDir()
	archive, _ := makeBundle(t, repotest.Path(t, "config"), nil)
	if err := bundle.WriteCache(cache, archive); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r := start(t, serve.Config{Bundle: "http://" + addr + "/tollgate.tar.gz", BundleCache: cache, BundlePoll: 50 * time.Millisecond})
	if got := tokenStatus(t, r.url, "added-client", extraClientSecret); got != 401 {
		t.Fatalf("from the cache: %d", got)
	}

	bs := &bundleServer{dir: t.TempDir()}
	newer, _ := makeBundle(t, configWithClient(t), nil)
	bs.publish(t, newer)
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("the port of the stopped server is taken again: %v", err)
	}
	bs.Server = &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.FileServer(http.Dir(bs.dir))}}
	bs.Start()
	t.Cleanup(bs.Close)
	eventually(t, "the server's bundle is loaded once it is back", func() bool {
		return tokenStatus(t, r.url, "added-client", extraClientSecret) == 200
	})
}

// TestBadBundleOnPollKeepsTheLastGood: with --verification-key, a bundle
// the server later offers that does not read, is unsigned, was changed
// after signing or was signed with another key is refused: logged,
// counted as a failed reload, not fetched again until the server has a
// new one, and the last good configuration (and cache) stays. A good one
// after them is loaded.
func TestBadBundleOnPollKeepsTheLastGood(t *testing.T) {
	signer, public := signingPair(t)
	otherSigner, _ := signingPair(t)
	bs := newBundleServer(t)
	good, goodRevision := makeBundle(t, repotest.Path(t, "config"), signer)
	bs.publish(t, good)
	cache := t.TempDir()
	r := start(t, serve.Config{Bundle: bs.bundleURL(), BundlePoll: 50 * time.Millisecond, BundleCache: cache, VerificationKey: public, MetricsAddr: "127.0.0.1:0"})
	if !strings.Contains(r.stderr.String(), "serving only bundles signed with the verification key") {
		t.Errorf("the verification key is not logged:\n%s", r.stderr.String())
	}

	withClient := configWithClient(t)
	newSigned, newRevision := makeBundle(t, withClient, signer)
	unsigned, _ := makeBundle(t, withClient, nil)
	otherKey, _ := makeBundle(t, withClient, otherSigner)
	tests := []struct {
		name    string
		archive []byte
		want    string
	}{
		{name: "not a bundle", archive: []byte("<html>502 Bad Gateway</html>"), want: "not a .tar.gz file"},
		{name: "unsigned", archive: unsigned, want: "not signed"},
		{name: "changed after signing", archive: tamper(t, newSigned), want: `changed since signing: \"config/added.hcl\"`},
		{name: "signed with another key", archive: otherKey, want: "does not verify with the verification key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			failures := metric(t, r, reloadFailures)
			bs.publish(t, tt.archive)
			eventually(t, "the refusal is logged", func() bool { return strings.Contains(r.stderr.String(), tt.want) })
			eventually(t, "the refusal is counted", func() bool { return metric(t, r, reloadFailures) == failures+1 })
			if got := tokenStatus(t, r.url, "added-client", extraClientSecret); got != 401 {
				t.Errorf("the refused bundle serves: %d", got)
			}
			if got := tokenStatus(t, r.url, "client1", client1Secret); got != 200 {
				t.Errorf("the last good configuration does not serve: %d", got)
			}
			requests := bs.requests.Load()
			eventually(t, "more polls", func() bool { return bs.requests.Load() >= requests+3 })
			if got := metric(t, r, reloadFailures); got != failures+1 {
				t.Errorf("the refused bundle was reloaded again: %d failures, want %d", got, failures+1)
			}
			if cached, err := bundle.ReadCache(cache); err != nil || !bytes.Equal(cached, good) {
				t.Errorf("the cache no longer holds the last good bundle (%v)", err)
			}
		})
	}
	if strings.Contains(r.stderr.String(), "revision="+newRevision) {
		t.Fatalf("a refused bundle was served")
	}

	bs.publish(t, newSigned)
	eventually(t, "the good signed bundle is loaded", func() bool { return tokenStatus(t, r.url, "added-client", extraClientSecret) == 200 })
	if !strings.Contains(r.stderr.String(), "revision="+newRevision) || !strings.Contains(r.stderr.String(), "revision="+goodRevision) {
		t.Errorf("revisions not logged:\n%s", r.stderr.String())
	}
}

// TestStartRefusesAnUnverifiedBundle: with --verification-key, a start
// on an unsigned bundle, file or URL, fails; a cached good bundle is
// served instead of a bad one from the server.
func TestStartRefusesAnUnverifiedBundle(t *testing.T) {
	signer, public := signingPair(t)
	unsigned, _ := makeBundle(t, repotest.Path(t, "config"), nil)
	file := filepath.Join(t.TempDir(), "tollgate.tar.gz")
	writeFile(t, file, string(unsigned))
	if _, err := serve.New(context.Background(), serve.Config{Addr: "127.0.0.1:0", Bundle: file, VerificationKey: public}, &syncBuffer{}); err == nil || !strings.Contains(err.Error(), "not signed") {
		t.Errorf("an unsigned bundle file: %v", err)
	}
	bs := newBundleServer(t)
	bs.publish(t, unsigned)
	if _, err := serve.New(context.Background(), serve.Config{Addr: "127.0.0.1:0", Bundle: bs.bundleURL(), VerificationKey: public}, &syncBuffer{}); err == nil || !strings.Contains(err.Error(), "not signed") {
		t.Errorf("an unsigned bundle from a server: %v", err)
	}

	cache := t.TempDir()
	good, revision := makeBundle(t, repotest.Path(t, "config"), signer)
	if err := bundle.WriteCache(cache, good); err != nil {
		t.Fatal(err)
	}
	r := start(t, serve.Config{Bundle: bs.bundleURL(), BundleCache: cache, VerificationKey: public, MetricsAddr: "127.0.0.1:0"})
	logs := r.stderr.String()
	if !strings.Contains(logs, "starting from the cached bundle") || !strings.Contains(logs, "not signed") || !strings.Contains(logs, "revision="+revision) {
		t.Errorf("the start from the cache is not logged:\n%s", logs)
	}
	if got := metric(t, r, reloadFailures); got != 1 {
		t.Errorf("the refused bundle is counted %d times, want once", got)
	}
}

// TestBundleFlagsNeedABundle: --verification-key with folders and
// --bundle-cache without a URL are mistakes, said so at start.
func TestBundleFlagsNeedABundle(t *testing.T) {
	_, public := signingPair(t)
	file := filepath.Join(t.TempDir(), "tollgate.tar.gz")
	buildBundle(t, repotest.Path(t, "config"), file)
	tests := []struct {
		name string
		cfg  serve.Config
		want string
	}{
		{name: "a verification key with folders", cfg: serve.Config{ConfigDir: repotest.Path(t, "config"), PoliciesDir: repotest.Path(t, "policies"), VerificationKey: public},
			want: "--verification-key verifies bundles"},
		{name: "a cache for a bundle file", cfg: serve.Config{Bundle: file, BundleCache: t.TempDir()}, want: "--bundle-cache keeps bundles fetched from a --bundle URL"},
		{name: "a URL that is not http", cfg: serve.Config{Bundle: "https://"}, want: "want http:// or https:// and a host"},
		{name: "a missing verification key", cfg: serve.Config{Bundle: file, VerificationKey: filepath.Join(t.TempDir(), "missing.pem")}, want: "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Addr = "127.0.0.1:0"
			if _, err := serve.New(context.Background(), tt.cfg, &syncBuffer{}); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}
