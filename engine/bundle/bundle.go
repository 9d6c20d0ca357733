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
	"errors"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
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

// Files are a configuration as plain files: what a bundle carries, and
// what Write packs. The loader takes them as they are (reload.Sources'
// ConfigFiles, PolicyFiles and Data).
type Files struct {
	// Config holds the HCL declarations and Policies the Rego policies,
	// by name: as read from a bundle, the names inside it
	// (config/clients.hcl, policies/token.rego), so that problems read as
	// config/clients.hcl:12:3; as read by ReadDirs, the paths on disk.
	Config   map[string][]byte
	Policies map[string][]byte
	// Data is the optional data the policies may read.
	Data map[string]any
}

// Bundle is a bundle as read: the configuration it carries, ready for
// reload.Load, and the manifest's revision.
type Bundle struct {
	// Files has Config, Policies and Data filled.
	Files Files
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

// entry is one regular file of a bundle, by its clean name (no leading
// slash).
type entry struct {
	name string
	body []byte
}
