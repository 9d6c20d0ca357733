package hclconf

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// traces runs both scanners over src with no bound and returns what each
// told its nesting; scanned is false when the quick scan gave up. On
// some broken UTF-8 the lexer itself gives up, making the rest of the
// file one invalid token, so the parser reads nothing past it: the quick
// scan's events from there on are left out.
func traces(src []byte) (quick, exact []event, scanned bool) {
	q := nesting{limit: 1 << 30, trace: &quick}
	_, scanned = scanNesting(src, &q)
	e := nesting{limit: 1 << 30, trace: &exact}
	lexNesting("fuzz.hcl", src, &e)
	tokens, _ := hclsyntax.LexConfig(src, "fuzz.hcl", hcl.InitialPos)
	if len(tokens) >= 2 {
		last := tokens[len(tokens)-2]
		if last.Type == hclsyntax.TokenInvalid && last.Range.End.Byte == len(src) {
			for i, quickEvent := range quick {
				if quickEvent.off >= last.Range.Start.Byte {
					quick = quick[:i]
					break
				}
			}
		}
	}
	return quick, exact, scanned
}

// sameStructure reports how the quick scan's events differ from the
// lexer's, or "": the same opens, closes, commas and newlines at the same
// offsets, at least as many operators between two of them (the quick
// scan does not read non-ASCII identifiers, so it may count a dash in
// one), and a brace that may open a for expression wherever one does.
func sameStructure(quick, exact []event) string {
	i, j := 0, 0
	for {
		qOps, eOps := 0, 0
		for i < len(quick) && quick[i].what == "op" {
			qOps, i = qOps+1, i+1
		}
		for j < len(exact) && exact[j].what == "op" {
			eOps, j = eOps+1, j+1
		}
		if qOps < eOps {
			return fmt.Sprintf("%d operators before event %d, the lexer has %d", qOps, i, eOps)
		}
		if i == len(quick) || j == len(exact) {
			if i != len(quick) || j != len(exact) {
				return fmt.Sprintf("%d events, the lexer gives %d", len(quick), len(exact))
			}
			return ""
		}
		q, e := quick[i], exact[j]
		if q.what != e.what || q.kind != e.kind || q.off != e.off || (e.maybeFor && !q.maybeFor) {
			return fmt.Sprintf("event %d is %+v, the lexer's is %+v", i, q, e)
		}
		i, j = i+1, j+1
	}
}

// pieces are what the inputs of the scanner tests are made of: every
// character and sequence the lexer treats specially.
var pieces = []string{
	"{", "}", "[", "]", "(", ")", `"`, `\`, `\"`, "$", "%", "${", "%{", "$${", "%%{", "${~", "~}", "~",
	"#", "//", "/*", "*/", "/", "*", "\n", "\r\n", "\r", ",", "!", "-", "+", "?", ":", "=", "==", "!=", "<", "<=", "&&", "||", "&",
	"<<EOT\n", "<<-EOT\n", "<<EOT\r\n", "<<EOT", "<<", "EOT\n", "  EOT\n", "EOT", "\tEOT \n", "<<A-\n", "A-\n",
	"for", "for ", "a", "x-y", "1", "1.5", "1e-5", "1.", "1..", ".", "...", " ", "\t",
	"é", "\u00a0", "\xff", "\xef\xbb\xbf", "\x00", "\v",
}

func randomSource(r *rand.Rand) string {
	var b strings.Builder
	for range r.IntN(40) {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

// TestNestingScanAgreesWithTheLexer: on many random inputs made of the
// characters that matter, the quick scan sees the structure the lexer
// sees, or gives up.
func TestNestingScanAgreesWithTheLexer(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	scanned := 0
	const inputs = 5000
	for range inputs {
		src := randomSource(r)
		quick, exact, ok := traces([]byte(src))
		if !ok {
			continue
		}
		scanned++
		if diff := sameStructure(quick, exact); diff != "" {
			t.Fatalf("%q: %s\nquick: %+v\nlexer: %+v", src, diff, quick, exact)
		}
	}
	if scanned < inputs/4 {
		t.Errorf("the quick scan gave up on %d inputs of %d", inputs-scanned, inputs)
	}
}

// FuzzNestingScan: whatever the input, the quick scan sees the structure
// the lexer sees, or gives up.
func FuzzNestingScan(f *testing.F) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 50 {
		f.Add([]byte(randomSource(r)))
	}
	f.Add([]byte("a = <<EOT\n${\"}\"}\n  EOT\nb = \"$${x}\" # }\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		quick, exact, ok := traces(src)
		if !ok {
			return
		}
		if diff := sameStructure(quick, exact); diff != "" {
			t.Fatalf("%q: %s\nquick: %+v\nlexer: %+v", src, diff, quick, exact)
		}
	})
}

// BenchmarkNestingCheck compares, side by side, the hand-written scan that
// bounds nesting before a file is parsed with the library's way of doing
// the same (hclsyntax's lexer, then counting its tokens), and with the
// parse that either one precedes: the scan stays only while it is a small
// part of the parse and the lexer is not.
func BenchmarkNestingCheck(b *testing.B) {
	var src strings.Builder
	for c := range 100 {
		fmt.Fprintf(&src, "client \"client-%04d\" {\n  name = \"Bench client %d\"\n  secret { hash = \"sha256:%064x\" }\n", c, c, c)
		fmt.Fprintf(&src, "  access \"server-001\" { scopes = [\"read\"] }\n  access \"server-%03d\" { scopes = [\"read\", \"write\"] }\n}\n\n", c%99+2)
	}
	file := []byte(src.String())
	b.Run("scanner", func(b *testing.B) {
		b.SetBytes(int64(len(file)))
		for b.Loop() {
			n := nesting{limit: MaxNesting}
			if _, ok := scanNesting(file, &n); !ok {
				b.Fatal("the scan gave up on plain declarations")
			}
		}
	})
	b.Run("lexer", func(b *testing.B) {
		b.SetBytes(int64(len(file)))
		for b.Loop() {
			n := nesting{limit: MaxNesting}
			lexNesting("bench.hcl", file, &n)
		}
	})
	b.Run("parse", func(b *testing.B) {
		b.SetBytes(int64(len(file)))
		for b.Loop() {
			if _, diags := hclsyntax.ParseConfig(file, "bench.hcl", hcl.InitialPos); diags.HasErrors() {
				b.Fatal(diags)
			}
		}
	})
}
