package access

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// TableFormats are the formats WriteTable knows.
var TableFormats = []string{"text", "json", "markdown", "mermaid", "dot"}

// WriteTable writes t in format: an aligned text table, JSON
// ({"entries": [...]}), a Markdown table, or a picture of who reaches
// what, in Mermaid (GitHub and GitLab render it in pull requests) or
// Graphviz dot. The pictures leave out the tokens clients get for
// themselves, which link nothing.
func WriteTable(w io.Writer, t *Table, format string) error {
	bw := bufio.NewWriter(w)
	var err error
	switch format {
	case "text":
		err = tableText(bw, t)
	case "json":
		err = writeJSON(bw, t)
	case "markdown":
		tableMarkdown(bw, t)
	case "mermaid":
		tableMermaid(bw, t)
	case "dot":
		tableDot(bw, t)
	default:
		return fmt.Errorf("unknown format %q: want one of %s", format, strings.Join(TableFormats, ", "))
	}
	if err != nil {
		return err
	}
	return bw.Flush()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func tableText(w io.Writer, t *Table) error {
	if len(t.Entries) == 0 {
		_, err := fmt.Fprintln(w, "No client can get a token.")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT\tSERVER\tAUDIENCE\tSCOPE\tSUBJECT\tACT\tTTL\tVIA")
	for _, e := range t.Entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Client, serverName(e), e.Audience,
			orDash(strings.Join(e.Scope, " ")), e.Subject, orDash(actorOf(e)), ttlText(e.TTL), strings.Join(e.Via, ", "))
	}
	return tw.Flush()
}

func tableMarkdown(w io.Writer, t *Table) {
	if len(t.Entries) == 0 {
		fmt.Fprintln(w, "No client can get a token.")
		return
	}
	fmt.Fprintln(w, "| client | server | audience | scope | subject | act | ttl | via |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for _, e := range t.Entries {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", md(e.Client), md(serverName(e)), md(e.Audience),
			md(orDash(strings.Join(e.Scope, " "))), md(e.Subject), md(orDash(actorOf(e))), ttlText(e.TTL), md(strings.Join(e.Via, ", ")))
	}
}

func tableMermaid(w io.Writer, t *Table) {
	g := newGraph()
	for _, e := range t.Entries {
		if e.Server != "" {
			g.edge(e.Client, e.Server, grantLabel(e), "")
		}
	}
	g.mermaid(w)
}

func tableDot(w io.Writer, t *Table) {
	fmt.Fprintln(w, "digraph access {")
	fmt.Fprintln(w, "  rankdir=LR;")
	fmt.Fprintln(w, "  node [shape=box];")
	clients, servers := map[string]bool{}, map[string]bool{}
	for _, e := range t.Entries {
		if e.Server == "" {
			continue
		}
		if !clients[e.Client] {
			clients[e.Client] = true
			fmt.Fprintf(w, "  %s [label=%s, shape=ellipse];\n", dotQuote("client "+e.Client), dotQuote(e.Client))
		}
		if !servers[e.Server] {
			servers[e.Server] = true
			fmt.Fprintf(w, "  %s [label=%s];\n", dotQuote("server "+e.Server), dotQuote(e.Server))
		}
		fmt.Fprintf(w, "  %s -> %s [label=%s];\n", dotQuote("client "+e.Client), dotQuote("server "+e.Server), dotQuote(grantLabel(e)))
	}
	fmt.Fprintln(w, "}")
}

// grantLabel says on a picture's arrow what the token holds: its scopes,
// and the account the client acts as.
func grantLabel(e Entry) string {
	label := orNone(strings.Join(e.Scope, " "))
	if a := actorOf(e); a != "" {
		label = "as " + e.Subject + ": " + label
	}
	return label
}

func serverName(e Entry) string {
	if e.Server == "" {
		return "(itself)"
	}
	return e.Server
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "(no scope)"
	}
	return s
}

// ttlText writes seconds as a short duration: 1h, 15m, 1h30m, 45s.
func ttlText(seconds int64) string {
	d := time.Duration(seconds) * time.Second
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// md escapes text for a Markdown table cell. The text comes from the
// declarations of the change under review, so none of it may become
// markup (a link, an image, HTML, a fake heading or table cell) in the
// comment a reviewer reads: every character with a meaning there is
// escaped with a backslash, which GFM allows before any ASCII punctuation.
func md(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			b.WriteByte(' ')
		case strings.ContainsRune("\\`*_{}[]<>()#|~&!", r):
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// dotQuote is a Graphviz quoted string.
func dotQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", " ", "\r", " ")
	return `"` + r.Replace(s) + `"`
}
