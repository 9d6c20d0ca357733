package jsonstr_test

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tollgate-dev/tollgate/engine/jsonstr"
)

func TestAppendMatchesEncodingJSON(t *testing.T) {
	tests := []string{
		"", "plain", "https://api.example/x?y=1", "read:ledger write:ledger",
		`quote " and backslash \`, "tab\tnew\nline\r", "\x00\x01\x1f\x7f\b\f",
		"<script>&</script>", "é ü 日本", "line\u2028para\u2029", "emoji 🎉",
	}
	for _, s := range tests {
		want, _ := json.Marshal(s)
		if got := jsonstr.Append(nil, s); string(got) != string(want) {
			t.Errorf("Append(%q) = %s, want %s", s, got, want)
		}
	}
}

func TestAppendInvalidUTF8StaysValidJSON(t *testing.T) {
	got := jsonstr.Append([]byte("x="), "a\xffb\xc3")
	if string(got) != `x="a\ufffdb\ufffd"` {
		t.Errorf("got %s", got)
	}
}

// FuzzAppend: whatever the input, the output is one valid JSON string that
// decodes to the input (with invalid UTF-8 replaced).
func FuzzAppend(f *testing.F) {
	for _, s := range []string{"", "a\"b", "\x00", "\xff", "\u2028", "<&>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := jsonstr.Append(nil, s)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("Append(%q) = %s: not JSON: %v", s, out, err)
		}
		if want := strings.ToValidUTF8(s, "\uFFFD"); back != want && utf8.ValidString(s) {
			t.Fatalf("round trip of %q gave %q", s, back)
		}
		if strings.ContainsAny(string(out), "\n\r") {
			t.Fatalf("Append(%q) = %s holds a line break", s, out)
		}
	})
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		s    string
		max  int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"a longer value", 8, "a longer…(6 more bytes)"},
		{"ééé", 3, "é…(4 more bytes)"}, // never inside a character
		{"abc", 0, "…(3 more bytes)"},
	}
	for _, tt := range tests {
		if got := jsonstr.Truncate(tt.s, tt.max); got != tt.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tt.s, tt.max, got, tt.want)
		}
		var want []byte
		want = jsonstr.Append(want, tt.want)
		if got := jsonstr.AppendTruncated(nil, tt.s, tt.max); string(got) != string(want) {
			t.Errorf("AppendTruncated(%q, %d) = %s, want %s", tt.s, tt.max, got, want)
		}
	}
}
