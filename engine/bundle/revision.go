package bundle

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

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
