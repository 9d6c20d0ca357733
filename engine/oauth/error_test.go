package oauth_test

import (
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/engine/oauth"
)

// TestPublicDescriptionIsBounded: a description that echoes a caller's
// long value reaches the caller cut, with a marker; a short one whole.
func TestPublicDescriptionIsBounded(t *testing.T) {
	short := oauth.New(oauth.InvalidTarget, "audience %q names no server", "https://x.example")
	if got := short.PublicDescription(); got != short.Description {
		t.Errorf("a short description was changed: %q", got)
	}
	long := oauth.New(oauth.InvalidTarget, "audience %q names no server", strings.Repeat("a", 60<<10))
	got := long.PublicDescription()
	if len(got) > oauth.MaxDescriptionBytes+32 || !strings.HasSuffix(got, " more bytes)") {
		t.Errorf("a description of %d bytes, ending %q", len(got), got[len(got)-40:])
	}
	if len(long.Error()) > oauth.MaxDescriptionBytes+64 {
		t.Errorf("Error() is %d bytes", len(long.Error()))
	}
}
