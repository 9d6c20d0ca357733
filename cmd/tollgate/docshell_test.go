package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// This file is TestDocumentedCommandsParse's shell: it reads a documented
// shell script far enough to find the tollgate command lines in it.

var (
	// heredocDelim is a here-document's operator and its delimiter word.
	heredocDelim = regexp.MustCompile(`^<<-?[ \t]*[^ \t\n;|&<>]*`)
	assignment   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)
	// leaders are words that run the rest of the line as a command.
	leaders = map[string]bool{"if": true, "then": true, "else": true, "elif": true, "do": true, "while": true, "until": true, "!": true, "time": true, "exec": true}
)

// shellWord is a word of a shell line and the line of the file it is on.
type shellWord struct {
	text string
	line int
}

// shellCommands are the tollgate invocations of a shell script whose first
// line is line of file: it splits the script into simple commands as sh
// would (quotes, \ continuations, comments, pipes and lists, redirections,
// here-documents, $(...) substitutions, each a script of its own) and
// keeps those that run tollgate, after any NAME=value prefixes.
func shellCommands(t *testing.T, file string, line int, script string) []docCommand {
	t.Helper()
	var cmds []docCommand
	var words []shellWord
	var cur strings.Builder
	inWord, redirect := false, false
	type heredoc struct {
		delim  string
		quoted bool
	}
	var pending []heredoc
	endWord := func() {
		if inWord && !redirect {
			words = append(words, shellWord{cur.String(), line})
		}
		if inWord {
			redirect = false
		}
		cur.Reset()
		inWord = false
	}
	endCommand := func() {
		endWord()
		cmds = append(cmds, tollgateCommand(t, file, words)...)
		words = nil
	}
	// substitution reads the $( ... ) at s[i:] and returns the index after it.
	substitution := func(s string, i int) int {
		depth, quote := 0, byte(0)
		for j := i + 1; j < len(s); j++ {
			switch c := s[j]; {
			case quote != 0:
				if c == quote {
					quote = 0
				}
			case c == '\'' || c == '"':
				quote = c
			case c == '(':
				depth++
			case c == ')':
				if depth--; depth == 0 {
					cmds = append(cmds, shellCommands(t, file, line, s[i+2:j])...)
					line += strings.Count(s[i:j], "\n")
					return j + 1
				}
			}
		}
		t.Fatalf("%s:%d: a $( that never closes", file, line)
		return len(s)
	}
	s := script
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			if s[i+1] == '\n' {
				line++
			} else {
				cur.WriteByte(s[i+1])
				inWord = true
			}
			i += 2
		case c == '\n':
			endCommand()
			line++
			i++
			for _, h := range pending {
				for i < len(s) {
					end := strings.IndexByte(s[i:], '\n')
					if end < 0 {
						end = len(s) - i
					}
					body := s[i : i+end]
					i += end + 1
					if strings.TrimSpace(body) == h.delim {
						line++
						break
					}
					for k := strings.Index(body, "$("); !h.quoted && k >= 0; k = strings.Index(body, "$(") {
						body = body[substitution(body, k):]
					}
					line++
				}
			}
			pending = nil
		case c == ' ' || c == '\t':
			endWord()
			i++
		case c == '#' && !inWord:
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				t.Fatalf("%s:%d: a ' that never closes", file, line)
			}
			cur.WriteString(s[i+1 : i+1+end])
			line += strings.Count(s[i+1:i+1+end], "\n")
			inWord, i = true, i+end+2
		case c == '"':
			inWord = true
			for i++; i < len(s) && s[i] != '"'; {
				switch {
				case s[i] == '\\' && i+1 < len(s):
					cur.WriteByte(s[i+1])
					i += 2
				case strings.HasPrefix(s[i:], "$("):
					i = substitution(s, i)
					cur.WriteString("$(...)")
				default:
					if s[i] == '\n' {
						line++
					}
					cur.WriteByte(s[i])
					i++
				}
			}
			if i >= len(s) {
				t.Fatalf("%s:%d: a \" that never closes", file, line)
			}
			i++
		case strings.HasPrefix(s[i:], "$("):
			i = substitution(s, i)
			cur.WriteString("$(...)")
			inWord = true
		case c == '|' || c == '&' || c == ';' || c == '(' || c == ')':
			endCommand()
			i++
		case strings.HasPrefix(s[i:], "<<"):
			endWord()
			delim := heredocDelim.FindString(s[i:])
			word := strings.TrimLeft(delim, "<- \t")
			pending = append(pending, heredoc{strings.Trim(word, `'"`), strings.ContainsAny(word, `'"`)})
			i += len(delim)
		case c == '>' || c == '<':
			if inWord && strings.Trim(cur.String(), "0123456789") == "" {
				cur.Reset()
				inWord = false
			}
			endWord()
			for i < len(s) && strings.ContainsRune("<>&", rune(s[i])) {
				i++
			}
			redirect = true
		default:
			if c == '`' {
				t.Errorf("%s:%d: a `...` substitution: write it $(...), which this test reads", file, line)
			}
			cur.WriteByte(c)
			inWord = true
			i++
		}
	}
	endCommand()
	return cmds
}

// tollgateCommand is the tollgate invocation of one simple command, if it
// is one: tollgate itself, or the tollgate image under docker or podman
// run. A command that names tollgate in any other place fails the test,
// rather than going unchecked.
func tollgateCommand(t *testing.T, file string, words []shellWord) []docCommand {
	t.Helper()
	for len(words) > 0 && (assignment.MatchString(words[0].text) || leaders[words[0].text]) {
		words = words[1:]
	}
	if len(words) == 0 {
		return nil
	}
	texts := make([]string, len(words))
	for i, w := range words {
		texts[i] = w.text
	}
	at := func(i int) []docCommand {
		return []docCommand{{fmt.Sprintf("%s:%d", file, words[i].line), texts[i+1:], false}}
	}
	if isToll(texts[0]) {
		return at(0)
	}
	switch texts[0] {
	case "docker", "podman":
		if len(texts) > 1 && texts[1] == "run" {
			for i := 2; i < len(texts); i++ {
				if isTollImage(texts[i]) && !strings.HasPrefix(texts[i], "-") {
					return at(i)
				}
			}
		}
		return nil
	case "kubectl":
		return nil
	}
	for i, w := range texts[1:] {
		if isToll(w) {
			t.Errorf("%s:%d: %q runs tollgate in a way this test cannot read; write it so it can", file, words[i+1].line, strings.Join(texts, " "))
		}
	}
	return nil
}
