package hclconf_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/engine/hclconf"
)

// deep is how deeply the hostile cases nest: the review's reproduction
// (a 120 KB value nested 60,000 deep) overflowed the parser's stack.
const deep = 60000

// nest wraps inner in n pairs of open and close.
func nest(n int, open, inner, close string) string {
	return strings.Repeat(open, n) + inner + strings.Repeat(close, n)
}

// inAttributes puts an expression where any value may go.
func inAttributes(expr string) string {
	return "account \"a\" {\n  attributes = { k = " + expr + " }\n}\n"
}

// TestDeepNestingIsAProblemNotACrash: nesting no person writes, in every
// form the HCL parser recurses on, is one error at FILE:LINE:COL, found
// before the parser runs, never a stack overflow. Brackets hidden in
// strings, comments or heredocs do not let nesting through.
func TestDeepNestingIsAProblemNotACrash(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string // the position of the problem
	}{
		{name: "lists", src: inAttributes(nest(deep, "[", "1", "]")), want: "deep.hcl:2:"},
		{name: "objects", src: inAttributes(nest(deep, "{a=", "1", "}")), want: "deep.hcl:2:"},
		{name: "parentheses", src: inAttributes(nest(deep, "(", "1", ")")), want: "deep.hcl:2:"},
		{name: "function calls", src: inAttributes(nest(deep, "f(", "1", ")")), want: "deep.hcl:2:"},
		{name: "indexes", src: inAttributes("x" + nest(deep, "[x", "", "]")), want: "deep.hcl:2:"},
		{name: "blocks", src: nest(deep, "a {\n", "", "}\n"), want: "deep.hcl:65:3"},
		{name: "unclosed lists", src: inAttributes(strings.Repeat("[", deep)), want: "deep.hcl:2:"},
		{name: "negations", src: inAttributes(strings.Repeat("!", deep) + "true"), want: "deep.hcl:2:"},
		{name: "minus signs", src: inAttributes(strings.Repeat("-", deep) + "1"), want: "deep.hcl:2:"},
		{name: "conditionals", src: inAttributes(strings.Repeat("true ? 1 : ", deep) + "1"), want: "deep.hcl:2:"},
		{name: "binary operators", src: inAttributes("1" + strings.Repeat("+1", deep)), want: "deep.hcl:2:"},
		{name: "interpolations", src: inAttributes(nest(deep, `"${`, "1", `}"`)), want: "deep.hcl:2:"},
		{name: "template directives", src: inAttributes(`"` + strings.Repeat("%{if true}", deep) + `"`), want: "deep.hcl:2:"},
		{name: "heredocs in interpolations", src: inAttributes(nest(deep, "<<EOT\n${", "1", "}\nEOT\n")), want: "deep.hcl:"},
		{name: "closers in strings", src: inAttributes(nest(deep, `["]]]",`, "1", "]")), want: "deep.hcl:2:"},
		{name: "closers in comments", src: inAttributes(nest(deep, "[ # ]]]\n", "1", "]")), want: "deep.hcl:"},
		{name: "closers in block comments", src: inAttributes(nest(deep, "[ /* ]]] */", "1", "]")), want: "deep.hcl:2:"},
		{name: "closers in heredocs", src: inAttributes(nest(deep, "[<<EOT\n]]]\nEOT\n,", "1", "]")), want: "deep.hcl:"},
		{name: "closers after escaped quotes", src: inAttributes(nest(deep, `["\"]]]",`, "1", "]")), want: "deep.hcl:2:"},
		{name: "negations across lines in a list", src: inAttributes("[" + strings.Repeat("!\n", deep) + "true]"), want: "deep.hcl:"},
		{name: "negations across lines in a for expression", src: inAttributes("{for k, v in {}: k => " + strings.Repeat("!\n", deep) + "v}"), want: "deep.hcl:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string][]byte{"deep.hcl": []byte(tt.src)}
			start := time.Now()
			cfg, diags := hclconf.Load(files)
			if cfg != nil || !diags.HasErrors() {
				t.Fatalf("accepted: %v", diags)
			}
			var out bytes.Buffer
			if err := hclconf.WriteDiagnostics(&out, diags, files, false); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(out.String(), tt.want) || !strings.Contains(out.String(), "Nested too deeply") || len(diags) != 1 {
				t.Errorf("want one %q problem at %s, got:\n%.2000s", "Nested too deeply", tt.want, out.String())
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("took %v", took)
			}
		})
	}
}

