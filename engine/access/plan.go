package access

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"
)

// PlanFormats are the formats WritePlan knows.
var PlanFormats = []string{"text", "markdown", "json"}

// WritePlan writes p in format: text that reads like terraform plan
// (+ added, - removed, ~ changed, each with the route that grants it),
// Markdown to post on a pull request (the summary, then a Mermaid picture
// of what changed, then the details), or JSON
// ({"added": [...], "removed": [...], "changed": [{"before", "after"}]}).
func WritePlan(w io.Writer, p *Plan, format string) error {
	bw := bufio.NewWriter(w)
	switch format {
	case "text":
		planText(bw, p)
	case "markdown":
		planMarkdown(bw, p)
	case "json":
		if err := writeJSON(bw, p); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown format %q: want one of %s", format, strings.Join(PlanFormats, ", "))
	}
	return bw.Flush()
}

func (p *Plan) summary() string {
	return fmt.Sprintf("%d added, %d changed, %d removed", len(p.Added), len(p.Changed), len(p.Removed))
}

func planText(w io.Writer, p *Plan) {
	if p.Empty() {
		fmt.Fprintln(w, "No changes: every client gets exactly the tokens it got before.")
		return
	}
	fmt.Fprintln(w, "Effective access changes:")
	fmt.Fprintln(w, "  + a client can newly get this token")
	fmt.Fprintln(w, "  - a client can no longer get it")
	fmt.Fprintln(w, "  ~ a client gets it with a different grant")
	for _, s := range p.steps() {
		e := s.entry
		fmt.Fprintf(w, "\n  %c %s -> %s\n", s.kind, e.Client, serverName(e))
		field := func(name, before, after string) {
			switch {
			case s.kind != '~':
				fmt.Fprintf(w, "      %-8s = %s\n", name, after)
			case before != after:
				fmt.Fprintf(w, "      %-8s = %s -> %s\n", name, before, after)
			}
		}
		b := s.before
		field("audience", b.Audience, e.Audience)
		field("scope", scopeText(b.Scope), scopeText(e.Scope))
		field("subject", b.Subject, e.Subject)
		if actorOf(b) != "" || actorOf(e) != "" {
			field("act", orNone(actorOf(b)), orNone(actorOf(e)))
		}
		field("ttl", ttlText(b.TTL), ttlText(e.TTL))
		via := strings.Join(e.Via, ", ")
		if s.kind == '~' && !slices.Equal(b.Via, e.Via) {
			via = strings.Join(b.Via, ", ") + " -> " + via
		}
		fmt.Fprintf(w, "      %-8s = %s\n", "via", via)
	}
	fmt.Fprintf(w, "\nPlan: %s.\n", p.summary())
}

func scopeText(scope []string) string {
	if len(scope) == 0 {
		return "(no scope)"
	}
	return strings.Join(scope, " ")
}

// maxRows bounds the Markdown details: a pull-request comment has a size
// limit (65,536 characters on GitHub), and the text format lists all.
const maxRows = 200

func planMarkdown(w io.Writer, p *Plan) {
	if p.Empty() {
		fmt.Fprintln(w, "### tollgate plan: no change of access")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Every client gets exactly the tokens it got before.")
		return
	}
	fmt.Fprintf(w, "### tollgate plan: %s\n\n", p.summary())
	steps := p.steps()
	g := newGraph()
	for _, s := range steps {
		if s.entry.Server == "" {
			continue
		}
		switch s.kind {
		case '+':
			g.edge(s.entry.Client, s.entry.Server, "+ "+grantLabel(s.entry), "added")
		case '-':
			g.edge(s.entry.Client, s.entry.Server, "− "+grantLabel(s.entry), "removed")
		default:
			g.edge(s.entry.Client, s.entry.Server, "~ "+changeLabel(s.before, s.entry), "changed")
		}
	}
	if g.edges > 0 {
		fmt.Fprintln(w, "```mermaid")
		g.mermaid(w)
		fmt.Fprintln(w, "```")
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "| | client | server | scope | subject | ttl | via |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	for i, s := range steps {
		if i == maxRows {
			fmt.Fprintf(w, "\n… and %d more; `tollgate plan --format text` lists them all.\n", len(steps)-maxRows)
			break
		}
		e, b := s.entry, s.before
		kind := map[byte]string{'+': "**+** added", '-': "**−** removed", '~': "**~** changed"}[s.kind]
		cell := func(before, after string) string {
			if s.kind == '~' && before != after {
				return md(before) + " → " + md(after)
			}
			return md(after)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", kind, md(e.Client), md(serverName(e)),
			cell(scopeText(b.Scope), scopeText(e.Scope)), cell(subjectText(b), subjectText(e)),
			cell(ttlText(b.TTL), ttlText(e.TTL)), cell(strings.Join(b.Via, ", "), strings.Join(e.Via, ", ")))
	}
}

// changeLabel says on an arrow what changed in a grant.
func changeLabel(before, after Entry) string {
	var parts []string
	if !slices.Equal(before.Scope, after.Scope) {
		parts = append(parts, scopeText(before.Scope)+" → "+scopeText(after.Scope))
	}
	if subjectText(before) != subjectText(after) {
		parts = append(parts, "sub "+subjectText(before)+" → "+subjectText(after))
	}
	if before.TTL != after.TTL {
		parts = append(parts, "ttl "+ttlText(before.TTL)+" → "+ttlText(after.TTL))
	}
	if before.Audience != after.Audience {
		parts = append(parts, "aud "+before.Audience+" → "+after.Audience)
	}
	return strings.Join(parts, "; ")
}

// subjectText is the subject, with the client acting as it if any.
func subjectText(e Entry) string {
	if a := actorOf(e); a != "" {
		return e.Subject + " (act " + a + ")"
	}
	return e.Subject
}
