package bundle_test

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/engine/bundle"
	"github.com/tollgate-dev/tollgate/engine/reload"
	"github.com/tollgate-dev/tollgate/engine/repotest"
)

// byBase keys files by their base names under dir, as a bundle names them.
func byBase(dir string, files map[string][]byte) map[string][]byte {
	out := map[string][]byte{}
	for name, body := range files {
		out[dir+"/"+filepath.Base(name)] = body
	}
	return out
}

func writeTemp(t *testing.T, name, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestBuildReadsBackWhatTheFoldersHold: a bundle built from folders reads
// back as the same files, named config/... and policies/..., with the same
// data, and it loads into a snapshot just as the folders do.
func TestBuildReadsBackWhatTheFoldersHold(t *testing.T) {
	root := repotest.Path(t)
	extraPolicies := t.TempDir()
	for name, body := range map[string]string{
		"token.rego":      "package tollgate.token\n\nimport data.lib.allowed\n\ndecision := {\"allow\": false, \"reasons\": [data.extra.why, sprintf(\"%v\", [allowed])]}\n",
		"lib.rego":        "package lib\n\nallowed := data.tollgate.limits.max > 1\n",
		"lib_test.rego":   "package lib_test\n\ntest_nothing if true\n",
		"notes.txt":       "not a policy",
		"README.markdown": "not a policy either",
	} {
		if err := os.WriteFile(filepath.Join(extraPolicies, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name      string
		config    string
		policies  string
		data      string
		wantRoots []string
	}{
		{name: "the repository's config and policies", config: filepath.Join(root, "config"), policies: filepath.Join(root, "policies"),
			wantRoots: []string{"tollgate"}},
		{name: "test fixtures", config: filepath.Join(root, "testdata/hcl/good"), policies: filepath.Join(root, "testdata/policies/allow-all"),
			wantRoots: []string{"tollgate"}},
		{name: "data and a library package outside tollgate", config: filepath.Join(root, "config"), policies: extraPolicies,
			data:      writeTemp(t, "data.json", `{"tollgate": {"limits": {"max": 12345678901234567890}}, "extra": {"why": "because"}}`),
			wantRoots: []string{"extra", "lib", "tollgate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := bundle.ReadDirs(tt.config, tt.policies, tt.data)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := reload.Check(context.Background(), sourcesOf(src)); err != nil {
				t.Fatalf("the folders do not check: %v", err)
			}
			out := filepath.Join(t.TempDir(), "sub", "tollgate.tar.gz")
			revision, err := bundle.WriteFile(out, src)
			if err != nil {
				t.Fatal(err)
			}
			b, err := bundle.Read(out)
			if err != nil {
				t.Fatal(err)
			}
			if b.Revision != revision || !strings.HasPrefix(revision, "sha256:") || len(revision) != len("sha256:")+64 {
				t.Errorf("revision %q, manifest says %q", revision, b.Revision)
			}
			if !slices.Equal(b.Roots, tt.wantRoots) {
				t.Errorf("roots %v, want %v", b.Roots, tt.wantRoots)
			}
			if want := byBase("config", src.Config); !maps.EqualFunc(b.Files.Config, want, bytes.Equal) {
				t.Errorf("config files %v, want %v", slices.Sorted(maps.Keys(b.Files.Config)), slices.Sorted(maps.Keys(want)))
			}
			if want := byBase("policies", src.Policies); !maps.EqualFunc(b.Files.Policies, want, bytes.Equal) {
				t.Errorf("policy files %v, want %v", slices.Sorted(maps.Keys(b.Files.Policies)), slices.Sorted(maps.Keys(want)))
			}
			if !reflect.DeepEqual(b.Files.Data, src.Data) {
				t.Errorf("data %#v, want %#v", b.Files.Data, src.Data)
			}
			// Files carry no folders; nil maps are what would make a load
			// read the default folders instead.
			if b.Files.Config == nil || b.Files.Policies == nil {
				t.Errorf("a bundle's sources must not fall back to folders: %+v", b.Files)
			}
			if _, err := reload.Load(context.Background(), sourcesOf(b.Files), reload.NewKDFCache()); err != nil {
				t.Fatalf("the bundle does not load: %v", err)
			}
		})
	}
}

// TestBuildIsReproducible: the same inputs give a byte-identical file; any
// change of a content or a name gives another revision.
func TestBuildIsReproducible(t *testing.T) {
	root := repotest.Path(t)
	src, err := bundle.ReadDirs(filepath.Join(root, "config"), filepath.Join(root, "policies"), "")
	if err != nil {
		t.Fatal(err)
	}
	write := func(src bundle.Files) ([]byte, string) {
		t.Helper()
		var buf bytes.Buffer
		revision, err := bundle.Write(&buf, src)
		if err != nil {
			t.Fatal(err)
		}
		return buf.Bytes(), revision
	}
	first, revision := write(src)
	second, again := write(src)
	if !bytes.Equal(first, second) || revision != again {
		t.Fatalf("two builds differ: %d and %d bytes, revisions %s and %s", len(first), len(second), revision, again)
	}

	// Written from a bundle read back, the bundle is the same again.
	b, err := bundle.Parse(first)
	if err != nil {
		t.Fatal(err)
	}
	if third, _ := write(b.Files); !bytes.Equal(first, third) {
		t.Error("rewriting a bundle read back changes it")
	}

	changed := func(edit func(src *bundle.Files)) bundle.Files {
		c := bundle.Files{Config: maps.Clone(src.Config), Policies: maps.Clone(src.Policies)}
		edit(&c)
		return c
	}
	settings := filepath.Join(root, "config", "settings.hcl")
	variants := map[string]bundle.Files{
		"a comment added": changed(func(c *bundle.Files) {
			c.Config[settings] = append(slices.Clone(c.Config[settings]), "# changed\n"...)
		}),
		"a file renamed": changed(func(c *bundle.Files) {
			c.Config[filepath.Join(root, "config", "zz-settings.hcl")] = c.Config[settings]
			delete(c.Config, settings)
		}),
		"data added": changed(func(c *bundle.Files) { c.Data = map[string]any{"tollgate": map[string]any{"x": true}} }),
	}
	for name, v := range variants {
		if _, other := write(v); other == revision {
			t.Errorf("%s: the revision did not change", name)
		}
	}
}

// TestWriteRefuses: Write never produces a bundle Read would refuse.
func TestWriteRefuses(t *testing.T) {
	tests := []struct {
		name string
		src  bundle.Files
		want string
	}{
		{name: "no declarations", src: bundle.Files{Policies: map[string][]byte{"t.rego": []byte(goodPolicy)}}, want: "no HCL"},
		{name: "no policies", src: bundle.Files{Config: map[string][]byte{"a.hcl": []byte(goodHCL)}}, want: "no Rego"},
		{name: "two files one name", src: bundle.Files{
			Config:   map[string][]byte{"x/a.hcl": []byte(goodHCL), "y/a.hcl": []byte(goodHCL)},
			Policies: map[string][]byte{"t.rego": []byte(goodPolicy)}}, want: "would both be config/a.hcl"},
		{name: "an oversize file", src: bundle.Files{
			Config:   map[string][]byte{"a.hcl": bytes.Repeat([]byte("#"), bundle.MaxFileBytes+1)},
			Policies: map[string][]byte{"t.rego": []byte(goodPolicy)}}, want: "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := bundle.Write(&bytes.Buffer{}, tt.src)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestReadDirsData(t *testing.T) {
	root := repotest.Path(t)
	config, policies := filepath.Join(root, "config"), filepath.Join(root, "policies")
	tests := []struct {
		body string
		want string
	}{
		{body: `[1, 2]`, want: "must be a JSON object"},
		{body: `null`, want: "must be a JSON object"},
		{body: `{"a": `, want: "must be a JSON object"},
	}
	for _, tt := range tests {
		if _, err := bundle.ReadDirs(config, policies, writeTemp(t, "data.json", tt.body)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("data %s: %v", tt.body, err)
		}
	}
	src, err := bundle.ReadDirs(config, policies, writeTemp(t, "data.json", `{"n": 10000000000000000000001}`))
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := json.Marshal(src.Data["n"]); string(n) != "10000000000000000000001" {
		t.Errorf("a big number became %s", n)
	}
}