// TestOrdinaryNestingStillLoads: what people write loads: brackets and
// quotes inside strings, heredocs and comments, escapes, template
// escapes, negative numbers, and nesting a good deal deeper than any
// declaration needs.
func TestOrdinaryNestingStillLoads(t *testing.T) {
	brackets := strings.Repeat("([{", 100)
	tests := []struct {
		name string
		expr string
	}{
		{name: "brackets in a string", expr: `"` + brackets + `"`},
		{name: "closers in a string", expr: `"` + strings.Repeat(")]}", 100) + `"`},
		{name: "escaped quotes", expr: `"\"` + brackets + `\""`},
		{name: "template escapes", expr: `"` + strings.Repeat("$${ %%{ ", 100) + `"`},
		{name: "brackets in a heredoc", expr: "<<EOT\n" + brackets + "\nEOT\n"},
		{name: "an indented heredoc", expr: "<<-EOT\n  " + brackets + "\n  EOT\n"},
		{name: "brackets in comments", expr: "[ # " + brackets + "\n 1, // " + brackets + "\n /* " + brackets + " */ 2]"},
		{name: "negative numbers on many lines", expr: "{\n" + strings.Repeat("n = -1\n", 1) + strings.Repeat("m = [-1, -2, -3]\n", 1) + "}"},
		{name: "many negative numbers in a list", expr: "[" + strings.Repeat("-1, ", 200) + "-1]"},
		{name: "nesting 30 deep", expr: nest(30, "[", `{ a = "x" }`, "]")},
		{name: "a JWK-like JSON string", expr: `"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\"}"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := inAttributes(tt.expr)
			if strings.Contains(tt.expr, "\n") {
				// Heredocs and line comments need the value on lines of its own.
				src = "account \"a\" {\n  attributes = { k = " + tt.expr + "\n}\n}\n"
			}
			cfg, diags := hclconf.Load(map[string][]byte{"ok.hcl": []byte(src)})
			if diags.HasErrors() || cfg == nil {
				t.Fatalf("refused:\n%s\n%v", src, diags)
			}
		})
	}
}

// TestOversizeIsAProblem: a value over MaxValueBytes and a file over
// MaxFileBytes are errors at their position, not values kept whole.
func TestOversizeIsAProblem(t *testing.T) {
	big := strings.Repeat("x", hclconf.MaxValueBytes)
	tests := []struct {
		name    string
		src     string
		want    string
		summary string
	}{
		{name: "a string value", src: "client \"c\" {\n  name = \"" + big + "\"\n}\n", want: "big.hcl:2:10", summary: "Value too large"},
		{name: "an object value", src: "account \"a\" {\n  attributes = { k = \"" + big + "\" }\n}\n", want: "big.hcl:2:16", summary: "Value too large"},
		{name: "a heredoc value", src: "client \"c\" {\n  name = <<EOT\n" + big + "\nEOT\n}\n", want: "big.hcl:2:10", summary: "Value too large"},
		{name: "a file", src: strings.Repeat("#", hclconf.MaxFileBytes+1), want: "big.hcl:1:1", summary: "File too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string][]byte{"big.hcl": []byte(tt.src)}
			cfg, diags := hclconf.Load(files)
			if cfg != nil {
				t.Fatal("accepted")
			}
			var out bytes.Buffer
			if err := hclconf.WriteDiagnostics(&out, diags, files, false); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), tt.want+": error: "+tt.summary) {
				t.Errorf("want %s: error: %s, got:\n%.500s", tt.want, tt.summary, out.String())
			}
			if out.Len() > 2000 {
				t.Errorf("the report quotes the value: %d bytes", out.Len())
			}
		})
	}
	// Just under the bound is fine.
	ok := "client \"c\" {\n  name = \"" + big[:hclconf.MaxValueBytes-2] + "\"\n  secret { hash = \"sha256:9c281c8c1d19f574f380ba544638fbfa2ade4eb5fbeb0445f2766e247a3e45d5\" }\n}\n"
	if _, diags := hclconf.Load(map[string][]byte{"ok.hcl": []byte(ok)}); diags.HasErrors() {
		t.Errorf("a value of MaxValueBytes: %v", diags)
	}
}
