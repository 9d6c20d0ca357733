package serve

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/engine/secret"
)

// TestRestOnlyWhenBusy: a reload rests reloadPause times each parse
// while requests arrive, and not at all on an idle server.
func TestRestOnlyWhenBusy(t *testing.T) {
	var slept []time.Duration
	s := &Server{sleep: func(d time.Duration) { slept = append(slept, d) }}

	s.rest(10 * time.Millisecond) // idle
	s.requests.Add(5)
	s.rest(10 * time.Millisecond) // busy
	s.rest(20 * time.Millisecond) // no request since the last file
	s.requests.Add(1)
	s.rest(20 * time.Millisecond)

	if want := []time.Duration{reloadPause * 10 * time.Millisecond, reloadPause * 20 * time.Millisecond}; !slices.Equal(slept, want) {
		t.Errorf("slept %v, want %v", slept, want)
	}
}

// TestReloadIsPacedWhenBusy: a reload after requests arrived rests between
// the files it parses, an idle one does not, and only a big reload has its
// garbage returned to the OS.
func TestReloadIsPacedWhenBusy(t *testing.T) {
	dir := t.TempDir()
	names := []string{"ubisecure.hcl", "world-mappers.hcl"}
	sources := map[string][]byte{}
	for _, name := range names {
		src, err := os.ReadFile(filepath.Join("../../config", name))
		if err != nil {
			t.Fatal(err)
		}
		sources[name] = src
	}
	edits := 0
	editAll := func() {
		t.Helper()
		edits++
		for _, name := range names {
			content := fmt.Appendf(append([]byte(nil), sources[name]...), "\n# edit %d\n", edits)
			if err := os.WriteFile(filepath.Join(dir, name), content, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	editAll()
	var slept []time.Duration
	s, err := New(context.Background(), Config{ConfigDir: dir, PoliciesDir: "../../policies", AuditLog: filepath.Join(t.TempDir(), "audit.log")}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	s.sleep = func(d time.Duration) { slept = append(slept, d) }
	reload := func() {
		t.Helper()
		if err := s.Reload(context.Background()); err != nil {
			t.Fatal(err)
		}
	}

	editAll()
	reload()
	if len(slept) != 0 {
		t.Errorf("an idle reload slept %v", slept)
	}

	s.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/healthz", nil))
	editAll()
	reload()
	if len(slept) != 1 || slept[0] <= 0 {
		t.Errorf("a busy reload of two edited files slept %v, want one rest between them", slept)
	}
	if s.freeLater != nil {
		t.Error("a reload of two small files returns its garbage to the OS")
	}

	// A big reload returns its garbage once reloads pause.
	var big bytes.Buffer
	for i := 0; big.Len() < bigParse; i++ {
		fmt.Fprintf(&big, "client \"bulk-%d\" {\n  secret { hash = %q }\n}\n", i, secret.SHA256Hash("bulk"))
	}
	if err := os.WriteFile(filepath.Join(dir, "bulk.hcl"), big.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	reload()
	if s.freeLater == nil {
		t.Errorf("a reload of %d bytes of HCL does not return its garbage to the OS", big.Len())
	}
}
