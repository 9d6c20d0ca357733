package hclconf

import (
	"bytes"
	"unicode/utf8"
)

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
func mayOpenFor(afterBrace []byte) bool {
	next := bytes.TrimLeft(afterBrace, " \t\r\n")
	return bytes.HasPrefix(next, []byte("for")) || bytes.HasPrefix(next, []byte("#")) || bytes.HasPrefix(next, []byte("/"))
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
