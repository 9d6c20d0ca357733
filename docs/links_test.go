package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// TestRelativeLinksResolve checks that every relative link of the README,
// CONTRIBUTING.md, ARCHITECTURE.md, deploy/README.md and docs/**/*.md
// names a file or folder that exists and, for an anchor into a Markdown
// file, a heading of that file.
func TestRelativeLinksResolve(t *testing.T) {
	pages := []string{"README.md", "CONTRIBUTING.md", "ARCHITECTURE.md", "deploy/README.md"}
	err := filepath.WalkDir(filepath.Join(repoRoot, "docs"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".md") {
			rel, _ := filepath.Rel(repoRoot, path)
			pages = append(pages, rel)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	links := 0
	for _, page := range pages {
		text, err := os.ReadFile(filepath.Join(repoRoot, page))
		if err != nil {
			t.Fatal(err)
		}
		for _, target := range relativeLinks(string(text)) {
			links++
			file, anchor, _ := strings.Cut(target, "#")
			resolved := page // a bare #anchor is into the page itself
			if file != "" {
				resolved = filepath.Join(filepath.Dir(page), file)
			}
			body, err := os.ReadFile(filepath.Join(repoRoot, resolved))
			info, statErr := os.Stat(filepath.Join(repoRoot, resolved))
			switch {
			case statErr != nil:
				t.Errorf("%s: link to %s: %s does not exist", page, target, resolved)
				continue
			case anchor == "" || info.IsDir() || !strings.HasSuffix(resolved, ".md"):
				continue
			case err != nil:
				t.Fatal(err)
			}
			if !headingAnchors(string(body))[anchor] {
				t.Errorf("%s: link to %s: %s has no heading with anchor #%s", page, target, resolved, anchor)
			}
		}
	}
	if links == 0 {
		t.Fatal("no relative links found: the pattern is broken")
	}
}

var (
	inlineLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	codeSpan   = regexp.MustCompile("`[^`]*`")
	hasScheme  = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
)

// relativeLinks are the targets of the inline links of markdown text that
// are neither absolute URLs nor inside code.
func relativeLinks(text string) []string {
	var links []string
	for _, line := range outsideFences(text) {
		for _, m := range inlineLink.FindAllStringSubmatch(codeSpan.ReplaceAllString(line, ""), -1) {
			if !hasScheme.MatchString(m[1]) {
				links = append(links, m[1])
			}
		}
	}
	return links
}

// headingAnchors are the anchors GitHub gives the headings of markdown
// text: lower case, punctuation but - and _ dropped, spaces as dashes,
// -1, -2, ... after a repeat.
func headingAnchors(text string) map[string]bool {
	anchors := map[string]bool{}
	seen := map[string]int{}
	for _, line := range outsideFences(text) {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		title := strings.TrimSpace(strings.TrimLeft(line, "#"))
		var b strings.Builder
		for _, r := range strings.ToLower(title) {
			switch {
			case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
				b.WriteRune(r)
			case r == ' ':
				b.WriteRune('-')
			}
		}
		slug := b.String()
		if n := seen[slug]; n > 0 {
			anchors[slug+"-"+strconv.Itoa(n)] = true
		} else {
			anchors[slug] = true
		}
		seen[slug]++
	}
	return anchors
}

// outsideFences are the lines of markdown text outside fenced code blocks.
func outsideFences(text string) []string {
	var lines []string
	fenced := false
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if !fenced {
			lines = append(lines, line)
		}
	}
	return lines
}
