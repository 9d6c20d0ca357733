package hclconf

import (
	"testing"
	"time"
)

// TestCacheReparsesOnlyChangedFiles: unchanged files keep their parsed
// blocks, a changed file is parsed again, a removed file leaves the cache,
// and the cache does not depend on the slices given to Load. The pace
// function is called between two parses, and LastParsed counts the bytes
// parsed.
func TestCacheReparsesOnlyChangedFiles(t *testing.T) {
	a := []byte(`server "s" { scopes = ["read"] }`)
	b := []byte(`client "c" {
  secret { hash = "sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881" }
  access "s" { scopes = ["read"] }
}`)
	c := NewCache()
	var paced int
	load := func(files map[string][]byte) {
		t.Helper()
		paced = 0
		pace := func(took time.Duration) {
			if took <= 0 {
				t.Errorf("pace got %v, want the last parse's duration", took)
			}
			paced++
		}
		if _, diags := c.LoadYielding(files, pace); diags.HasErrors() {
			t.Fatal(diags)
		}
	}
	load(map[string][]byte{"a.hcl": a, "b.hcl": b})
	if paced != 1 || c.LastParsedBytes() != len(a)+len(b) {
		t.Errorf("first load: %d paces between 2 parses, %d bytes parsed, want 1 and %d", paced, c.LastParsedBytes(), len(a)+len(b))
	}
	first := map[string]*parsedFile{"a.hcl": c.files["a.hcl"], "b.hcl": c.files["b.hcl"]}

	load(map[string][]byte{"a.hcl": a, "b.hcl": b})
	if c.files["a.hcl"] != first["a.hcl"] || c.files["b.hcl"] != first["b.hcl"] || c.LastParsedBytes() != 0 {
		t.Errorf("unchanged files were parsed again (%d bytes)", c.LastParsedBytes())
	}

	edited := append([]byte(nil), b...)
	edited = append(edited, "\n# edited\n"...)
	load(map[string][]byte{"a.hcl": a, "b.hcl": edited})
	if c.files["a.hcl"] != first["a.hcl"] {
		t.Error("an unchanged file was parsed again")
	}
	if c.files["b.hcl"] == first["b.hcl"] || c.LastParsedBytes() != len(edited) || paced != 0 {
		t.Errorf("a changed file was not parsed again, alone (%d bytes, %d paces)", c.LastParsedBytes(), paced)
	}

	again := c.files["b.hcl"]
	kept := append([]byte(nil), edited...)
	edited[0] = 'X' // the caller reuses its buffer
	load(map[string][]byte{"a.hcl": a, "b.hcl": kept})
	if c.files["b.hcl"] != again {
		t.Error("the cache depends on the caller's buffer")
	}

	load(map[string][]byte{"a.hcl": a})
	if _, ok := c.files["b.hcl"]; ok || len(c.files) != 1 {
		t.Errorf("a removed file stayed cached: %v", c.files)
	}
}
