package hclconf

import (
	"bytes"
	"fmt"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Bounds on a declaration file, checked before it is parsed. The files
// are untrusted input (SPEC §3): hcl/v2's parser recurses once or more
// per level of nesting with no limit of its own, and a stack overflow is
// a fatal error in Go, not a panic that could be recovered, so a file
// nested some tens of thousands deep would end the process at every
// (re)load. Declarations are literals a few levels deep; these bounds
// are far above what any of them needs.
const (
	// MaxNesting bounds how deeply a file nests: each open brace, bracket,
	// parenthesis, string, heredoc, interpolation or template directive
	// counts one, and so does each operator of an expression (the parser
	// recurses on unary operators and conditionals too).
	MaxNesting = 64
	// MaxValueBytes bounds the source of one attribute's value.
	MaxValueBytes = 64 << 10
	// MaxFileBytes bounds one file.
	MaxFileBytes = 32 << 20
)

// checkBounds reports the first way src exceeds the bounds above, before
// anything parses it.
func checkBounds(name string, src []byte) *hcl.Diagnostic {
	if len(src) > MaxFileBytes {
		return errorAt(hcl.Range{Filename: name, Start: hcl.InitialPos, End: hcl.InitialPos}, "File too large",
			fmt.Sprintf("a declaration file may hold at most %d MiB; split it into several files.", MaxFileBytes>>20))
	}
	n := nesting{limit: MaxNesting}
	off, ok := scanNesting(src, &n)
	if !ok {
		// The quick scan gave up on something rare; the lexer reads it all.
		n = nesting{limit: MaxNesting}
		off = lexNesting(name, src, &n)
	}
	if off < 0 {
		return nil
	}
	pos := positionOf(src, off)
	return errorAt(hcl.Range{Filename: name, Start: pos, End: pos}, "Nested too deeply",
		fmt.Sprintf("this goes more than %d levels deep (brackets, braces, strings, interpolations and operators inside one another); declarations are literals a few levels deep.", MaxNesting))
}

// positionOf is the line and column of byte off in src, counting columns
// in characters as HCL's diagnostics do for ordinary text.
func positionOf(src []byte, off int) hcl.Pos {
	lineStart := bytes.LastIndexByte(src[:off], '\n') + 1
	return hcl.Pos{
		Line:   bytes.Count(src[:off], []byte{'\n'}) + 1,
		Column: utf8.RuneCount(src[lineStart:off]) + 1,
		Byte:   off,
	}
}

// frameKind is what opened a level of nesting.
type frameKind uint8

const (
	frameFile frameKind = iota
	frameBrace
	frameBrack
	frameParen
	frameInterp // ${ or %{ in a template, up to its }
	frameQuote
	frameHeredoc
)

// frame is one open level. ops counts the operators seen in it since the
// last point where the parser must have returned from every one of them:
// a comma in a bracket, a newline where newlines end an expression.
type frame struct {
	kind frameKind
	ops  int
	// maybeFor marks a brace that may open a for expression, where
	// newlines do not end expressions.
	maybeFor bool
}

// nesting measures how deeply the parser would recurse, from a stream of
// events that both scanners (scanNesting, lexNesting) produce. It is an
// upper bound: a closer that does not match the innermost level closes
// nothing, and from then on (the file is broken anyway) no operator count
// is forgotten.
type nesting struct {
	limit  int     // the bound: MaxNesting
	frames []frame // innermost last, once the first event came
	depth  int     // open levels plus the operators counted in them
	broken bool
	over   int // 1 + the offset where the depth first exceeded limit
	// trace, when set, records every event, for tests.
	trace *[]event
}

// event is one thing a scanner told a nesting, for tests.
type event struct {
	what     string // "open", "close", "op", "comma" or "newline"
	kind     frameKind
	off      int
	maybeFor bool
}

func (n *nesting) init() {
	if n.frames == nil {
		n.frames = make([]frame, 1, MaxNesting+2)
	}
}

func (n *nesting) exceeded() bool { return n.depth > n.limit }

func (n *nesting) record(e event) {
	if n.trace != nil {
		*n.trace = append(*n.trace, e)
	}
}

func (n *nesting) grow(off int) {
	if n.depth++; n.depth > n.limit && n.over == 0 {
		n.over = off + 1
	}
}

// result is the offset of the first byte past the bound, or -1.
func (n *nesting) result() int { return n.over - 1 }

func (n *nesting) open(kind frameKind, off int, maybeFor bool) {
	n.init()
	n.record(event{what: "open", kind: kind, off: off, maybeFor: maybeFor})
	n.frames = append(n.frames, frame{kind: kind, maybeFor: maybeFor})
	n.grow(off)
}

func (n *nesting) close(kind frameKind, off int) {
	n.init()
	n.record(event{what: "close", kind: kind, off: off})
	top := &n.frames[len(n.frames)-1]
	if len(n.frames) == 1 || top.kind != kind {
		n.broken = true
		return
	}
	n.depth -= 1 + top.ops
	n.frames = n.frames[:len(n.frames)-1]
}

func (n *nesting) op(off int) {
	n.init()
	n.record(event{what: "op", off: off})
	n.frames[len(n.frames)-1].ops++
	n.grow(off)
}

// comma ends every expression of a list, call or object item.
func (n *nesting) comma(off int) {
	n.init()
	n.record(event{what: "comma", off: off})
	if top := &n.frames[len(n.frames)-1]; !n.broken && top.kind <= frameParen {
		n.forget(top)
	}
}

// newline ends every expression of a body or an object, not those in
// brackets, parentheses, interpolations or for expressions.
func (n *nesting) newline(off int) {
	n.init()
	n.record(event{what: "newline", off: off})
	if top := &n.frames[len(n.frames)-1]; !n.broken && (top.kind == frameFile || top.kind == frameBrace && !top.maybeFor) {
		n.forget(top)
	}
}

func (n *nesting) forget(f *frame) {
	n.depth -= f.ops
	f.ops = 0
}

// lexNesting feeds n from hcl/v2's own lexer, which is iterative: the
// slow, exact path for files the quick scan does not follow.
func lexNesting(name string, src []byte, n *nesting) int {
	tokens, _ := hclsyntax.LexConfig(src, name, hcl.InitialPos)
	for i := 0; i < len(tokens) && !n.exceeded(); i++ {
		feedToken(n, tokens, i)
	}
	return n.result()
}

// feedToken gives n the event of tokens[i], if it is one.
func feedToken(n *nesting, tokens hclsyntax.Tokens, i int) {
	tok := tokens[i]
	off := tok.Range.Start.Byte
	switch tok.Type {
	case hclsyntax.TokenOBrace:
		n.open(frameBrace, off, nextIsFor(tokens[i+1:]))
	case hclsyntax.TokenCBrace:
		n.close(frameBrace, off)
	case hclsyntax.TokenOBrack:
		n.open(frameBrack, off, false)
	case hclsyntax.TokenCBrack:
		n.close(frameBrack, off)
	case hclsyntax.TokenOParen:
		n.open(frameParen, off, false)
	case hclsyntax.TokenCParen:
		n.close(frameParen, off)
	case hclsyntax.TokenOQuote:
		n.open(frameQuote, off, false)
	case hclsyntax.TokenCQuote:
		n.close(frameQuote, off)
	case hclsyntax.TokenOHeredoc:
		n.open(frameHeredoc, off, false)
	case hclsyntax.TokenCHeredoc:
		n.close(frameHeredoc, off)
	case hclsyntax.TokenTemplateControl:
		n.op(off)
		n.open(frameInterp, off, false)
	case hclsyntax.TokenTemplateInterp:
		n.open(frameInterp, off, false)
	case hclsyntax.TokenTemplateSeqEnd:
		n.close(frameInterp, off)
	case hclsyntax.TokenComma:
		n.comma(off)
	case hclsyntax.TokenNewline:
		n.newline(off)
	case hclsyntax.TokenComment:
		if bytes.HasSuffix(tok.Bytes, []byte("\n")) {
			n.newline(off)
		}
	case hclsyntax.TokenBang, hclsyntax.TokenMinus, hclsyntax.TokenPlus, hclsyntax.TokenStar, hclsyntax.TokenSlash,
		hclsyntax.TokenPercent, hclsyntax.TokenEqualOp, hclsyntax.TokenNotEqual, hclsyntax.TokenLessThan,
		hclsyntax.TokenGreaterThan, hclsyntax.TokenLessThanEq, hclsyntax.TokenGreaterThanEq, hclsyntax.TokenAnd,
		hclsyntax.TokenOr, hclsyntax.TokenQuestion:
		n.op(off)
	}
}

// nextIsFor reports whether the first token that is not a newline or a
// comment is the keyword for, as the parser looks for it after a brace.
func nextIsFor(afterBrace hclsyntax.Tokens) bool {
	for _, tok := range afterBrace {
		switch tok.Type {
		case hclsyntax.TokenNewline, hclsyntax.TokenComment:
			continue
		}
		return tok.Type == hclsyntax.TokenIdent && string(tok.Bytes) == "for"
	}
	return false
}
