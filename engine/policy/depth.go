package policy

import (
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
)

// MaxTermDepth bounds how deeply the terms of a policy nest (calls,
// operators, collections, comprehensions inside one another). Policies
// are untrusted input, as bundles are (SPEC §3): OPA's parser stops far
// deeper, but its compiler takes time that grows with the square of the
// depth, so a policy a few hundred kilobytes long would hold a (re)load
// for hours. Policies people write nest a few levels deep.
const MaxTermDepth = 100

// tooDeep reports the first term of m that nests deeper than
// MaxTermDepth, at its position in file.
func tooDeep(file string, m *ast.Module) *Problem {
	var found *ast.Term
	depth := 0
	ast.NewBeforeAfterVisitor(func(x any) bool {
		if found != nil {
			return true
		}
		t, ok := x.(*ast.Term)
		if !ok {
			return false
		}
		if depth++; depth > MaxTermDepth {
			found = t
			return true
		}
		return false
	}, func(x any) {
		if _, ok := x.(*ast.Term); ok {
			depth--
		}
	}).Walk(m)
	if found == nil {
		return nil
	}
	p := Problem{File: file, Line: 1, Col: 1,
		Message: fmt.Sprintf("nested too deeply: terms inside one another more than %d levels deep", MaxTermDepth)}
	if loc := found.Location; loc != nil {
		p.Line, p.Col = max(loc.Row, 1), max(loc.Col, 1)
	}
	return &p
}
