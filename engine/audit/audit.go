// Package audit writes one JSON line per token, introspection and
// revocation decision (SPEC §6): its Logger is the authz.Auditor of a
// server. An authz.AuditEvent has no field for a secret, a secret hash, a
// client assertion or a token, and must never get one: the audit log is
// read by more people than the credentials are.
//
// Every value may come from a caller, so every one is bounded (SPEC §6):
// a string is cut at MaxValueBytes, a list at MaxListItems or
// MaxListBytes, reasons at MaxReasons or MaxReasonsBytes, each with a
// marker saying what was left out. A line is bounded whatever a request
// holds.
package audit

import (
	"bytes"
	"encoding/json"
	"io"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/engine/authz"
	"github.com/tollgate-dev/tollgate/engine/text"
)

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
	return &Logger{w: w, pool: sync.Pool{New: func() any { return new(bytes.Buffer) }}}
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
func (l *Logger) Log(e authz.AuditEvent) {
	if l == nil {
		return
	}
	buf := l.pool.Get().(*bytes.Buffer)
	buf.Reset()
	_ = json.NewEncoder(buf).Encode(lineOf(&e)) // strings, lists and a time: nothing to fail
	l.emit(buf.Bytes())
	l.pool.Put(buf)
}

// line is the JSON of an authz.AuditEvent, its values bounded.
type line struct {
	Time       time.Time   `json:"time"`
	Event      string      `json:"event,omitempty"`
	Client     string      `json:"client,omitempty"`
	Subject    string      `json:"subject,omitempty"`
	Audience   []string    `json:"audience,omitempty"`
	Scope      []string    `json:"scope,omitempty"`
	JTI        string      `json:"jti,omitempty"`
	Outcome    string      `json:"outcome,omitempty"`
	Error      string      `json:"error,omitempty"`
	Reasons    []string    `json:"reasons,omitempty"`
	RemoteAddr string      `json:"remote_addr,omitempty"`
	Credential string      `json:"credential,omitempty"`
	DurationMS json.Number `json:"duration_ms"`
}

func lineOf(e *authz.AuditEvent) *line {
	value := func(s string) string { return text.Truncate(s, MaxValueBytes) }
	return &line{
		Time:       e.Time.UTC(),
		Event:      value(e.Event),
		Client:     value(e.Client),
		Subject:    value(e.Subject),
		Audience:   bounded(e.Audience, listBounds),
		Scope:      bounded(e.Scope, listBounds),
		JTI:        value(e.JTI),
		Outcome:    value(e.Outcome),
		Error:      value(e.Error),
		Reasons:    bounded(e.Reasons, reasonBounds),
		RemoteAddr: value(e.RemoteAddr),
		Credential: value(e.Credential),
		DurationMS: json.Number(strconv.FormatFloat(float64(e.Duration)/float64(time.Millisecond), 'f', 3, 64)),
	}
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

// bounds are a list's: per item, items, and all items' bytes.
type bounds struct{ itemBytes, items, totalBytes int }

var (
	listBounds   = bounds{MaxValueBytes, MaxListItems, MaxListBytes}
	reasonBounds = bounds{MaxReasonBytes, MaxReasons, MaxReasonsBytes}
)

// bounded returns the values within bound; when some are left out, a last
// item says how many: "…(12 more)".
func bounded(values []string, bound bounds) []string {
	if len(values) == 0 {
		return nil
	}
	out := make([]string, 0, min(len(values), bound.items+1))
	used := 0
	for i, v := range values {
		used += min(len(v), bound.itemBytes)
		if i == bound.items || (i > 0 && used > bound.totalBytes) {
			return append(out, "…("+strconv.Itoa(len(values)-i)+" more)")
		}
		out = append(out, text.Truncate(v, bound.itemBytes))
	}
	return out
}
