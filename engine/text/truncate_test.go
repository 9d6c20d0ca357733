package text_test

import (
	"testing"

	"github.com/tollgate-dev/tollgate/engine/text"
)

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
		if got := text.Truncate(tt.s, tt.max); got != tt.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tt.s, tt.max, got, tt.want)
		}
	}
}
