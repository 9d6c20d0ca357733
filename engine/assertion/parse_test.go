package assertion_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/engine/assertion"
)

// TestClientID: the id comes from iss, which must equal sub.
func TestClientID(t *testing.T) {
	for _, tc := range []struct {
		raw, want string
	}{
		{unsigned(map[string]any{"iss": "c", "sub": "c"}), "c"},
		{unsigned(map[string]any{"iss": "c", "sub": "d"}), ""},
		{unsigned(map[string]any{"sub": "c"}), ""},
		{"a.b", ""},
		{"a.!!!.c", ""},
		// Names are matched exactly, as jwx matches them when it verifies.
		{unsigned(map[string]any{"ISS": "c", "SUB": "c"}), ""},
		{unsigned(map[string]any{"iss": 5, "sub": 5}), ""},
		// One JWT in the compact form, in base64url, its payload one object.
		{strings.Replace(unsigned(map[string]any{"iss": "c", "sub": "c"}), ".", "=.", 1), ""},
		{b64(`{"alg":"none"}`) + "." + base64.StdEncoding.EncodeToString([]byte(`{"iss":"c","sub":"c","x":"??>"}`)) + ".", ""},
		{b64(`{"alg":"none"}`) + "." + b64(`{"iss":"c","sub":"c"}x`) + ".", ""},
		{b64(`{"alg":"none"}`) + "." + b64(`{"iss":"c","sub":"c"}`) + ".\n", ""},
	} {
		got, err := assertion.ClientID(tc.raw)
		if got != tc.want || (tc.want == "") != (err != nil) {
			t.Errorf("ClientID(%q) = %q, %v; want %q", tc.raw, got, err, tc.want)
		}
	}
}
