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

// scanNesting feeds n from a quick scan of src that follows HCL's lexer
// (hclsyntax's scan_tokens.rl) exactly where it matters: code, comments,
// quoted strings and heredocs with their escapes, interpolations and
// template directives. It gives up, with ok false, on what declarations
// rarely hold: a non-ASCII byte outside strings and comments, and inside
// a heredoc a lone $ or %, a carriage return or a non-ASCII byte;
// lexNesting then reads the file. off is the result of n.
// FuzzNestingScan checks the scan against the real lexer.
func scanNesting(src []byte, n *nesting) (off int, ok bool) {
	n.init()
	i := 0
	if bytes.HasPrefix(src, []byte("\xef\xbb\xbf")) {
		i = 3 // the lexer skips a UTF-8 byte order mark
	}
	// The lexer's own state: the modes it is in (a quoted string, a
	// heredoc, or the code of an interpolation), the heredocs it is in,
	// its count of open braces, and the counts at which a } ends an
	// interpolation.
	var modes []scanMode
	var heredocs []heredoc
	braces := 0
	var retBraces []int
	// noCommentEnd is where a search for */ last failed: no later one
	// can succeed, and searching again would be quadratic.
	noCommentEnd := len(src) + 1
	beginInterp := func(c byte) {
		if c == '%' {
			n.op(i) // the template parser recurses on directives
		}
		braces++
		retBraces = append(retBraces, braces)
		if len(heredocs) > 0 {
			heredocs[len(heredocs)-1].startOfLine = false
		}
		modes = append(modes, modeCode)
		n.open(frameInterp, i, false)
		i += 2
		if i < len(src) && src[i] == '~' {
			i++
		}
	}
	for i < len(src) && !n.exceeded() {
		c := src[i]
		mode := modeCode
		if len(modes) > 0 {
			mode = modes[len(modes)-1]
		}
		switch mode {
		case modeString:
			switch {
			case c == '"':
				n.close(frameQuote, i)
				modes = modes[:len(modes)-1]
				i++
			case c == '\\' && i+1 < len(src) && src[i+1] != '\n' && src[i+1] != '\r':
				i += 2
			case (c == '$' || c == '%') && i+1 < len(src) && src[i+1] == '{':
				beginInterp(c)
			case (c == '$' || c == '%') && i+2 < len(src) && src[i+1] == c && src[i+2] == '{':
				i += 3 // $${ and %%{ are literal
			default:
				i++
			}
			continue
		case modeHeredoc:
			if (c == '$' || c == '%') && i+1 < len(src) && src[i+1] == '{' {
				beginInterp(c)
				continue
			}
			// Text up to the end of the line or an interpolation.
			j := i
			for j < len(src) && src[j] != '\n' && src[j] != '$' && src[j] != '%' && src[j] != '\r' && src[j] < utf8.RuneSelf {
				j++
			}
			h := &heredocs[len(heredocs)-1]
			switch {
			case j == len(src) || src[j] == '$' || src[j] == '%':
				if j == i || j < len(src) && (j+1 >= len(src) || src[j+1] != '{') {
					return 0, false
				}
				h.startOfLine = false
			case src[j] == '\n':
				if h.startOfLine && string(bytes.TrimSpace(src[i:j])) == h.marker {
					n.close(frameHeredoc, i)
					n.newline(j)
					heredocs = heredocs[:len(heredocs)-1]
					modes = modes[:len(modes)-1]
				} else {
					h.startOfLine = true
				}
				j++
			default:
				return 0, false
			}
			i = j
			continue
		}
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '\n':
			n.newline(i)
			i++
		case c == '\r' && i+1 < len(src) && src[i+1] == '\n':
			n.newline(i)
			i += 2
		case c == '#' || c == '/' && i+1 < len(src) && src[i+1] == '/':
			end := bytes.IndexByte(src[i:], '\n')
			if end < 0 {
				i = len(src)
				break
			}
			n.newline(i) // a line comment ends its line
			i += end + 1
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			end := -1
			if i < noCommentEnd {
				if end = bytes.Index(src[i+2:], []byte("*/")); end < 0 {
					noCommentEnd = i
				}
			}
			if end < 0 {
				// Unclosed, it is no comment: a slash, then code.
				n.op(i)
				i++
				break
			}
			i += 2 + end + 2
		case c == '"':
			modes = append(modes, modeString)
			n.open(frameQuote, i, false)
			i++
		case c == '<' && i+1 < len(src) && src[i+1] == '<':
			marker, next, ok := heredocStart(src[i:])
			if !ok {
				return 0, false
			}
			if next == 0 {
				n.op(i) // not a heredoc: a less-than sign
				i++
				break
			}
			modes = append(modes, modeHeredoc)
			heredocs = append(heredocs, heredoc{marker: marker, startOfLine: true})
			n.open(frameHeredoc, i, false)
			i += next
		case c == '{':
			braces++
			n.open(frameBrace, i, mayOpenFor(src[i+1:]))
			i++
		case c == '}' || c == '~' && i+1 < len(src) && src[i+1] == '}':
			if len(retBraces) > 0 && retBraces[len(retBraces)-1] == braces {
				n.close(frameInterp, i)
				retBraces = retBraces[:len(retBraces)-1]
				modes = modes[:len(modes)-1]
			} else if c == '~' {
				// Unbalanced, but the lexer says it ends a template
				// sequence and lets the parser complain.
				n.close(frameInterp, i)
			} else {
				n.close(frameBrace, i)
			}
			braces--
			i++
			if c == '~' {
				i++
			}
		case c == '[':
			n.open(frameBrack, i, false)
			i++
		case c == ']':
			n.close(frameBrack, i)
			i++
		case c == '(':
			n.open(frameParen, i, false)
			i++
		case c == ')':
			n.close(frameParen, i)
			i++
		case c == ',':
			n.comma(i)
			i++
		case c >= '0' && c <= '9':
			i += numberLength(src[i:])
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_':
			i++
			for i < len(src) && isIdentContinue(src[i]) {
				i++
			}
		case c >= utf8.RuneSelf:
			// Non-ASCII letters make identifiers, and the lexer's
			// identifiers take broken UTF-8 along with what follows it,
			// quotes and brackets included.
			return 0, false
		default:
			width, isOp := operatorAt(src[i:])
			if isOp {
				n.op(i)
			}
			i += width
		}
	}
	return n.result(), true
}

