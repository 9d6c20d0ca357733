package bundle_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/engine/bundle"
	"github.com/tollgate-dev/tollgate/engine/repotest"
)

// tarFile is one entry of a hand-made tarball.
type tarFile struct {
	name     string
	body     string
	typeflag byte
}

func tarball(t testing.TB, files ...tarFile) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range files {
		hdr := &tar.Header{Name: f.name, Mode: 0o644, Typeflag: f.typeflag}
		switch f.typeflag {
		case 0:
			hdr.Typeflag = tar.TypeReg
			hdr.Size = int64(len(f.body))
		case tar.TypeSymlink:
			hdr.Linkname = f.body
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(f.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const (
	goodHCL    = "client \"a\" {\n  secret { hash = \"sha256:0000000000000000000000000000000000000000000000000000000000000000\" }\n}\n"
	goodPolicy = "package tollgate.token\n\ndecision := {\"allow\": false}\n"
)

var (
	hclFile    = tarFile{name: "/config/a.hcl", body: goodHCL}
	policyFile = tarFile{name: "/policies/token.rego", body: goodPolicy}
)

// Nesting no person writes, of the review's depth (60,000), in each kind
// of file a bundle carries. The HCL is refused when it is loaded
// (hclconf), the rest by the readers of Parse.
const deep = 60000

var (
	deepJSON       = strings.Repeat("[", deep) + strings.Repeat("]", deep)
	deepHCLFile    = tarFile{name: "/config/deep.hcl", body: "account \"d\" {\n  attributes = { k = " + deepJSON + " }\n}\n"}
	deepPolicyFile = tarFile{name: "/policies/deep.rego", body: "package tollgate.deep\n\nx := " + deepJSON + "\n"}
)

// TestParseAccepts: bundles tollgate did not write itself still read, as
// long as they are clean.
func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name         string
		files        []tarFile
		wantConfig   []string
		wantPolicies []string
	}{
		{name: "names without the leading slash", files: []tarFile{{name: "config/a.hcl", body: goodHCL}, {name: "token.rego", body: goodPolicy}},
			wantConfig: []string{"config/a.hcl"}, wantPolicies: []string{"token.rego"}},
		{name: "folder entries", files: []tarFile{{name: "config/", typeflag: tar.TypeDir}, hclFile, {name: "/policies/", typeflag: tar.TypeDir}, policyFile},
			wantConfig: []string{"config/a.hcl"}, wantPolicies: []string{"policies/token.rego"}},
		{name: "tests are left out", files: []tarFile{hclFile, policyFile, {name: "/policies/token_test.rego", body: "package broken("}},
			wantConfig: []string{"config/a.hcl"}, wantPolicies: []string{"policies/token.rego"}},
		{name: "no manifest", files: []tarFile{hclFile, policyFile, {name: "/data.json", body: `{"tollgate": {"x": 1}}`}},
			wantConfig: []string{"config/a.hcl"}, wantPolicies: []string{"policies/token.rego"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := bundle.Parse(tarball(t, tt.files...))
			if err != nil {
				t.Fatal(err)
			}
			if got := slices.Sorted(maps.Keys(b.Files.Config)); !slices.Equal(got, tt.wantConfig) {
				t.Errorf("config files %v, want %v", got, tt.wantConfig)
			}
			if got := slices.Sorted(maps.Keys(b.Files.Policies)); !slices.Equal(got, tt.wantPolicies) {
				t.Errorf("policy files %v, want %v", got, tt.wantPolicies)
			}
		})
	}
}

// TestParseRejects: a bundle is untrusted input; anything unsafe, oversized
// or unexpected is refused with a reason, before any of it is used.
func TestParseRejects(t *testing.T) {
	big := strings.Repeat("#", bundle.MaxFileBytes+1)
	nearlyBig := strings.Repeat("#", bundle.MaxFileBytes)
	var tooMany []tarFile
	for range bundle.MaxEntries + 1 {
		tooMany = append(tooMany, tarFile{name: "config/", typeflag: tar.TypeDir})
	}
	var overTotal []tarFile
	for i := range bundle.MaxTotalBytes/bundle.MaxFileBytes + 1 {
		overTotal = append(overTotal, tarFile{name: "/config/" + string(rune('a'+i)) + ".hcl", body: nearlyBig})
	}
	tests := []struct {
		name    string
		archive []byte
		wantErr error
		want    string
	}{
		{name: "a parent folder", archive: tarball(t, tarFile{name: "../config/a.hcl", body: goodHCL}, policyFile), wantErr: bundle.ErrUnsafePath},
		{name: "a parent folder inside", archive: tarball(t, hclFile, tarFile{name: "config/../../etc/token.rego", body: goodPolicy}), wantErr: bundle.ErrUnsafePath},
		{name: "an absolute path past the bundle root", archive: tarball(t, tarFile{name: "//etc/a.hcl", body: goodHCL}, policyFile), wantErr: bundle.ErrUnsafePath},
		{name: "a dot segment", archive: tarball(t, tarFile{name: "./config/a.hcl", body: goodHCL}, policyFile), wantErr: bundle.ErrUnsafePath},
		{name: "an empty segment", archive: tarball(t, tarFile{name: "config//a.hcl", body: goodHCL}, policyFile), wantErr: bundle.ErrUnsafePath},
		{name: "a backslash", archive: tarball(t, tarFile{name: `config\..\a.hcl`, body: goodHCL}, policyFile), wantErr: bundle.ErrUnsafePath},
		{name: "a newline in a name", archive: tarball(t, tarFile{name: "config/a\nb.hcl", body: goodHCL}, policyFile), wantErr: bundle.ErrUnsafePath},
		{name: "a parent folder as a folder entry", archive: tarball(t, tarFile{name: "../", typeflag: tar.TypeDir}, hclFile, policyFile), wantErr: bundle.ErrUnsafePath},
		{name: "an oversize file", archive: tarball(t, hclFile, policyFile, tarFile{name: "/config/big.hcl", body: big}), wantErr: bundle.ErrTooLarge},
		{name: "files over the total", archive: tarball(t, overTotal...), wantErr: bundle.ErrTooLarge},
		{name: "too many entries", archive: tarball(t, tooMany...), wantErr: bundle.ErrTooLarge},
		{name: "an oversize archive", archive: make([]byte, bundle.MaxBundleBytes+1), wantErr: bundle.ErrTooLarge},
		{name: "a symbolic link", archive: tarball(t, hclFile, policyFile, tarFile{name: "/config/b.hcl", body: "/etc/passwd", typeflag: tar.TypeSymlink}), want: "unsupported entry type"},
		{name: "the same file twice", archive: tarball(t, hclFile, policyFile, tarFile{name: "config/a.hcl", body: goodHCL}), want: "twice"},
		{name: "an unexpected file", archive: tarball(t, hclFile, policyFile, tarFile{name: "/README.md", body: "hi"}), want: "unexpected file"},
		{name: "declarations outside config/", archive: tarball(t, hclFile, policyFile, tarFile{name: "/policies/a.hcl", body: goodHCL}), want: "unexpected file"},
		{name: "a signatures file in a folder", archive: tarball(t, hclFile, policyFile, tarFile{name: "/policies/.signatures.json", body: "{}"}), want: "unexpected file"},
		{name: "a plain OPA bundle", archive: tarball(t, policyFile), want: "not a tollgate bundle"},
		{name: "no policies", archive: tarball(t, hclFile), want: "no .rego policies"},
		{name: "a policy outside the roots", archive: tarball(t, hclFile, policyFile, tarFile{name: "/.manifest", body: `{"roots": ["other"]}`}), want: "manifest roots"},
		{name: "a policy that does not parse", archive: tarball(t, hclFile, tarFile{name: "/policies/token.rego", body: "package tollgate.token\n\ndecision := {"}), want: "policies/token.rego:3"},
		{name: "data that is not JSON", archive: tarball(t, hclFile, policyFile, tarFile{name: "/data.json", body: "{"}), want: "data.json"},
		{name: "data nested too deep", archive: tarball(t, hclFile, policyFile, tarFile{name: "/data.json", body: `{"a": ` + deepJSON + `}`}), want: "exceeded max depth"},
		{name: "a manifest nested too deep", archive: tarball(t, hclFile, policyFile, tarFile{name: "/.manifest", body: `{"metadata": {"a": ` + deepJSON + `}}`}), want: "exceeded max depth"},
		{name: "a manifest naming its revision twice in different case", archive: tarball(t, hclFile, policyFile, tarFile{name: "/.manifest", body: `{"revision": "a", "Revision": "b"}`}), want: "differ in more than case"},
		{name: "a policy nested too deep", archive: tarball(t, hclFile, policyFile, deepPolicyFile), want: "policies/deep.rego:3"},
		{name: "not gzip", archive: []byte("config/a.hcl"), want: "not a .tar.gz file"},
		{name: "a truncated archive", archive: tarball(t, hclFile, policyFile)[:60], want: "bundle:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := bundle.Parse(tt.archive)
			if err == nil {
				t.Fatalf("accepted: %+v", b)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %q, want %q", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to say %q", err, tt.want)
			}
		})
	}
}

func TestReadNamesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "evil.tar.gz")
	if err := os.WriteFile(path, tarball(t, tarFile{name: "../x.hcl", body: goodHCL}), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := bundle.Read(path)
	if err == nil || !errors.Is(err, bundle.ErrUnsafePath) || !strings.Contains(err.Error(), path) {
		t.Errorf("error %v", err)
	}
	if _, err := bundle.Read(filepath.Join(t.TempDir(), "missing.tar.gz")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing bundle: %v", err)
	}
}

// FuzzParse: no input makes the reader panic, and whatever it accepts holds
// only clean names within the limits.
func FuzzParse(f *testing.F) {
	root := repotest.Path(f)
	src, err := bundle.ReadDirs(filepath.Join(root, "config"), filepath.Join(root, "policies"), "")
	if err != nil {
		f.Fatal(err)
	}
	var good bytes.Buffer
	if _, err := bundle.Write(&good, src); err != nil {
		f.Fatal(err)
	}
	f.Add(good.Bytes())
	f.Add(tarball(f, hclFile, policyFile))
	f.Add(tarball(f, hclFile, policyFile, tarFile{name: "/data.json", body: `{"tollgate": {"x": [1, 2]}}`}, tarFile{name: "/.manifest", body: `{"revision": "r", "roots": ["tollgate"]}`}))
	f.Add(tarball(f, tarFile{name: "../config/a.hcl", body: goodHCL}, policyFile))
	f.Add([]byte{0x1f, 0x8b})
	f.Add(tarball(f, hclFile, policyFile, deepHCLFile))
	f.Add(tarball(f, hclFile, policyFile, deepPolicyFile))
	f.Add(tarball(f, hclFile, policyFile, tarFile{name: "/data.json", body: `{"a": ` + deepJSON + `}`}))
	f.Add(tarball(f, hclFile, policyFile, tarFile{name: "/.manifest", body: `{"metadata": {"a": ` + deepJSON + `}}`}))
	f.Fuzz(func(t *testing.T, archive []byte) {
		b, err := bundle.Parse(archive)
		if err != nil {
			return
		}
		if len(b.Files.Config) == 0 || len(b.Files.Policies) == 0 || b.Files.Config == nil || b.Files.Policies == nil {
			t.Fatalf("accepted sources that would fall back to folders: %+v", b.Files)
		}
		total := 0
		for _, files := range []map[string][]byte{b.Files.Config, b.Files.Policies} {
			for name, body := range files {
				total += len(body)
				if len(body) > bundle.MaxFileBytes || name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "..") ||
					strings.Contains(name, "//") || strings.HasSuffix(name, "_test.rego") {
					t.Fatalf("accepted %q (%d bytes)", name, len(body))
				}
			}
		}
		for name := range b.Files.Config {
			if !strings.HasPrefix(name, "config/") || strings.Count(name, "/") != 1 || !strings.HasSuffix(name, ".hcl") {
				t.Fatalf("accepted declarations %q", name)
			}
		}
		if total > bundle.MaxTotalBytes {
			t.Fatalf("accepted %d bytes", total)
		}
	})
}

