package hclconf_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/tollgate-dev/tollgate/engine/hclconf"
	"github.com/tollgate-dev/tollgate/engine/model"
	"github.com/tollgate-dev/tollgate/engine/repotest"
	"github.com/tollgate-dev/tollgate/engine/secret"
)

// readFixture reads a fixture folder with names as seen from the
// repository root, so goldens read like `tollgate check` output there.
func readFixture(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join("..", "..", dir))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".hcl") {
			src, err := os.ReadFile(filepath.Join("..", "..", dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			files[dir+"/"+e.Name()] = src
		}
	}
	return files
}

// TestBrokenFixturesReportEveryProblem: each folder under
// testdata/hcl/broken breaks one load rule (multiple-errors-at-once breaks
// several); the diagnostics, with file:line:col, are golden.
func TestBrokenFixturesReportEveryProblem(t *testing.T) {
	dirs, err := os.ReadDir("../../testdata/hcl/broken")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		t.Run(d.Name(), func(t *testing.T) {
			dir := "testdata/hcl/broken/" + d.Name()
			files := readFixture(t, dir)
			cfg, diags := hclconf.Load(files)
			warningOnly := strings.HasSuffix(d.Name(), "-warning-only")
			if warningOnly == diags.HasErrors() || (cfg == nil) != diags.HasErrors() {
				t.Fatalf("errors %v, config %v: %v", diags.HasErrors(), cfg != nil, diags)
			}
			var out bytes.Buffer
			if err := hclconf.WriteDiagnostics(&out, diags, files, false); err != nil {
				t.Fatal(err)
			}
			repotest.Golden(t, filepath.Join("..", "..", dir, "expected.golden"), out.Bytes())
		})
	}
}

func TestWriteDiagnosticsWithSnippets(t *testing.T) {
	files := readFixture(t, "testdata/hcl/broken/unknown-attribute")
	_, diags := hclconf.Load(files)
	var out bytes.Buffer
	if err := hclconf.WriteDiagnostics(&out, diags, files, true); err != nil {
		t.Fatal(err)
	}
	want := "testdata/hcl/broken/unknown-attribute/main.hcl:3:3: error: Unsupported argument; An argument named \"acess_level\" is not expected here.\n" +
		"      acess_level = \"admin\"\n" +
		"      ^\n"
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}

// TestGoodFixtureBuildsTheModel: every block and attribute, as the model
// sees it, is golden.
func TestGoodFixtureBuildsTheModel(t *testing.T) {
	files := readFixture(t, "testdata/hcl/good")
	cfg, diags := hclconf.Load(files)
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	got, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	repotest.Golden(t, "../../testdata/hcl/good.golden.json", append(got, '\n'))
}

func FuzzLoad(f *testing.F) {
	for _, seed := range []string{
		`client "a" { secret { hash = "sha256:00" } }`,
		`server "s" { scopes = ["a"] } group "g" { members = ["x"] access "s" { scopes = ["a"] } }`,
		`settings { issuer = "https://x" }`,
		`account "a" { attributes = { k = [1, true, { n = null }] } }`,
		// Nesting no person writes (see TestDeepNestingIsAProblemNotACrash).
		inAttributes(nest(deep, "[", "1", "]")),
		inAttributes(nest(deep, `"${`, "1", `}"`)),
		inAttributes(nest(deep, "<<EOT\n${", "1", "}\nEOT\n")),
		inAttributes(strings.Repeat("!", deep) + "true"),
		nest(hclconf.MaxNesting+1, "a {\n", "", "}\n"),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		cfg, diags := hclconf.Load(map[string][]byte{"fuzz.hcl": src})
		if (cfg == nil) != diags.HasErrors() {
			t.Fatalf("config %v with errors %v", cfg != nil, diags.HasErrors())
		}
	})
}

// generated is a realistic configuration of n clients for benchmarks.
func generated(n int) map[string][]byte {
	var b strings.Builder
	hash := secret.SHA256Hash("bench")
	for s := range 100 {
		fmt.Fprintf(&b, "server \"server-%03d\" {\n  audience = \"https://api-%03d.example\"\n  scopes = [\"read\", \"write\"]\n}\n", s, s)
	}
	for c := range n {
		fmt.Fprintf(&b, "client \"client-%05d\" {\n  name = \"Client %d\"\n  secret { hash = %q }\n  access \"server-%03d\" { scopes = [\"read\"] }\n", c, c, hash, c%100)
		if c%10 == 0 {
			fmt.Fprintf(&b, "  impersonate = \"account-%05d\"\n", c)
		}
		b.WriteString("}\n")
		if c%10 == 0 {
			fmt.Fprintf(&b, "account \"account-%05d\" {\n  impersonators = [\"client-%05d\"]\n}\n", c, c)
		}
	}
	for g := range 20 {
		fmt.Fprintf(&b, "group \"group-%02d\" {\n  members = [\"client-%05d\", \"account-%05d\"]\n  access \"server-%03d\" { scopes = [\"write\"] }\n}\n", g, g%n, (g*10)%n, g)
	}
	return map[string][]byte{"bench.hcl": []byte(b.String())}
}

