// Package audit writes one JSON line per token, introspection and
// revocation decision (SPEC §6). An Event has no field for a secret, a
// secret hash, a client assertion or a token, and must never get one: the
// audit log is read by more people than the credentials are.
//
// Every value may come from a caller, so every one is bounded (SPEC §6):
// a string is cut at MaxValueBytes, a list at MaxListItems or
// MaxListBytes, reasons at MaxReasons or MaxReasonsBytes, each with a
// marker saying what was left out. A line is bounded whatever a request
// holds.
package audit

import (
	"io"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/engine/jsonstr"
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
	// Credential names which of the client's secrets, keys or
	// certificates authenticated: a fingerprint or kid, never the
	// credential (see clientauth.Principal).
	Credential string
	Duration   time.Duration
}

// Logger writes events as JSON lines. It is safe for concurrent use, and
// lines never interleave.
//
// A buffered Logger (NewBuffered) hands lines to one writer goroutine that
// writes whatever has gathered as soon as its previous write is done: at a
// low rate each line is written at once, under load many lines share one
// write system call. Lines wait in memory only while a write is under way,
// never on a timer; past maxPending bytes, Log waits for the writer rather
// than dropping a line. Close writes what is left.
type Logger struct {
	pool sync.Pool

	writeMu sync.Mutex // serializes writes to w
	w       io.Writer

	mu        sync.Mutex // guards pending and closed
	pending   []byte
	closed    bool
	spaceFree *sync.Cond
	kick      chan struct{} // nil for a direct Logger
	stop      chan struct{}
	done      chan struct{}
}

// Bounds of an audit line's values.
const (
	// MaxValueBytes bounds each string, and each item of the audience and
	// scope lists.
	MaxValueBytes = 512
	// MaxListItems and MaxListBytes bound the audience and scope lists.
	MaxListItems = 64
	MaxListBytes = 8 << 10
	// MaxReasonBytes bounds each reason; MaxReasons and MaxReasonsBytes
	// bound them all.
	MaxReasonBytes  = 1 << 10
	MaxReasons      = 16
	MaxReasonsBytes = 4 << 10
)

// maxPending bounds the lines waiting for a slow disk.
const maxPending = 4 << 20

// New returns a Logger that writes each line to w as it is logged.
func New(w io.Writer) *Logger {
	return &Logger{w: w, pool: sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}}
}

// NewBuffered returns a Logger that batches concurrent lines into one
// write to w. Close it to write the last lines.
func NewBuffered(w io.Writer) *Logger {
	l := New(w)
	l.spaceFree = sync.NewCond(&l.mu)
	l.kick = make(chan struct{}, 1)
	l.stop = make(chan struct{})
	l.done = make(chan struct{})
	go l.writeLoop()
	return l
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
	b = append(b, `{"time":"`...)
	b = e.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	b = appendString(b, "event", e.Event)
	b = appendString(b, "client", e.Client)
	b = appendString(b, "subject", e.Subject)
	b = appendStrings(b, "audience", e.Audience, listBounds)
	b = appendStrings(b, "scope", e.Scope, listBounds)
	b = appendString(b, "jti", e.JTI)
	b = appendString(b, "outcome", e.Outcome)
	b = appendString(b, "error", e.Error)
	b = appendStrings(b, "reasons", e.Reasons, reasonBounds)
	b = appendString(b, "remote_addr", e.RemoteAddr)
	b = appendString(b, "credential", e.Credential)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendFloat(b, float64(e.Duration)/float64(time.Millisecond), 'f', 3, 64)
	b = append(b, "}\n"...)
	l.emit(b)
	*bp = b
	l.pool.Put(bp)
}

func (l *Logger) emit(line []byte) {
	if l.kick != nil {
		l.mu.Lock()
		for len(l.pending) >= maxPending && !l.closed {
			l.spaceFree.Wait()
		}
		if !l.closed {
			l.pending = append(l.pending, line...)
			l.mu.Unlock()
			select {
			case l.kick <- struct{}{}:
			default: // the writer is already due to run
			}
			return
		}
		l.mu.Unlock()
	}
	l.writeMu.Lock()
	_, _ = l.w.Write(line)
	l.writeMu.Unlock()
}

func (l *Logger) writeLoop() {
	defer close(l.done)
	var batch []byte
	for {
		select {
		case <-l.kick:
			// Let the requests that are running log their lines too, so
			// that under load one write carries many; when idle this
			// returns at once.
			runtime.Gosched()
		case <-l.stop:
			l.flush(batch)
			return
		}
		batch = l.flush(batch)
	}
}

// flush writes the pending lines, using spare as the next pending buffer,
// and returns the written buffer for reuse.
func (l *Logger) flush(spare []byte) []byte {
	l.mu.Lock()
	batch := l.pending
	l.pending = spare[:0]
	l.spaceFree.Broadcast()
	l.mu.Unlock()
	if len(batch) > 0 {
		l.writeMu.Lock()
		_, _ = l.w.Write(batch)
		l.writeMu.Unlock()
	}
	return batch
}

// Close writes every line logged so far. Lines logged after Close are
// written directly. It does not close the underlying writer.
func (l *Logger) Close() error {
	if l == nil || l.kick == nil {
		return nil
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.spaceFree.Broadcast()
	l.mu.Unlock()
	close(l.stop)
	<-l.done
	return nil
}

func appendString(b []byte, key, value string) []byte {
	if value == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return jsonstr.AppendTruncated(b, value, MaxValueBytes)
}

// bounds are a list's: per item, items, and all items' bytes.
type bounds struct{ itemBytes, items, totalBytes int }

var (
	listBounds   = bounds{MaxValueBytes, MaxListItems, MaxListBytes}
	reasonBounds = bounds{MaxReasonBytes, MaxReasons, MaxReasonsBytes}
)

// appendStrings appends the values within bound; when some are left out,
// a last item says how many: "…(12 more)".
func appendStrings(b []byte, key string, values []string, bound bounds) []byte {
	if len(values) == 0 {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':', '[')
	used := 0
	for i, v := range values {
		used += min(len(v), bound.itemBytes)
		if i == bound.items || (i > 0 && used > bound.totalBytes) {
			b = append(b, `,"…(`...)
			b = strconv.AppendInt(b, int64(len(values)-i), 10)
			b = append(b, ` more)"`...)
			break
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonstr.AppendTruncated(b, v, bound.itemBytes)
	}
	return append(b, ']')
}
