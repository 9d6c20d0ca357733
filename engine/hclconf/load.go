package hclconf

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/tollgate-dev/tollgate/engine/model"
)

// ReadDir reads every *.hcl file of dir, keyed by its path: the files a
// configuration folder holds, for Load. A folder with none is an error.
func ReadDir(dir string) (map[string][]byte, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".hcl") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		src, err := readBounded(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		files[path] = src
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("config: no .hcl files in %s", dir)
	}
	return files, nil
}

// readBounded reads a file, but never more than one byte past
// MaxFileBytes: enough for checkBounds to say it is too large.
func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
}

// LoadDir reads every *.hcl file of dir, merges them and validates the
// whole.
func LoadDir(dir string) (*model.Config, hcl.Diagnostics) {
	files, err := ReadDir(dir)
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read the config folder", Detail: err.Error()}}
	}
	return Load(files)
}

// Load parses and validates the given files (name -> content) as one
// configuration. It returns a nil config whenever there is an error;
// warnings alone still return it.
func Load(files map[string][]byte) (*model.Config, hcl.Diagnostics) {
	var none *Cache
	return none.Load(files)
}

// Cache keeps each file's parsed blocks between loads, so that a reload
// parses only the files whose content changed: parsing is most of a
// load's cost, and a reload after an edit usually changes one file of
// many. Validation always runs over the whole configuration, so a reused
// file is checked against the others as if it were new. It is safe for
// concurrent use.
//
// A Cache is not a cache in engine/cache's sense and does not use it: it
// holds exactly the files of the last load, replaced whole by the next,
// so it is bounded by the configuration it was given (MaxFileBytes a
// file; a bundle's bounds on its files; a folder holds what its operator
// put there), never by what requests send. Evicting a file of the current configuration would only
// make the next reload parse it again.
type Cache struct {
	mu         sync.Mutex
	files      map[string]*parsedFile
	lastParsed int
}

// parsedFile is what parsing one file gave, with the digest of its
// content. The blocks are only read after decoding, so loads may share
// them.
type parsedFile struct {
	sum   [sha256.Size]byte
	body  *fileBody // nil when the file has syntax errors
	diags hcl.Diagnostics
}

// NewCache returns an empty Cache.
func NewCache() *Cache { return &Cache{} }

// LastParsed is how many bytes of HCL the last load parsed: the files it
// could not take from the cache.
func (c *Cache) LastParsedBytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastParsed
}

// Load is the package's Load, reusing the blocks of every file whose name
// and content are those of the last load. A nil Cache parses everything.
func (c *Cache) Load(files map[string][]byte) (*model.Config, hcl.Diagnostics) {
	return c.LoadYielding(files, nil)
}

// LoadYielding is Load that calls yield, when it is not nil, between two
// files it parses, with the time the first one took. yield may sleep: a
// server reloading a large configuration uses it to keep the parsing from
// taking the CPU its requests need.
func (c *Cache) LoadYielding(files map[string][]byte, yield func(took time.Duration)) (*model.Config, hcl.Diagnostics) {
	if len(files) == 0 {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "No configuration", Detail: "no .hcl files were found."}}
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)

	var previous map[string]*parsedFile
	if c != nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		previous = c.files
	}
	current := make(map[string]*parsedFile, len(names))
	var ahead map[string]*parsedFile
	if yield == nil {
		ahead = parseAhead(names, files, previous)
	}
	var diags hcl.Diagnostics
	bodies := make([]*fileBody, 0, len(names))
	var parsedBytes int
	var lastTook time.Duration // of the last file parsed; 0 before the first
	for _, name := range names {
		// The digest is only for a cache to compare with the next load.
		var sum [sha256.Size]byte
		if c != nil {
			sum = sha256.Sum256(files[name])
		}
		f := previous[name]
		if f == nil || f.sum != sum {
			if yield != nil && lastTook > 0 {
				yield(lastTook)
			}
			// The replaced blocks are garbage from now on rather than at
			// the end: a reload of every file never holds both sets.
			delete(previous, name)
			start := time.Now()
			if f = ahead[name]; f == nil {
				f = parseFile(name, files[name])
			}
			f.sum = sum
			lastTook = max(time.Since(start), time.Nanosecond)
			parsedBytes += len(files[name])
		}
		current[name] = f
		diags = append(diags, f.diags...)
		if f.body != nil {
			bodies = append(bodies, f.body)
		}
	}
	if c != nil {
		c.files, c.lastParsed = current, parsedBytes
	}
	cfg := validate(bodies, &diags)
	sortByPosition(diags)
	if diags.HasErrors() {
		return nil, diags
	}
	return cfg, diags
}

