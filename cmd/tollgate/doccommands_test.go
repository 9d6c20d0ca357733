package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestDocumentedCommandsParse finds every tollgate command line of the
// documentation (fenced shell blocks, console prompts, CI snippets, inline
// code, and the deploy manifests' container arguments) and has cobra
// itself parse it: the subcommand exists and runs, every flag is one it
// defines, every flag that takes a value has one. The commands do not run:
// docs/ runs those it can; this keeps the rest from naming a flag that is
// gone or never was.
func TestDocumentedCommandsParse(t *testing.T) {
	var cmds []docCommand
	for _, file := range documentationFiles(t) {
		body, err := os.ReadFile(filepath.Join(repoRoot, file))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(file, ".md") {
			cmds = append(cmds, markdownCommands(t, file, string(body))...)
		} else {
			cmds = append(cmds, manifestCommands(t, file, body)...)
		}
	}
	if len(cmds) < 40 {
		t.Fatalf("found %d documented tollgate command lines, want at least 40: the extractor lost them", len(cmds))
	}
	for _, c := range cmds {
		check := parseLikeCobra
		if c.synopsis {
			check = synopsisFlagsExist
		}
		if err := check(c.args); err != nil {
			t.Errorf("%s: tollgate %s: %v", c.where, strings.Join(c.args, " "), err)
		}
	}
	t.Logf("checked %d documented tollgate command lines", len(cmds))
}

// docCommand is one invocation of tollgate the documentation shows: its
// arguments (after the program name) and where it is, as file:line.
// A synopsis (`tollgate token [--issuer URL] ...`) is no command line; of
// it only the subcommand and the flags it names are checked.
type docCommand struct {
	where    string
	args     []string
	synopsis bool
}

