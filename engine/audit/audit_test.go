package audit_test

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/engine/audit"
	"github.com/tollgate-dev/tollgate/engine/authz"
)

func TestLogWritesOneJSONLinePerEvent(t *testing.T) {
	var buf bytes.Buffer
	l := audit.New(&buf)
	l.Log(authz.AuditEvent{
		Time: time.Date(2026, 11, 23, 10, 0, 0, 5, time.UTC), Event: "token", Client: "gift-deliveries", Subject: "gift-deliveries",
		Audience: []string{"https://api.worldmappers.example"}, Scope: []string{"read:directions"}, JTI: "abc",
		Outcome: "allow", Reasons: []string{"own access"}, RemoteAddr: "127.0.0.1", Duration: 1500 * time.Microsecond,
	})
	l.Log(authz.AuditEvent{Time: time.Unix(0, 0), Event: "token", Client: "x", Outcome: "error", Error: "invalid_client"})
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(lines), buf.String())
	}
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"time": "2026-11-23T10:00:00.000000005Z", "event": "token", "client": "gift-deliveries", "subject": "gift-deliveries",
		"audience": []any{"https://api.worldmappers.example"}, "scope": []any{"read:directions"}, "jti": "abc",
		"outcome": "allow", "reasons": []any{"own access"}, "remote_addr": "127.0.0.1", "duration_ms": 1.5,
	}
	if !reflect.DeepEqual(first, want) {
		t.Errorf("got  %v\nwant %v", first, want)
	}
	var second map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &second); err != nil {
		t.Fatal(err)
	}
	if _, present := second["subject"]; present || second["error"] != "invalid_client" {
		t.Errorf("empty fields should be omitted and error kept: %v", second)
	}
}

func TestLogEscapesHostileStrings(t *testing.T) {
	hostile := []string{"quote\"back\\slash", "new\nline\r\ttab", "\x00\x1f\x7f", "ünïcødé ✓", "bad\xffutf8\xc3", "<script>&", "\u2028\u2029"}
	for _, s := range hostile {
		var buf bytes.Buffer
		audit.New(&buf).Log(authz.AuditEvent{Event: "token", Client: s, Reasons: []string{s}})
		if strings.Count(buf.String(), "\n") != 1 {
			t.Errorf("%q: not exactly one line: %q", s, buf.String())
		}
		var got map[string]any
		if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
			t.Fatalf("%q: invalid JSON %q: %v", s, buf.String(), err)
		}
		want := strings.ToValidUTF8(s, "\ufffd")
		if got["client"] != want {
			t.Errorf("client = %q, want %q", got["client"], want)
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for the buffered logger's writer
// goroutine and the test reading it.
type lockedBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.writes++
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestConcurrentLinesNeverInterleave(t *testing.T) {
	for _, kind := range []struct {
		name string
		new  func(io.Writer) *audit.Logger
	}{{"direct", audit.New}, {"buffered", audit.NewBuffered}} {
		t.Run(kind.name, func(t *testing.T) {
			var buf lockedBuffer
			l := kind.new(&buf)
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 200 {
						l.Log(authz.AuditEvent{Event: "token", Client: strings.Repeat(string(rune('a'+g)), 100), Reasons: []string{"r"}})
					}
				}()
			}
			wg.Wait()
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
			if len(lines) != 1600 {
				t.Fatalf("%d lines, want 1600", len(lines))
			}
			for _, line := range lines {
				if !json.Valid([]byte(line)) {
					t.Fatalf("broken line %q", line)
				}
			}
		})
	}
}

// slowWriter blocks every write until released, like a stuck disk.
type slowWriter struct {
	lockedBuffer
	release chan struct{}
}

func (w *slowWriter) Write(p []byte) (int, error) {
	<-w.release
	return w.lockedBuffer.Write(p)
}

// TestBufferedLoggerBatchesAndLosesNothing: while one write is under way,
// later lines gather and go out together; Close writes the rest, and a
// line logged after Close is still written.
func TestBufferedLoggerBatchesAndLosesNothing(t *testing.T) {
	w := &slowWriter{release: make(chan struct{})}
	l := audit.NewBuffered(w)
	l.Log(authz.AuditEvent{Event: "token", Client: "first"})
	for i := range 50 {
		l.Log(authz.AuditEvent{Event: "token", Client: "c" + strconv.Itoa(i)})
	}
	close(w.release)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l.Log(authz.AuditEvent{Event: "token", Client: "after-close"})
	out := w.String()
	if n := strings.Count(out, "\n"); n != 52 {
		t.Fatalf("%d lines, want 52", n)
	}
	if w.writes > 4 {
		t.Errorf("%d writes for 52 lines logged while the disk was busy; want them batched", w.writes)
	}
	if !strings.HasSuffix(out, "}\n") || !strings.Contains(out, `"client":"after-close"`) {
		t.Errorf("last lines missing:\n%s", out)
	}
}