// TestReadVerifiesTheRevision: a bundle's revision in tollgate's form
// (sha256: and the content hash) is checked against the contents on
// every read: a bundle changed after its build (a policy swapped for one
// that allows everything, a declaration edited, a file added or removed,
// other data) is refused, as is a sha256: revision that is no hash. Any
// other revision (opa build's, or none) is read, marked unverified.
func TestReadVerifiesTheRevision(t *testing.T) {
	root := repotest.Path(t)
	src, err := bundle.ReadDirs(filepath.Join(root, "config"), filepath.Join(root, "policies"), "")
	if err != nil {
		t.Fatal(err)
	}
	var good bytes.Buffer
	revision, err := bundle.Write(&good, src)
	if err != nil {
		t.Fatal(err)
	}
	b, err := bundle.Parse(good.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !b.Verified || b.Revision != revision || b.RevisionLabel() != revision {
		t.Errorf("a built bundle: verified %v, revision %q, label %q; want verified %s", b.Verified, b.Revision, b.RevisionLabel(), revision)
	}

	allowAll, err := os.ReadFile(filepath.Join(root, "testdata/policies/allow-all/token.rego"))
	if err != nil {
		t.Fatal(err)
	}
	manifest := func(revision string) []byte {
		return []byte(`{"revision": "` + revision + `", "roots": ["tollgate"], "rego_version": 1}`)
	}
	tampered := map[string][]byte{
		"a policy swapped for allow-all": repotest.ReplaceInArchive(t, good.Bytes(), "policies/token.rego", allowAll),
		"a policy added":                 repotest.ReplaceInArchive(t, good.Bytes(), "policies/extra.rego", []byte("package tollgate.extra\n\nx := 1\n")),
		"a policy removed":               repotest.ReplaceInArchive(t, good.Bytes(), "policies/scope.rego", nil),
		"a declaration edited":           repotest.ReplaceInArchive(t, good.Bytes(), "config/settings.hcl", []byte("settings {}\n")),
		"a declaration added":            repotest.ReplaceInArchive(t, good.Bytes(), "config/extra.hcl", []byte(goodHCL)),
		"data changed":                   repotest.ReplaceInArchive(t, good.Bytes(), "data.json", []byte(`{"tollgate": {"x": 1}}`)),
		"a revision that is no hash":     repotest.ReplaceInArchive(t, good.Bytes(), ".manifest", manifest("sha256:latest")),
		"another bundle's revision":      repotest.ReplaceInArchive(t, good.Bytes(), ".manifest", manifest("sha256:"+strings.Repeat("0", 64))),
	}
	for name, archive := range tampered {
		t.Run(name, func(t *testing.T) {
			b, err := bundle.Parse(archive)
			if !errors.Is(err, bundle.ErrRevisionMismatch) {
				t.Fatalf("error %v (read %v), want ErrRevisionMismatch", err, b != nil)
			}
			if !strings.Contains(err.Error(), "tollgate bundle build") {
				t.Errorf("the error should say how to fix it: %v", err)
			}
		})
	}

	unverified := []struct {
		name, label string
		archive     []byte
	}{
		{name: "opa build's revision", label: "v1.2.3 (unverified)", archive: repotest.ReplaceInArchive(t, good.Bytes(), ".manifest", manifest("v1.2.3"))},
		{name: "no revision", label: "none (unverified)", archive: repotest.ReplaceInArchive(t, good.Bytes(), ".manifest", manifest(""))},
		{name: "no manifest", label: "none (unverified)", archive: repotest.ReplaceInArchive(t, good.Bytes(), ".manifest", nil)},
	}
	for _, tt := range unverified {
		t.Run(tt.name, func(t *testing.T) {
			b, err := bundle.Parse(tt.archive)
			if err != nil {
				t.Fatal(err)
			}
			if b.Verified || b.RevisionLabel() != tt.label {
				t.Errorf("verified %v, label %q, want %q", b.Verified, b.RevisionLabel(), tt.label)
			}
		})
	}
}
