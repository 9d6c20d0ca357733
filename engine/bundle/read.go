package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/ast"
	opabundle "github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/loader/filter"
)

// Read reads the bundle file at path. The file is read whole, once (a
// bundle renamed over it meanwhile is seen next time, never half of each),
// and checked as untrusted input before OPA's reader parses any of it:
// see the limits above and cleanName.
func Read(path string) (*Bundle, error) { return ReadVerified(path, nil) }

// ReadVerified is Read that, with a non-nil Verifier, accepts only a bundle
// whose signature the Verifier's key made and that covers every file.
func ReadVerified(path string, v *Verifier) (*Bundle, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, MaxBundleBytes+1))
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", path, err)
	}
	b, err := parse(raw, v)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", path, err)
	}
	return b, nil
}

// Parse reads a bundle from the bytes of a .tar.gz file, with the checks
// and limits of Read.
func Parse(archive []byte) (*Bundle, error) { return ParseVerified(archive, nil) }

// ParseVerified is Parse with the signature check of ReadVerified.
func ParseVerified(archive []byte, v *Verifier) (*Bundle, error) {
	b, err := parse(archive, v)
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	return b, nil
}

// parse checks the archive, then its signature (v nil: none required),
// before any file is parsed.
func parse(archive []byte, v *Verifier) (*Bundle, error) {
	if len(archive) > MaxBundleBytes {
		return nil, fmt.Errorf("%w: over %d bytes", ErrTooLarge, MaxBundleBytes)
	}
	entries, err := untar(bytes.NewReader(archive))
	if err != nil {
		return nil, err
	}
	signed, err := checkSignature(entries, v)
	if err != nil {
		return nil, err
	}
	config := map[string][]byte{}
	var forOPA []entry
	for _, e := range entries {
		switch kind(e.name) {
		case kindConfig:
			config[e.name] = e.body
		case kindTest, kindSignatures:
			// Tests are never served (SPEC §2: *_test.rego ignored), so
			// they are not compiled from a bundle either; the signature
			// was checked above.
		case kindOPA:
			if e.name == manifestFile {
				if err := checkManifestKeys(e.body); err != nil {
					return nil, err
				}
			}
			forOPA = append(forOPA, e)
		default:
			return nil, fmt.Errorf("unexpected file %q: a tollgate bundle holds %s/*.hcl, *.rego, %s and %s only", e.name, configDir, dataFile, manifestFile)
		}
	}
	if len(config) == 0 {
		return nil, fmt.Errorf("no %s/*.hcl files: not a tollgate bundle", configDir)
	}

	ob, err := opabundle.NewCustomReader(&memoryLoader{entries: forOPA}).
		WithRegoVersion(ast.RegoV1).
		WithLazyLoadingMode(false).
		WithSizeLimitBytes(MaxFileBytes).
		Read()
	if err != nil {
		return nil, err
	}
	policies := make(map[string][]byte, len(ob.Modules))
	for _, m := range ob.Modules {
		policies[strings.TrimPrefix(m.Path, "/")] = m.Raw
	}
	if len(policies) == 0 {
		return nil, errors.New("no .rego policies")
	}
	var data map[string]any
	if len(ob.Data) > 0 {
		data = ob.Data
	}
	verified, err := verifyRevision(ob.Manifest.Revision, config, policies, data)
	if err != nil {
		return nil, err
	}
	b := &Bundle{
		Files:             Files{Config: config, Policies: policies, Data: data},
		Revision:          ob.Manifest.Revision,
		Verified:          verified,
		Signed:            signed,
		SignatureVerified: signed && v != nil,
	}
	if ob.Manifest.Roots != nil {
		b.Roots = append([]string(nil), *ob.Manifest.Roots...)
	}
	return b, nil
}

// untar reads every regular file of a .tar.gz stream, checking names,
// types, sizes and duplicates as it goes.
func untar(r io.Reader) ([]entry, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("not a .tar.gz file: %w", err)
	}
	tr := tar.NewReader(gz)
	var (
		entries []entry
		seen    = map[string]bool{}
		total   int64
	)
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading the archive: %w", err)
		}
		if n >= MaxEntries {
			return nil, fmt.Errorf("%w: more than %d entries", ErrTooLarge, MaxEntries)
		}
		name, err := cleanName(hdr.Name, hdr.Typeflag == tar.TypeDir)
		if err != nil {
			return nil, err
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			continue
		case tar.TypeReg:
		default:
			return nil, fmt.Errorf("%q: unsupported entry type %q: only regular files and folders", name, hdr.Typeflag)
		}
		if seen[name] {
			return nil, fmt.Errorf("%q: the archive holds it twice", name)
		}
		seen[name] = true
		if hdr.Size > MaxFileBytes {
			return nil, fmt.Errorf("%q: %w: %d bytes, over %d", name, ErrTooLarge, hdr.Size, MaxFileBytes)
		}
		body, err := io.ReadAll(io.LimitReader(tr, MaxFileBytes+1))
		if err != nil {
			return nil, fmt.Errorf("%q: %w", name, err)
		}
		if len(body) > MaxFileBytes {
			return nil, fmt.Errorf("%q: %w: over %d bytes", name, ErrTooLarge, MaxFileBytes)
		}
		if total += int64(len(body)); total > MaxTotalBytes {
			return nil, fmt.Errorf("%w: files over %d bytes in all", ErrTooLarge, MaxTotalBytes)
		}
		entries = append(entries, entry{name: name, body: body})
	}
	return entries, nil
}

