package state

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// journal is an append-only file of records, one JSON object a line. An
// append returns once its line is written and fsynced; appends that
// arrive while one is being written wait and go together in the next
// write (group commit), so concurrent requests share an fsync. When the
// lines appended since the last rewrite outnumber those it wrote (and are
// more than minRewrite), or after a write failed, the next write rewrites
// the file instead from what is live in memory: a new file, fsynced, then
// renamed over the old one.
type journal struct {
	path string
	// records appends every live record of the owner, one a line, and
	// counts them; it takes the owner's lock, never the journal's.
	records func(b []byte, now int64) ([]byte, int)
	now     func() time.Time

	mu       sync.Mutex
	cond     *sync.Cond
	f        *os.File
	open     *batch // the lines waiting for the next write
	busy     bool   // a write or rewrite is under way
	closed   bool
	dirty    bool // a write failed: the file may miss lines
	appended int  // lines appended since the last rewrite
	live     int  // lines the last rewrite wrote
}

// batch is the lines of one write, and how it went.
type batch struct {
	buf   []byte
	lines int
	done  bool
	err   error
}

var errClosed = errors.New("the state is closed")

// minRewrite keeps a small file from being rewritten at every few
// appends; a variable for tests.
var minRewrite = 1024

// maxLine bounds a line read back: ours are far shorter, so a longer one
// is damage.
const maxLine = 4096

// openJournal reads path back through load (which reports whether a
// record was well-formed), rewrites it from records, and opens it for
// appending. live is how many records the rewrite kept.
func openJournal(path string, now func() time.Time, load func(record) bool, records func([]byte, int64) ([]byte, int)) (j *journal, live, skipped int, err error) {
	if skipped, err = readJournal(path, load); err != nil {
		return nil, 0, 0, err
	}
	j = &journal{path: path, records: records, now: now}
	j.cond = sync.NewCond(&j.mu)
	if live, err = j.rewrite(); err != nil {
		return nil, 0, 0, err
	}
	j.live = live
	return j, live, skipped, nil
}

// readJournal feeds every line of path to load; a missing file is empty.
// A line that is not a well-formed record (a torn last line after a
// crash, or damage) is skipped and counted, never fatal: every other line
// still counts.
func readJournal(path string, load func(record) bool) (skipped int, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadSlice('\n')
		tooLong := errors.Is(err, bufio.ErrBufferFull)
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = r.ReadSlice('\n') // skip the rest of the line
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return skipped, fmt.Errorf("reading %s: %w", path, err)
		}
		if trimmed := bytes.TrimSpace(line); len(trimmed) > 0 {
			var rec record
			if tooLong || len(trimmed) > maxLine || json.Unmarshal(trimmed, &rec) != nil || !load(rec) {
				skipped++
			}
		}
		if err != nil { // io.EOF
			return skipped, nil
		}
	}
}

// append writes line, which ends in a newline; nil appends nothing. A nil
// journal (memory only) has nothing to write.
func (j *journal) append(line []byte) error {
	if j == nil {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return errClosed
	}
	if j.open == nil {
		j.open = &batch{}
	}
	b := j.open
	if len(line) > 0 {
		b.buf = append(b.buf, line...)
		b.lines++
	}
	for !b.done {
		if j.busy {
			j.cond.Wait()
			continue
		}
		// No write is under way and b is not done: b is the open batch.
		j.busy, j.open = true, nil
		rewrite := j.dirty || j.f == nil || j.appended >= max(minRewrite, j.live)
		j.mu.Unlock()
		var err error
		var live int
		if rewrite {
			live, err = j.rewrite()
		} else {
			err = j.write(b.buf)
		}
		j.mu.Lock()
		switch {
		case err != nil:
			j.dirty = true
		case rewrite:
			j.dirty, j.appended, j.live = false, 0, live
		default:
			j.appended += b.lines
		}
		b.err, b.done, j.busy = err, true, false
		j.cond.Broadcast()
	}
	return b.err
}

// retry stores again what a failed write left out, if anything.
func (j *journal) retry() error {
	if j == nil {
		return nil
	}
	j.mu.Lock()
	dirty := j.dirty
	j.mu.Unlock()
	if !dirty {
		return nil
	}
	return j.append(nil)
}

func (j *journal) write(buf []byte) error {
	if _, err := j.f.Write(buf); err != nil {
		return err
	}
	return j.f.Sync()
}

// rewrite replaces the file with the live records, readable by its owner
// only, and reopens it for appending.
func (j *journal) rewrite() (int, error) {
	buf, n := j.records(nil, j.now().Unix())
	tmp := j.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, err
	}
	_, err = f.Write(buf)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, j.path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return 0, fmt.Errorf("rewriting %s: %w", j.path, err)
	}
	if err := syncDir(filepath.Dir(j.path)); err != nil {
		return 0, err
	}
	appendTo, err := os.OpenFile(j.path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return 0, err
	}
	if j.f != nil {
		_ = j.f.Close()
	}
	j.f = appendTo
	return n, nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// close waits for a write under way and closes the file.
func (j *journal) close() error {
	if j == nil {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	for j.busy {
		j.cond.Wait()
	}
	j.closed = true
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}

// record is one line of a file: a revoked token (Client, JTI, Exp), a
// client's cut-off (Client, Before), or a used assertion (Client, JTI: a
// hash of the jti, Exp: the last second it could be accepted).
type record struct {
	Client string `json:"client"`
	JTI    string `json:"jti,omitempty"`
	Exp    int64  `json:"exp,omitempty"`
	Before int64  `json:"before,omitempty"`
}

func (r record) appendLine(b []byte) []byte {
	line, _ := json.Marshal(r) // strings and integers only: it cannot fail
	return append(append(b, line...), '\n')
}
