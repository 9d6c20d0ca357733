package reload

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/engine/authz"
	"github.com/tollgate-dev/tollgate/engine/secret"
	"github.com/tollgate-dev/tollgate/engine/token"
)

// TestRestOnlyWhenBusy: a reload rests reloadPause times each parse
// while requests arrive, and not at all on an idle server.
func TestRestOnlyWhenBusy(t *testing.T) {
	var slept []time.Duration
	r := &Reloader{sleep: func(d time.Duration) { slept = append(slept, d) }}

	r.yieldToRequests(10 * time.Millisecond) // idle
	r.requests.Add(5)
	r.yieldToRequests(10 * time.Millisecond) // busy
	r.yieldToRequests(20 * time.Millisecond) // no request since the last file
	r.requests.Add(1)
	r.yieldToRequests(20 * time.Millisecond)

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
	r := NewReloader(Options{Sources: func() (Sources, error) {
		return Sources{ConfigDir: dir, PoliciesDir: "../../policies"}, nil
	}})
	defer r.Close()
	snap, _, err := r.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	keys, err := token.Ephemeral(snap.Settings.SigningAlg)
	if err != nil {
		t.Fatal(err)
	}
	r.Serve(authz.NewService(snap, authz.Options{Keys: keys}))
	r.sleep = func(d time.Duration) { slept = append(slept, d) }
	reload := func() {
		t.Helper()
		if _, _, err := r.Reload(context.Background()); err != nil {
			t.Fatal(err)
		}
	}

	editAll()
	reload()
	if len(slept) != 0 {
		t.Errorf("an idle reload slept %v", slept)
	}

	r.RequestArrived() // as serve's handler counts each request
	editAll()
	reload()
	if len(slept) != 1 || slept[0] <= 0 {
		t.Errorf("a busy reload of two edited files slept %v, want one rest between them", slept)
	}
	if r.freeLater != nil {
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
	if r.freeLater == nil {
		t.Errorf("a reload of %d bytes of HCL does not return its garbage to the OS", big.Len())
	}
}