// documentationFiles are the files a user reads commands from, relative to
// the repository root: the markdown, and the deploy manifests.
func documentationFiles(t *testing.T) []string {
	t.Helper()
	files := []string{"README.md", "CONTRIBUTING.md", "ARCHITECTURE.md"}
	for _, dir := range []string{"docs", "deploy"} {
		err := filepath.WalkDir(filepath.Join(repoRoot, dir), func(path string, d os.DirEntry, err error) error {
			if ext := filepath.Ext(path); err == nil && (ext == ".md" || ext == ".yaml" || ext == ".yml") {
				files = append(files, strings.TrimPrefix(filepath.ToSlash(path), repoRoot+"/"))
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return files
}

// parseLikeCobra does what Execute does before RunE: find the subcommand,
// parse its flags, validate its positional arguments. It also refuses a
// flag whose value is the next flag, which pflag would take as the value.
func parseLikeCobra(args []string) error {
	root := newRootCommand(func(string) string { return "" }, strings.NewReader(""), io.Discard, io.Discard)
	cmd, rest, err := root.Find(args)
	if err != nil {
		return err
	}
	cmd.InitDefaultHelpFlag()
	if err := cmd.ParseFlags(rest); err != nil {
		return fmt.Errorf("%s: %w", cmd.CommandPath(), err)
	}
	for i, a := range rest[:max(len(rest)-1, 0)] {
		name, ok := strings.CutPrefix(a, "--")
		if f := cmd.Flags().Lookup(name); ok && f != nil && f.NoOptDefVal == "" && strings.HasPrefix(rest[i+1], "-") && rest[i+1] != "-" {
			return fmt.Errorf("%s: flag --%s takes a value, given the flag %s", cmd.CommandPath(), name, rest[i+1])
		}
	}
	switch positional := cmd.Flags().Args(); {
	case !cmd.Runnable() && len(positional) > 0:
		return fmt.Errorf("%s has no subcommand %q", cmd.CommandPath(), positional[0])
	case !cmd.Runnable():
		return fmt.Errorf("%s does not run on its own; its subcommands do", cmd.CommandPath())
	}
	if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
		return fmt.Errorf("%s: %w", cmd.CommandPath(), err)
	}
	return nil
}

// synopsisFlagsExist checks a synopsis: its leading lowercase words name
// a subcommand, and every --flag or -f it shows is one that subcommand has.
func synopsisFlagsExist(words []string) error {
	path := words
	for i, w := range words {
		if !lowerWord.MatchString(w) {
			path = words[:i]
			break
		}
	}
	root := newRootCommand(func(string) string { return "" }, strings.NewReader(""), io.Discard, io.Discard)
	cmd, rest, err := root.Find(path)
	if err == nil && len(rest) > 0 {
		err = fmt.Errorf("%s has no subcommand %q", cmd.CommandPath(), rest[0])
	}
	if err != nil {
		return err
	}
	cmd.InitDefaultHelpFlag()
	if err := cmd.ParseFlags(nil); err != nil {
		return err
	}
	for _, w := range words[len(path):] {
		for _, alt := range strings.Split(w, "|") {
			name, _, _ := strings.Cut(strings.TrimRight(alt, ",.)"), "=")
			if long, ok := strings.CutPrefix(name, "--"); ok && cmd.Flags().Lookup(long) == nil ||
				!ok && len(name) == 2 && name[0] == '-' && cmd.Flags().ShorthandLookup(name[1:]) == nil {
				return fmt.Errorf("%s has no flag %s", cmd.CommandPath(), name)
			}
		}
	}
	return nil
}

var (
	fenceLine  = regexp.MustCompile("^\\s*```\\s*(\\S*)")
	inlineCode = regexp.MustCompile("`([^`]+)`")
	// synopsis marks an inline span that shows a command's shape, not a
	// command: optional parts, alternatives, placeholders for subcommands.
	synopsis = regexp.MustCompile(`[\[\]|]|\.\.\.|…|\bCOMMAND\b`)
	// ciScript is a YAML line of a CI snippet that runs a shell line.
	ciScript  = regexp.MustCompile(`^\s*(?:-\s+)?(?:run:\s+)?(.*)$`)
	lowerWord = regexp.MustCompile(`^[a-z]+$`)
)

// markdownCommands extracts the tollgate command lines of a markdown file:
// sh/bash/shell blocks whole, the `$ ` lines of console and unlabeled
// blocks, the shell lines of yaml blocks, and inline code outside blocks.
func markdownCommands(t *testing.T, file, body string) []docCommand {
	t.Helper()
	var cmds []docCommand
	lines := strings.Split(body, "\n")
	inBlock, lang, start, carry, spanLine := false, "", 0, "", 0
	var block []string
	for i, line := range lines {
		if m := fenceLine.FindStringSubmatch(line); m != nil {
			if !inBlock {
				inBlock, lang, start, block = true, m[1], i+2, nil
				continue
			}
			if m[1] == "" {
				inBlock = false
				cmds = append(cmds, blockCommands(t, file, lang, start, block)...)
				continue
			}
		}
		if inBlock {
			block = append(block, line)
			continue
		}
		// A code span may wrap onto the next line of its paragraph.
		text := carry + line
		if strings.Count(text, "`")%2 == 1 && strings.TrimSpace(line) != "" {
			if carry == "" {
				spanLine = i + 1
			}
			carry = text + " "
			continue
		}
		if carry == "" {
			spanLine = i + 1
		}
		carry = ""
		for _, m := range inlineCode.FindAllStringSubmatch(text, -1) {
			span := m[1]
			switch {
			case !strings.HasPrefix(span, "tollgate ") && !strings.HasPrefix(span, "./bin/tollgate "):
			case synopsis.MatchString(span):
				words := strings.Fields(strings.NewReplacer("[", " ", "]", " ").Replace(span))
				cmds = append(cmds, docCommand{fmt.Sprintf("%s:%d", file, spanLine), words[1:], true})
			default:
				cmds = append(cmds, shellCommands(t, file, spanLine, span)...)
			}
		}
	}
	if inBlock {
		t.Fatalf("%s:%d: a fenced block that never closes", file, start-1)
	}
	return cmds
}

// blockCommands extracts the command lines of one fenced block whose first
// line is line start of file: the shell script it is, or holds (lines of
// other blocks blanked, so that each keeps its line number).
func blockCommands(t *testing.T, file, lang string, start int, block []string) []docCommand {
	t.Helper()
	script := make([]string, len(block))
	for i, line := range block {
		switch lang {
		case "sh", "bash", "shell":
			script[i] = line
		case "console", "":
			cmd, ok := strings.CutPrefix(strings.TrimSpace(line), "$ ")
			if ok || i > 0 && strings.HasSuffix(script[i-1], "\\") {
				script[i] = cmd
			} else if f := strings.Fields(line); len(f) > 0 && isToll(f[0]) {
				t.Errorf("%s:%d: a tollgate command without its `$ ` prompt in a ```%s block", file, start+i, lang)
			}
		case "yaml", "yml":
			run := ciScript.FindStringSubmatch(line)[1]
			if f := strings.Fields(run); len(f) > 0 && isToll(f[0]) {
				script[i] = run
			}
		}
	}
	return shellCommands(t, file, start, strings.Join(script, "\n"))
}

// manifestCommands are the container arguments of the deploy manifests
// that run the tollgate image: command (compose) or args (Kubernetes).
func manifestCommands(t *testing.T, file string, body []byte) []docCommand {
	t.Helper()
	var cmds []docCommand
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			var image string
			var argv *yaml.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				switch key, val := n.Content[i].Value, n.Content[i+1]; {
				case key == "image":
					image = val.Value
				case key == "command" || key == "args":
					argv = val
				}
			}
			switch {
			case argv == nil || !isTollImage(image):
			case argv.Kind == yaml.ScalarNode:
				cmds = append(cmds, shellCommands(t, file, argv.Line, "tollgate "+argv.Value)...)
			default:
				var args []string
				for _, a := range argv.Content {
					args = append(args, a.Value)
				}
				cmds = append(cmds, docCommand{fmt.Sprintf("%s:%d", file, argv.Line), args, false})
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	dec := yaml.NewDecoder(strings.NewReader(string(body)))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err == io.EOF {
			return cmds
		} else if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		walk(&doc)
	}
}

// isToll reports whether word runs the tollgate binary.
func isToll(word string) bool {
	return word == "tollgate" || strings.HasSuffix(word, "/tollgate") && !strings.Contains(word, "cmd/")
}

// isTollImage reports whether a container image reference is tollgate's.
func isTollImage(ref string) bool {
	name, _, _ := strings.Cut(ref[strings.LastIndex(ref, "/")+1:], ":")
	return name == "tollgate"
}
