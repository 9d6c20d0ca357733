package bundle_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/engine/bundle"
)

// TestFetchRefuses: what a bundle server answers is untrusted: anything
// but the bundle (or a 304 to a conditional request) is an error, and a
// body over MaxBundleBytes is not read past the bound.
func TestFetchRefuses(t *testing.T) {
	var streamed int64
	tests := []struct {
		name    string
		handler http.HandlerFunc
		wantErr error
		want    string
	}{
		{name: "not found", handler: func(w http.ResponseWriter, r *http.Request) { http.Error(w, "secret page", http.StatusNotFound) },
			want: "the server answered 404 Not Found"},
		{name: "a 304 to an unconditional request", handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotModified) },
			want: "304 Not Modified to an unconditional request"},
		{name: "a declared oversize body", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "999999999")
			w.WriteHeader(http.StatusOK)
		}, wantErr: bundle.ErrTooLarge},
		{name: "an oversize stream", handler: func(w http.ResponseWriter, r *http.Request) {
			chunk := make([]byte, 1<<20)
			for range bundle.MaxBundleBytes/len(chunk) + 4 {
				n, err := w.Write(chunk)
				streamed += int64(n)
				if err != nil {
					return
				}
			}
		}, wantErr: bundle.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			r, err := bundle.NewRemote(srv.URL+"/b.tar.gz", nil)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = r.Fetch(context.Background())
			if err == nil {
				t.Fatal("no error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "secret page") {
				t.Errorf("error %q, want it to say %q", err, tt.want)
			}
		})
	}
}

// TestFetchRefusesADowngradeRedirect: a redirect may not take the
// bundle from https to http.
func TestFetchRefusesADowngradeRedirect(t *testing.T) {
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "bundle") }))
	defer plain.Close()
	secure := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+"/b.tar.gz", http.StatusFound)
	}))
	defer secure.Close()
	client := secure.Client()
	r, err := bundle.NewRemote(secure.URL+"/b.tar.gz", client)
	if err != nil {
		t.Fatal(err)
	}
	// The test server's client trusts its certificate; the redirect rule
	// is the one NewRemote's default client has.
	client.CheckRedirect = bundle.CheckRedirect
	if _, _, err := r.Fetch(context.Background()); err == nil || !strings.Contains(err.Error(), "redirect from https to http") {
		t.Errorf("error %v", err)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:pw@bundles.example/t.tar.gz?X-Amz-Signature=abc#frag": "https://bundles.example/t.tar.gz?...",
		"http://bundles.example/t.tar.gz":                                   "http://bundles.example/t.tar.gz",
	} {
		if got := bundle.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCacheIsPrivateAndAtomic: the cache file is the owner's alone, in
// a folder created for it, and no temporary file stays behind.
func TestCacheIsPrivateAndAtomic(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	for _, body := range []string{"first", "second"} {
		if err := bundle.WriteCache(dir, []byte(body)); err != nil {
			t.Fatal(err)
		}
		got, err := bundle.ReadCache(dir)
		if err != nil || string(got) != body {
			t.Fatalf("read back %q, %v", got, err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 || entries[0].Name() != bundle.CacheFile {
		t.Fatalf("the cache folder holds %v (%v)", entries, err)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, bundle.CacheFile): 0o600} {
		info, err := os.Stat(path)
		if err != nil || info.Mode().Perm() != want {
			t.Errorf("%s: mode %v (%v), want %v", path, info.Mode().Perm(), err, want)
		}
	}
}