func benchmarkLoad(b *testing.B, n int) {
	files := generated(n)
	b.ReportAllocs()
	for b.Loop() {
		if _, diags := hclconf.Load(files); diags.HasErrors() {
			b.Fatal(diags)
		}
	}
}

func BenchmarkLoad100(b *testing.B)   { benchmarkLoad(b, 100) }
func BenchmarkLoad10000(b *testing.B) { benchmarkLoad(b, 10000) }

// TestCacheLoadsLikeAColdLoad: a load through a Cache that holds other
// files, the same files, or some of them gives exactly what a load from
// nothing gives: the same model and the same diagnostics, in order. The
// fixtures go through one cache in turn, each twice (the second time every
// file is reused), then the good one again.
func TestCacheLoadsLikeAColdLoad(t *testing.T) {
	dirs := []string{"testdata/hcl/good"}
	broken, err := os.ReadDir("../../testdata/hcl/broken")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range broken {
		dirs = append(dirs, "testdata/hcl/broken/"+d.Name())
	}
	dirs = append(dirs, "testdata/hcl/good")
	cache := hclconf.NewCache()
	for _, dir := range dirs {
		files := readFixture(t, dir)
		want := loadReport(t, files, hclconf.Load)
		for round := range 2 {
			if got := loadReport(t, files, cache.Load); got != want {
				t.Errorf("%s, cached load %d:\n%s\nwant (cold load):\n%s", dir, round+1, got, want)
			}
		}
	}
}

// TestYieldingLoadLoadsLikeAParallelOne: a load that does not yield parses
// its files in parallel, one that yields (a reload under traffic) one at
// a time; both give the same model and the same diagnostics, in order.
func TestYieldingLoadLoadsLikeAParallelOne(t *testing.T) {
	dirs := []string{"testdata/hcl/good"}
	broken, err := os.ReadDir("../../testdata/hcl/broken")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range broken {
		dirs = append(dirs, "testdata/hcl/broken/"+d.Name())
	}
	yielding := func(files map[string][]byte) (*model.Config, hcl.Diagnostics) {
		return hclconf.NewCache().LoadYielding(files, func(time.Duration) {})
	}
	for _, dir := range dirs {
		files := readFixture(t, dir)
		if got, want := loadReport(t, files, yielding), loadReport(t, files, hclconf.Load); got != want {
			t.Errorf("%s, yielding:\n%s\nwant (parallel):\n%s", dir, got, want)
		}
	}
}

// TestCacheRevalidatesReusedFiles: a file reused from the cache is checked
// against the others again, so a change elsewhere that breaks it is
// reported at its own position; fixing it again loads.
func TestCacheRevalidatesReusedFiles(t *testing.T) {
	files := readFixture(t, "testdata/hcl/good")
	const servers = "testdata/hcl/good/servers.hcl"
	cache := hclconf.NewCache()
	if _, diags := cache.Load(files); diags.HasErrors() {
		t.Fatal(diags)
	}
	good := files[servers]
	files[servers] = bytes.Replace(good, []byte(`server "ledger-api"`), []byte(`server "ledger"`), 1)
	got := loadReport(t, files, cache.Load)
	if want := loadReport(t, files, hclconf.Load); got != want {
		t.Fatalf("cached:\n%s\ncold:\n%s", got, want)
	}
	if !strings.Contains(got, "testdata/hcl/good/clients.hcl:") || !strings.Contains(got, `"ledger-api"`) {
		t.Errorf("the unchanged clients.hcl should be reported for naming the removed server:\n%s", got)
	}
	files[servers] = good
	if _, diags := cache.Load(files); diags.HasErrors() {
		t.Fatal(diags)
	}
}

// loadReport is what a load gives, as text: the model as JSON, or nothing,
// and the diagnostics with snippets.
func loadReport(t *testing.T, files map[string][]byte, load func(map[string][]byte) (*model.Config, hcl.Diagnostics)) string {
	t.Helper()
	cfg, diags := load(files)
	var out bytes.Buffer
	if err := hclconf.WriteDiagnostics(&out, diags, files, true); err != nil {
		t.Fatal(err)
	}
	model, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return out.String() + string(model)
}
