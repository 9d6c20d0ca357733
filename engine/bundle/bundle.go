// Package bundle writes and reads tollgate bundles: one .tar.gz file that
// carries a whole configuration (HCL declarations, Rego policies, optional
// data) from the repository that reviewed it to the servers that run it.
//
// A tollgate bundle is a valid OPA bundle, so the stock opa tools work on
// it (`opa inspect bundles/tollgate.tar.gz`, `opa eval -b ...`):
//
//	/.manifest              {"revision": "sha256:...", "roots": ["tollgate"], "rego_version": 1}
//	/data.json              the optional data, {} when there is none
//	/policies/<name>.rego   the policies (never *_test.rego)
//	/config/<name>.hcl      the declarations
//	/.signatures.json       when signed: OPA's signature over every other file (sign.go)
//
// OPA's bundle reader (Reader.Read in opa/v1/bundle) keeps only the files it
// knows (*.rego, data.json/yaml, .manifest, policy.wasm, plan.json) and skips
// every other one without complaint, so the HCL files travel in the same
// tarball under config/ and OPA ignores them. OPA's Writer, on the other
// hand, only writes what its Bundle struct holds, so Write lets OPA's Writer
// produce the OPA part and copies it, with the HCL files added, into the
// final tarball with archive/tar. Reading is the mirror image: one pass with
// archive/tar checks every entry of the untrusted file (names, types, sizes)
// and keeps the HCL files; the OPA part is then handed, already in memory,
// to OPA's own bundle reader, which parses the policies and data and
// enforces the manifest's roots, exactly as `opa` would.
//
// The revision Write puts in the manifest is the content hash of what the
// bundle serves (contentRevision), and Read computes it again: a bundle
// whose "sha256:" revision does not match was changed after its build and
// is refused, so a logged revision always names the contents. The hash
// shows a change, not who made it: whoever can rewrite the file can write
// a new hash too, which only a signature would stop (SPEC §8).
package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/ast"
	opabundle "github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/loader/filter"
	"github.com/open-policy-agent/opa/v1/util"

	"github.com/tollgate-dev/tollgate/engine/authz"
	"github.com/tollgate-dev/tollgate/engine/hclconf"
	"github.com/tollgate-dev/tollgate/engine/policy"
)

// Limits on what Read accepts. A bundle is untrusted input: it may come from
// a CI artifact store or a shared volume, so its size, its file count and
// every file's size are bounded before anything is parsed (a gzip bomb
// stops at MaxTotalBytes of output).
const (
	// MaxBundleBytes bounds the .tar.gz file itself.
	MaxBundleBytes = 32 << 20
	// MaxFileBytes bounds each file in the bundle, uncompressed.
	MaxFileBytes = 4 << 20
	// MaxTotalBytes bounds all files of the bundle together, uncompressed.
	MaxTotalBytes = 64 << 20
	// MaxEntries bounds the number of tar entries, folders included.
	MaxEntries = 4096
)

// Names of things inside a bundle.
const (
	configDir    = "config"    // the HCL declarations, flat: config/<name>.hcl
	policiesDir  = "policies"  // the Rego policies, flat: policies/<name>.rego
	dataFile     = "data.json" // the optional data, at the root of data
	manifestFile = ".manifest" // OPA's manifest: revision, roots, Rego version
	// signaturesFile is OPA's signature of a signed bundle; OPA reads it
	// under any folder, tollgate only at the root (kind).
	signaturesFile = ".signatures.json"
	// root is the package root of tollgate's own policies
	// (data.tollgate.token.decision), always among the manifest's roots.
	root = "tollgate"
)

// modTime is every entry's modification time: a fixed instant, so that
// the same inputs give a byte-identical file.
var modTime = time.Date(2000, time.January, 1, 0, 0, 0, 0, time.UTC)

// ErrUnsafePath is returned for an entry whose name could point outside
// the bundle or be read two ways: "..", ".", an empty segment, a second
// leading slash, a backslash or a control character.
var ErrUnsafePath = errors.New("unsafe path")

// ErrTooLarge is returned when the bundle, one of its files, or all of its
// files together exceed the limits above.
var ErrTooLarge = errors.New("too large")