// parseAhead parses, on every core, the files of names that previous
// does not hold with the same content, for a load that does not yield (a
// server's first load, check, access, plan): files parse independently,
// and the loop that joins them in name order takes them from here. A
// load that yields (a reload under traffic) parses one file at a time
// instead, dropping each one's old blocks as it goes.
func parseAhead(names []string, files map[string][]byte, previous map[string]*parsedFile) map[string]*parsedFile {
	var todo []string
	for _, name := range names {
		if f := previous[name]; f == nil || f.sum != sha256.Sum256(files[name]) {
			todo = append(todo, name)
		}
	}
	parsed := make([]*parsedFile, len(todo))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(todo)) {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < len(todo); i = int(next.Add(1)) - 1 {
				parsed[i] = parseFile(todo[i], files[todo[i]])
			}
		})
	}
	wg.Wait()
	out := make(map[string]*parsedFile, len(todo))
	for i, name := range todo {
		out[name] = parsed[i]
	}
	return out
}

// parseFile parses and decodes one file, once it is known to be within
// the bounds the parser can take (checkBounds). What it returns refers
// to neither src nor the syntax tree.
func parseFile(name string, src []byte) *parsedFile {
	f := &parsedFile{}
	if d := checkBounds(name, src); d != nil {
		f.diags = hcl.Diagnostics{d}
		return f
	}
	file, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	f.diags = diags
	if diags.HasErrors() {
		return f
	}
	f.body, diags = decodeFile(file.Body)
	f.diags = append(f.diags, diags...)
	return f
}

// WriteDiagnostics prints each diagnostic on one line as
// "FILE:LINE:COL: severity: summary; detail", followed, when snippets is
// true, by the source line and a caret under the problem.
func WriteDiagnostics(w io.Writer, diags hcl.Diagnostics, files map[string][]byte, snippets bool) error {
	for _, d := range diags {
		severity := "error"
		if d.Severity == hcl.DiagWarning {
			severity = "warning"
		}
		where := "config"
		if d.Subject != nil {
			where = fmt.Sprintf("%s:%d:%d", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
		}
		msg := d.Summary
		if d.Detail != "" {
			msg += "; " + d.Detail
		}
		if _, err := fmt.Fprintf(w, "%s: %s: %s\n", where, severity, msg); err != nil {
			return err
		}
		if snippets && d.Subject != nil {
			if line, ok := sourceLine(files[d.Subject.Filename], d.Subject.Start.Line); ok {
				caret := strings.Repeat(" ", max(d.Subject.Start.Column-1, 0)) + "^"
				if _, err := fmt.Fprintf(w, "    %s\n    %s\n", line, caret); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func sourceLine(src []byte, line int) (string, bool) {
	if src == nil || line < 1 {
		return "", false
	}
	lines := bytes.Split(src, []byte("\n"))
	if line > len(lines) {
		return "", false
	}
	return strings.ReplaceAll(string(bytes.TrimRight(lines[line-1], "\r")), "\t", " "), true
}

// sortByPosition orders diagnostics as a reader goes through the files.
func sortByPosition(diags hcl.Diagnostics) {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		switch {
		case a == nil || b == nil:
			return a == nil && b != nil
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		case a.Start.Line != b.Start.Line:
			return a.Start.Line < b.Start.Line
		default:
			return a.Start.Column < b.Start.Column
		}
	})
}