type scanMode uint8

const (
	modeCode scanMode = iota
	modeString
	modeHeredoc
)

// heredoc is one the scan is in: the marker that ends it, and whether
// the text so far began a line (only such a line can be the marker).
type heredoc struct {
	marker      string
	startOfLine bool
}

// heredocStart reads "<<" at the start of b as the lexer does: a heredoc
// when an identifier (after an optional "-") and a newline follow, with
// next the length of that introducer; otherwise next is 0. ok is false
// for a marker that may go on with non-ASCII letters.
func heredocStart(b []byte) (marker string, next int, ok bool) {
	i := 2
	if i < len(b) && b[i] == '-' {
		i++
	}
	start := i
	if i < len(b) && (b[i] >= 'a' && b[i] <= 'z' || b[i] >= 'A' && b[i] <= 'Z' || b[i] == '_') {
		i++
		for i < len(b) && isIdentContinue(b[i]) {
			i++
		}
	}
	if i < len(b) && b[i] >= utf8.RuneSelf {
		return "", 0, false
	}
	if i == start {
		return "", 0, true
	}
	marker = string(b[start:i])
	switch {
	case i < len(b) && b[i] == '\n':
		return marker, i + 1, true
	case i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n':
		return marker, i + 2, true
	}
	return "", 0, true
}

// operatorAt is the length of the token at the start of b, one the scan
// does not handle itself, and whether it is an operator:
// ! - + * / % == != < > <= >= && || ?.
func operatorAt(b []byte) (width int, isOp bool) {
	two := len(b) > 1
	switch c := b[0]; c {
	case '!', '<', '>':
		if two && b[1] == '=' {
			return 2, true
		}
		return 1, true
	case '=':
		if two && b[1] == '=' {
			return 2, true
		}
		if two && b[1] == '>' {
			return 2, false
		}
	case '&', '|':
		if two && b[1] == c {
			return 2, true
		}
	case '-', '+', '*', '/', '%', '?':
		return 1, true
	}
	return 1, false
}

// mayOpenFor reports whether what follows a brace could be the keyword
// of a for expression: it errs on the side of yes.
func mayOpenFor(rest []byte) bool {
	rest = bytes.TrimLeft(rest, " \t\r\n")
	return bytes.HasPrefix(rest, []byte("for")) || bytes.HasPrefix(rest, []byte("#")) || bytes.HasPrefix(rest, []byte("/"))
}

func isIdentContinue(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// numberLength is the length of the number literal at the start of b,
// as the lexer reads it: digits, dots and exponents, never ending on a
// dot.
func numberLength(b []byte) int {
	i := 1
	for i < len(b) {
		c := b[i]
		if c >= '0' && c <= '9' || c == '.' {
			i++
			continue
		}
		if c != 'e' && c != 'E' {
			break
		}
		j := i + 1
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		if j >= len(b) || b[j] < '0' || b[j] > '9' {
			break
		}
		i = j + 1
	}
	for b[i-1] == '.' {
		i--
	}
	return i
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
func nextIsFor(rest hclsyntax.Tokens) bool {
	for _, tok := range rest {
		switch tok.Type {
		case hclsyntax.TokenNewline, hclsyntax.TokenComment:
			continue
		}
		return tok.Type == hclsyntax.TokenIdent && string(tok.Bytes) == "for"
	}
	return false
}
