package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestKeysRotatePublishesAheadAndRetires runs `keys rotate` twice on a
// new folder: the first key signs at once, the second is published ahead
// and names the key it retires.
func TestKeysRotatePublishesAheadAndRetires(t *testing.T) {
	dir := t.TempDir()
	out, errOut, code := tollgate(t, nil, "", "keys", "rotate", "--keys", dir)
	if code != 0 || !regexp.MustCompile(`^wrote ES256 key (\S+) to \S+; it signs from \S+\n$`).MatchString(out) {
		t.Fatalf("first rotate: exit %d: %q %s", code, out, errOut)
	}
	first := strings.Fields(out)[3]

	out, errOut, code = tollgate(t, map[string]string{"TOLLGATE_KEYS": dir}, "", "keys", "rotate", "--publish-ahead", "1m")
	if code != 0 || !strings.Contains(out, "key "+first+" leaves the JWKS at ") {
		t.Fatalf("second rotate: exit %d: %q %s", code, out, errOut)
	}
	if !strings.Contains(errOut, "does not exceed the JWKS max-age") {
		t.Errorf("a publish-ahead below the JWKS max-age is not warned about: %q", errOut)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("%d files in the folder, want 2", len(entries))
	}

	_, errOut, code = tollgate(t, nil, "", "keys", "rotate")
	if code != 1 || !strings.Contains(errOut, `"keys" not set`) {
		t.Errorf("without --keys: exit %d %q", code, errOut)
	}
}

// TestHealthcheckExitsByStatus: 0 when the server is ready, 1 with the
// reason otherwise.
func TestHealthcheckExitsByStatus(t *testing.T) {
	srv := serveUntilDone(t, filepath.Join(repoRoot, "config"))
	if _, errOut, code := tollgate(t, nil, "", "healthcheck", "--url", srv.URL()+"/readyz"); code != 0 {
		t.Errorf("ready server: exit %d %s", code, errOut)
	}
	_, errOut, code := tollgate(t, map[string]string{"TOLLGATE_URL": srv.URL() + "/nowhere"}, "", "healthcheck")
	if code != 1 || !strings.Contains(errOut, "404") {
		t.Errorf("a 404: exit %d %q", code, errOut)
	}
	if _, _, code := tollgate(t, nil, "", "healthcheck", "--url", "http://127.0.0.1:1/readyz", "--timeout", "1s"); code != 1 {
		t.Errorf("nothing listening: exit %d", code)
	}
}