// ErrRevisionMismatch is returned for a bundle whose manifest revision
// has tollgate's form, "sha256:" and a content hash, but is not the hash
// of what the bundle holds: it was changed after it was built.
var ErrRevisionMismatch = errors.New("the revision is not the content hash")

// Bundle is a bundle as read: the configuration it carries, ready for
// authz.Load, and the manifest's revision.
type Bundle struct {
	// Sources has ConfigFiles, PolicyFiles and Data filled, keyed by the
	// names inside the bundle (config/clients.hcl, policies/token.rego), so
	// problems read as config/clients.hcl:12:3. Its folders are empty.
	Sources authz.Sources
	// Revision is the manifest's revision; tollgate writes
	// "sha256:" and the hex digest of the contents (contentRevision).
	Revision string
	// Verified says that Revision is the content hash of what the bundle
	// holds, recomputed on read. A revision in that form that does not
	// match is refused (ErrRevisionMismatch); any other revision, such as
	// one opa build wrote, is read unverified.
	Verified bool
	// Roots are the manifest's roots.
	Roots []string
	// Signed reports that the bundle carries a .signatures.json file;
	// SignatureVerified, that its signature was checked with a Verifier
	// and covers every file (verify.go). A signed bundle read without a
	// Verifier is Signed but not SignatureVerified.
	Signed, SignatureVerified bool
}

// RevisionLabel is the revision as logs and messages show it: the
// content hash when it was verified, else the revision marked
// "(unverified)", so that nobody takes it for proof of the contents.
func (b *Bundle) RevisionLabel() string {
	switch {
	case b.Verified:
		return b.Revision
	case b.Revision == "":
		return "none (unverified)"
	}
	return printable(b.Revision) + " (unverified)"
}

// printable bounds a revision from an untrusted manifest before it is
// logged or printed: at most maxShown bytes, and no control characters
// that could forge lines.
func printable(s string) string {
	const maxShown = 80
	cut := len(s) > maxShown
	if cut {
		s = strings.ToValidUTF8(s[:maxShown], "")
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return '?'
		}
		return r
	}, s)
	if cut {
		s += "..."
	}
	return s
}

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