func TestDiscardWritesNothing(t *testing.T) {
	audit.Discard().Log(authz.AuditEvent{Event: "token"})
}

func BenchmarkLog(b *testing.B) {
	l := audit.New(io.Discard)
	e := authz.AuditEvent{Time: time.Now(), Event: "token", Client: "gift-deliveries", Subject: "gift-deliveries",
		Audience: []string{"https://api.worldmappers.example"}, Scope: []string{"read:directions"}, JTI: "Zk9tX2FfdG9rZW5faWQ",
		Outcome: "allow", Reasons: []string{"client gift-deliveries reaches world-mappers through its own access"}, RemoteAddr: "127.0.0.1", Duration: time.Millisecond}
	b.ReportAllocs()
	for b.Loop() {
		l.Log(e)
	}
}

// TestLogBoundsEveryValue: however large the values of an event, its line
// is bounded, stays valid JSON, and marks what it left out.
func TestLogBoundsEveryValue(t *testing.T) {
	huge := strings.Repeat("v", 64<<10)
	many := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = strconv.Itoa(i) + huge[:2<<10]
		}
		return out
	}
	var buf bytes.Buffer
	audit.New(&buf).Log(authz.AuditEvent{
		Event: "token", Client: huge, Subject: huge, JTI: huge, RemoteAddr: huge, Error: huge, Outcome: huge,
		Audience: many(1000), Scope: many(1000), Reasons: append(many(100), huge),
	})
	line := buf.String()
	if max := 6*(audit.MaxValueBytes+32) + 2*(audit.MaxListBytes+audit.MaxValueBytes+64) + audit.MaxReasonsBytes + audit.MaxReasonBytes + 512; len(line) > max {
		t.Errorf("a line of %d bytes, want at most %d", len(line), max)
	}
	var e struct {
		Client   string   `json:"client"`
		Audience []string `json:"audience"`
		Reasons  []string `json:"reasons"`
	}
	if err := json.Unmarshal(buf.Bytes(), &e); err != nil {
		t.Fatalf("invalid JSON: %v", err)
	}
	if !strings.HasSuffix(e.Client, "…(65024 more bytes)") {
		t.Errorf("client is not marked as cut: ...%s", e.Client[len(e.Client)-30:])
	}
	if last := e.Reasons[len(e.Reasons)-1]; !strings.HasPrefix(last, "…(") || !strings.HasSuffix(last, " more)") {
		t.Errorf("the reasons do not say how many were left out: %q", last)
	}
	if len(e.Audience) > audit.MaxListItems+1 {
		t.Errorf("%d audiences", len(e.Audience))
	}
}

// TestLogBoundsTheReasonsByCount: many short reasons are cut at
// MaxReasons, the last item counting the rest.
func TestLogBoundsTheReasonsByCount(t *testing.T) {
	reasons := make([]string, 40)
	for i := range reasons {
		reasons[i] = "r" + strconv.Itoa(i)
	}
	var buf bytes.Buffer
	audit.New(&buf).Log(authz.AuditEvent{Event: "token", Reasons: reasons})
	var e struct{ Reasons []string }
	if err := json.Unmarshal(buf.Bytes(), &e); err != nil {
		t.Fatal(err)
	}
	want := append(append([]string(nil), reasons[:audit.MaxReasons]...), "…(24 more)")
	if !reflect.DeepEqual(e.Reasons, want) {
		t.Errorf("reasons = %q, want %q", e.Reasons, want)
	}
}

// TestLogLineIsByteForByte: the line's bytes, field order and number
// format included, are what log readers have parsed so far.
func TestLogLineIsByteForByte(t *testing.T) {
	var buf bytes.Buffer
	audit.New(&buf).Log(authz.AuditEvent{
		Time: time.Date(2026, 11, 23, 11, 0, 0, 5e6, time.FixedZone("CET", 3600)), Event: "token", Client: "gift-deliveries", Subject: "<svc>",
		Audience: []string{"a", "b"}, Scope: []string{"read:directions"}, JTI: "abc", Outcome: "deny", Error: "invalid_scope",
		Reasons: []string{"no \"grant\"\n", "\xff\u2028"}, RemoteAddr: "127.0.0.1:5", Duration: 1234567 * time.Nanosecond,
	})
	want := `{"time":"2026-11-23T10:00:00.005Z","event":"token","client":"gift-deliveries","subject":"\u003csvc\u003e","audience":["a","b"],"scope":["read:directions"],"jti":"abc","outcome":"deny","error":"invalid_scope","reasons":["no \"grant\"\n","\ufffd\u2028"],"remote_addr":"127.0.0.1:5","duration_ms":1.235}` + "\n"
	if buf.String() != want {
		t.Errorf("got  %s\nwant %s", buf.String(), want)
	}
}