// cleanName returns the name of an entry relative to the bundle's root.
// OPA writes every name with one leading slash ("/data.json", as `opa build`
// does), meaning the bundle's root, not the file system's: that one slash
// is accepted and dropped. Nothing is ever extracted to disk, but a name
// that is not already clean (two leading slashes, "..", ".", "a//b", a
// backslash) could still escape a folder in a tool that extracts it, or
// let one file hide behind another's name, so it is refused, as are
// control characters that would forge lines in logs.
func cleanName(raw string, dir bool) (string, error) {
	name := strings.TrimPrefix(raw, "/")
	if dir {
		name = strings.TrimSuffix(name, "/")
	}
	bad := name == "" || !utf8.ValidString(name) || strings.ContainsRune(name, '\\') ||
		strings.IndexFunc(name, unicode.IsControl) >= 0
	for _, seg := range strings.Split(name, "/") {
		if seg == "" || seg == "." || seg == ".." {
			bad = true
		}
	}
	if bad {
		return "", fmt.Errorf("%q: %w", raw, ErrUnsafePath)
	}
	return name, nil
}

type fileKind int

const (
	kindOther      fileKind = iota
	kindConfig              // config/<name>.hcl
	kindOPA                 // for OPA's reader: *.rego, data.json, .manifest
	kindTest                // *_test.rego
	kindSignatures          // .signatures.json, at the root only
)

func kind(name string) fileKind {
	dir, base := path.Split(name)
	switch {
	case dir == configDir+"/" && strings.HasSuffix(base, ".hcl"):
		return kindConfig
	case name == signaturesFile:
		return kindSignatures
	case strings.HasSuffix(base, "_test.rego"):
		return kindTest
	case strings.HasSuffix(base, ".rego"), base == dataFile, name == manifestFile:
		return kindOPA
	}
	return kindOther
}

// memoryLoader hands OPA's bundle reader the entries untar already read
// and checked, so the archive is decompressed once and OPA sees exactly
// the names tollgate checked, each with the leading slash OPA writes.
type memoryLoader struct {
	entries []entry
	next    int
}

func (l *memoryLoader) NextFile() (*opabundle.Descriptor, error) {
	if l.next >= len(l.entries) {
		return nil, io.EOF
	}
	e := l.entries[l.next]
	l.next++
	name := "/" + e.name
	return opabundle.NewDescriptor(name, name, bytes.NewBuffer(e.body)), nil
}

// WithFilter, WithPathFormat, WithSizeLimitBytes and WithFollowSymlinks
// complete opabundle.DirectoryLoader; untar already applied tollgate's
// limits, and there are no links to follow.
func (l *memoryLoader) WithFilter(filter.LoaderFilter) opabundle.DirectoryLoader { return l }

func (l *memoryLoader) WithPathFormat(opabundle.PathFormat) opabundle.DirectoryLoader { return l }

func (l *memoryLoader) WithSizeLimitBytes(int64) opabundle.DirectoryLoader { return l }

func (l *memoryLoader) WithFollowSymlinks(bool) opabundle.DirectoryLoader { return l }

// checkManifestKeys refuses a manifest that names one of its members twice
// in different case ("revision" and "Revision"). OPA's reader matches
// member names without regard to case and keeps the last, while the
// signature covers the parsed object, whose order does not count: such a
// manifest could change its revision without breaking its signature.
func checkManifestKeys(body []byte) error {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		return nil // not an object: OPA's reader says why
	}
	seen := make(map[string]string, len(members))
	for name := range members {
		folded := strings.ToLower(name)
		if other, ok := seen[folded]; ok {
			return fmt.Errorf("%s names %q and %q: member names must differ in more than case", manifestFile, other, name)
		}
		seen[folded] = name
	}
	return nil
}
