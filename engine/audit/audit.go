// Package audit writes one JSON line per token, introspection and
// revocation decision (SPEC §6). An Event has no field for a secret, a
// secret hash, a client assertion or a token, and must never get one: the
// audit log is read by more people than the credentials are.
package audit

import (
	"io"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// Event is one audited decision.
type Event struct {
	Time       time.Time
	Event      string // "token", "introspect", "revoke"
	Client     string
	Subject    string
	Audience   []string
	Scope      []string
	JTI        string
	Outcome    string // "allow", "deny", "error", "active", "inactive", "revoked", "ignored"
	Error      string // OAuth error code
	Reasons    []string
	RemoteAddr string
	Duration   time.Duration
}

// Logger writes events as JSON lines. It is safe for concurrent use; each
// line is a single Write, so lines never interleave.
type Logger struct {
	mu   sync.Mutex
	w    io.Writer
	pool sync.Pool
}

// New returns a Logger writing to w.
func New(w io.Writer) *Logger {
	return &Logger{w: w, pool: sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}}
}

// Discard returns a Logger that writes nothing.
func Discard() *Logger { return nil }

// Log writes e as one JSON line. Empty fields are omitted.
func (l *Logger) Log(e *Event) {
	if l == nil {
		return
	}
	bp := l.pool.Get().(*[]byte)
	b := (*bp)[:0]
	b = append(b, `{"time":`...)
	b = strconv.AppendQuote(b, e.Time.UTC().Format(time.RFC3339Nano))
	b = appendString(b, "event", e.Event)
	b = appendString(b, "client", e.Client)
	b = appendString(b, "subject", e.Subject)
	b = appendStrings(b, "audience", e.Audience)
	b = appendStrings(b, "scope", e.Scope)
	b = appendString(b, "jti", e.JTI)
	b = appendString(b, "outcome", e.Outcome)
	b = appendString(b, "error", e.Error)
	b = appendStrings(b, "reasons", e.Reasons)
	b = appendString(b, "remote_addr", e.RemoteAddr)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendFloat(b, float64(e.Duration)/float64(time.Millisecond), 'f', 3, 64)
	b = append(b, "}\n"...)
	l.mu.Lock()
	_, _ = l.w.Write(b)
	l.mu.Unlock()
	*bp = b
	l.pool.Put(bp)
}

func appendString(b []byte, key, value string) []byte {
	if value == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return appendJSONString(b, value)
}

func appendStrings(b []byte, key string, values []string) []byte {
	if len(values) == 0 {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':', '[')
	for i, v := range values {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, v)
	}
	return append(b, ']')
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as a JSON string (RFC 8259 §7). Invalid UTF-8
// becomes U+FFFD, so a hostile client id can never break a line or the JSON.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			case c == '<' || c == '>' || c == '&':
				// Escaped as encoding/json does, for logs viewed in browsers.
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, `\u202`...)
			b = append(b, hexDigits[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
