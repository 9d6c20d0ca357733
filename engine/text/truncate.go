// Package text bounds the strings a caller sends before they go where
// others read them: an audit line, an error description, a policy
// failure's reason. Encoding them is encoding/json's job.
package text

import (
	"strconv"
	"unicode/utf8"
)

// Truncate returns s if it has at most max bytes, else its first max
// bytes or fewer (cut before a character, never inside one) followed by a
// marker saying how many bytes were left out: "…(1234 more bytes)". It is
// how a caller's value is bounded before it goes into a log line or an
// error description.
func Truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := cutAt(s, max)
	return string(appendMarker(append(make([]byte, 0, cut+24), s[:cut]...), len(s)-cut))
}

// cutAt is the largest index at most max where a character starts.
func cutAt(s string, max int) int {
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return cut
}

func appendMarker(b []byte, left int) []byte {
	b = append(b, "…("...)
	b = strconv.AppendInt(b, int64(left), 10)
	return append(b, " more bytes)"...)
}