// entry is one regular file of a bundle, by its clean name (no leading
// slash).
type entry struct {
	name string
	body []byte
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
		Sources:           authz.Sources{ConfigFiles: config, PolicyFiles: policies, Data: data},
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

// Write writes src (its ConfigFiles, PolicyFiles and Data) to w as a
// bundle and returns its revision. Files are stored by their base names
// under config/ and policies/; *_test.rego files are left out. The output
// depends only on the contents: names are sorted, times and owners fixed,
// and the revision is the SHA-256 of the names and contents, so the same
// inputs give a byte-identical bundle (with the same Go toolchain's gzip)
// and always the same revision. The written bundle is read back with Parse
// before it is returned, so Write never produces a bundle Read refuses.
func Write(w io.Writer, src authz.Sources) (revision string, err error) {
	return write(w, src, nil)
}

// write is Write, signed by signer when it is not nil.
func write(w io.Writer, src authz.Sources, signer *Signer) (revision string, err error) {
	files, err := namedFiles(src)
	if err != nil {
		return "", err
	}
	data := src.Data
	if data == nil {
		data = map[string]any{}
	}
	if revision, err = contentRevision(files, data); err != nil {
		return "", fmt.Errorf("bundle: %w", err)
	}

	roots, modules, err := rootsAndModules(files, data)
	if err != nil {
		return "", err
	}
	manifest := opabundle.Manifest{Revision: revision, Roots: &roots}
	manifest.SetRegoVersion(ast.RegoV1)
	var opaPart bytes.Buffer
	// DisableFormat: the policies go out byte for byte as reviewed, so
	// positions in problems match the files in git.
	if err := opabundle.NewWriter(&opaPart).UseModulePath(true).DisableFormat(true).
		Write(opabundle.Bundle{Manifest: manifest, Data: data, Modules: modules}); err != nil {
		return "", fmt.Errorf("bundle: %w", err)
	}
	entries, err := untar(&opaPart)
	if err != nil {
		return "", fmt.Errorf("bundle: re-reading OPA's output: %w", err)
	}
	for name, body := range files {
		if strings.HasPrefix(name, configDir+"/") {
			entries = append(entries, entry{name: name, body: body})
		}
	}

	var check *Verifier
	if signer != nil {
		signature, err := signer.sign(entries)
		if err != nil {
			return "", fmt.Errorf("bundle: signing: %w", err)
		}
		entries = append(entries, signature)
		check = signer.verifier
	}

	var out bytes.Buffer
	if err := writeTarGz(&out, entries); err != nil {
		return "", fmt.Errorf("bundle: %w", err)
	}
	if _, err := parse(out.Bytes(), check); err != nil {
		return "", fmt.Errorf("bundle: the bundle would not read back: %w", err)
	}
	if _, err := w.Write(out.Bytes()); err != nil {
		return "", fmt.Errorf("bundle: %w", err)
	}
	return revision, nil
}

// namedFiles maps the sources' files to their names in the bundle.
func namedFiles(src authz.Sources) (map[string][]byte, error) {
	if len(src.ConfigFiles) == 0 {
		return nil, errors.New("bundle: no HCL declarations to write")
	}
	if len(src.PolicyFiles) == 0 {
		return nil, errors.New("bundle: no Rego policies to write")
	}
	files := map[string][]byte{}
	from := map[string]string{}
	add := func(dir, file string, body []byte) error {
		name := dir + "/" + filepath.Base(file)
		if other, ok := from[name]; ok {
			return fmt.Errorf("bundle: %s and %s would both be %s", other, file, name)
		}
		from[name] = file
		files[name] = body
		return nil
	}
	for _, file := range slices.Sorted(maps.Keys(src.ConfigFiles)) {
		if err := add(configDir, file, src.ConfigFiles[file]); err != nil {
			return nil, err
		}
	}
	for _, file := range slices.Sorted(maps.Keys(src.PolicyFiles)) {
		if strings.HasSuffix(file, "_test.rego") {
			continue
		}
		if err := add(policiesDir, file, src.PolicyFiles[file]); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// revisionPrefix starts every revision tollgate writes: the rest is the
// content hash (contentRevision).
const revisionPrefix = "sha256:"

// contentRevision is the revision of a bundle holding files (names as in
// the bundle: config/<name>.hcl, policies/<name>.rego; no tests, which are
// never served) and data: "sha256:" and the hex SHA-256 of every file's
// name, size and content, in name order, then of data.json's name, size
// and the data as canonical JSON (sorted keys; {} for none). It is the one
// definition of the hash: Write computes it to name a bundle, Read again
// to check one, so anything served is covered by it.
func contentRevision(files map[string][]byte, data map[string]any) (string, error) {
	if data == nil {
		data = map[string]any{}
	}
	canonicalData, err := json.Marshal(data)
	if err != nil {
		return "", fmt.Errorf("data: %w", err)
	}
	h := sha256.New()
	for _, name := range slices.Sorted(maps.Keys(files)) {
		body := files[name]
		h.Write([]byte(name + "\x00" + strconv.Itoa(len(body)) + "\x00"))
		h.Write(body)
	}
	h.Write([]byte(dataFile + "\x00" + strconv.Itoa(len(canonicalData)) + "\x00"))
	h.Write(canonicalData)
	return revisionPrefix + hex.EncodeToString(h.Sum(nil)), nil
}

// verifyRevision checks a manifest's revision against what the bundle
// holds. A revision in tollgate's form must be the content hash, or the
// bundle was changed after its build (a policy swapped, a declaration
// edited) and is refused. Any other revision proves nothing and is
// reported unverified: bundles built by opa build carry a revision of
// their maker's choosing, or none.
func verifyRevision(revision string, config, policies map[string][]byte, data map[string]any) (verified bool, err error) {
	if !strings.HasPrefix(revision, revisionPrefix) {
		return false, nil
	}
	files := make(map[string][]byte, len(config)+len(policies))
	maps.Copy(files, config)
	maps.Copy(files, policies)
	want, err := contentRevision(files, data)
	if err != nil {
		return false, err
	}
	if revision != want {
		return false, fmt.Errorf("%w: the manifest says %s, the contents hash to %s: the bundle was changed after it was built; rebuild it with tollgate bundle build",
			ErrRevisionMismatch, printable(revision), want)
	}
	return true, nil
}

// rootsAndModules parses the policies for OPA's writer and derives the
// manifest's roots: tollgate, plus the first segment of any other package
// and any other top-level data key, so OPA accepts every policy and datum
// the bundle holds while tollgate's own stay under data.tollgate.
func rootsAndModules(files map[string][]byte, data map[string]any) ([]string, []opabundle.ModuleFile, error) {
	rootSet := map[string]bool{root: true}
	for key := range data {
		rootSet[key] = true
	}
	var modules []opabundle.ModuleFile
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if !strings.HasPrefix(name, policiesDir+"/") {
			continue
		}
		m, err := ast.ParseModuleWithOpts(name, string(files[name]), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return nil, nil, fmt.Errorf("bundle: %w", err)
		}
		if len(m.Package.Path) > 1 {
			if first, ok := m.Package.Path[1].Value.(ast.String); ok {
				rootSet[string(first)] = true
			}
		}
		modules = append(modules, opabundle.ModuleFile{URL: "/" + name, Path: "/" + name, Raw: files[name], Parsed: m})
	}
	return slices.Sorted(maps.Keys(rootSet)), modules, nil
}

// writeTarGz writes entries sorted by name with fixed metadata, each with
// the leading slash OPA uses.
func writeTarGz(w io.Writer, entries []entry) error {
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	gz, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     "/" + e.name,
			Mode:     0o644,
			Size:     int64(len(e.body)),
			ModTime:  modTime,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(e.body); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

// WriteFile writes the bundle to path atomically: to a temporary file in
// the same folder, then renamed over path, so a server watching path never
// reads half a bundle. The folder is created if missing.
func WriteFile(path string, src authz.Sources) (revision string, err error) {
	return writeFile(path, src, nil)
}

// writeFile is WriteFile, signed by signer when it is not nil.
func writeFile(path string, src authz.Sources, signer *Signer) (revision string, err error) {
	var buf bytes.Buffer
	if revision, err = write(&buf, src, signer); err != nil {
		return "", err
	}
	if err := writeAtomic(path, buf.Bytes(), 0o755, 0o644); err != nil {
		return "", fmt.Errorf("bundle: %w", err)
	}
	return revision, nil
}

// writeAtomic writes body to path through a temporary file in the same
// folder renamed over path, so a reader sees the old file or the new one,
// never half of either. The folder is created with dirPerm if missing.
func writeAtomic(path string, body []byte, dirPerm, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, dirPerm); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := tmp.Write(body); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// ReadDirs reads what `tollgate bundle build` packs: every *.hcl file of
// configFolder and every policy of policiesFolder, chosen exactly as `serve`
// and `check` choose them (top-level files only; *_test.rego skipped), and
// the optional JSON object in dataPath. Files are keyed by their paths on
// disk, so checking the result with authz.Check names the files to fix;
// Write then stores the very bytes that were checked.
func ReadDirs(configFolder, policiesFolder, dataPath string) (authz.Sources, error) {
	config, err := hclconf.ReadDir(configFolder)
	if err != nil {
		return authz.Sources{}, err
	}
	policies, err := policy.ReadDir(policiesFolder)
	if err != nil {
		return authz.Sources{}, err
	}
	src := authz.Sources{ConfigDir: configFolder, PoliciesDir: policiesFolder, ConfigFiles: config, PolicyFiles: policies}
	if dataPath != "" {
		if src.Data, err = readData(dataPath); err != nil {
			return authz.Sources{}, err
		}
	}
	return src, nil
}

// readData reads a JSON object for data.json. Numbers stay json.Number,
// as OPA's reader gives them back, so a value survives the round trip
// exactly.
func readData(file string) (map[string]any, error) {
	body, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	var data map[string]any
	if err := util.UnmarshalJSON(body, &data); err != nil {
		return nil, fmt.Errorf("data: %s: must be a JSON object: %w", file, err)
	}
	if data == nil {
		return nil, fmt.Errorf("data: %s: must be a JSON object, not null", file)
	}
	return data, nil
}

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
