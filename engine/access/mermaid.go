package access

import (
	"fmt"
	"io"
	"strings"
)

// graph is a Mermaid flowchart of clients and servers, built edge by edge.
type graph struct {
	nodes   map[string]string // "client x" or "server y" -> node id
	lines   []string
	styles  []string
	edges   int
	dropped int
}

// maxEdges bounds a picture: past it, an arrow adds nothing a reader can
// follow, and a pull-request comment has a size limit.
const maxEdges = 100

func newGraph() *graph { return &graph{nodes: map[string]string{}} }

func (g *graph) node(kind, id string) string {
	name := kind + " " + id
	if n, ok := g.nodes[name]; ok {
		return n
	}
	n := fmt.Sprintf("%c%d", kind[0], len(g.nodes))
	g.nodes[name] = n
	shape := `%s["%s"]`
	if kind == "server" {
		shape = `%s[("%s")]`
	}
	g.lines = append(g.lines, "  "+fmt.Sprintf(shape, n, mermaidText(id)))
	return n
}

// edge adds an arrow from a client to a server; style is "" for a plain
// arrow, or added, removed or changed.
func (g *graph) edge(client, server, label, style string) {
	if g.edges == maxEdges {
		g.dropped++
		return
	}
	from, to := g.node("client", client), g.node("server", server)
	arrow := "-->"
	switch style {
	case "removed":
		arrow = "-.->"
		g.styles = append(g.styles, fmt.Sprintf("  linkStyle %d stroke:#cf222e,color:#cf222e", g.edges))
	case "added":
		g.styles = append(g.styles, fmt.Sprintf("  linkStyle %d stroke:#1a7f37,stroke-width:2px,color:#1a7f37", g.edges))
	case "changed":
		arrow = "==>"
		g.styles = append(g.styles, fmt.Sprintf("  linkStyle %d stroke:#9a6700,color:#9a6700", g.edges))
	}
	g.lines = append(g.lines, fmt.Sprintf(`  %s %s|"%s"| %s`, from, arrow, mermaidText(label), to))
	g.edges++
}

func (g *graph) mermaid(w io.Writer) {
	fmt.Fprintln(w, "flowchart LR")
	for _, l := range g.lines {
		fmt.Fprintln(w, l)
	}
	for _, s := range g.styles {
		fmt.Fprintln(w, s)
	}
	if g.dropped > 0 {
		fmt.Fprintf(w, "  more[\"… and %d more not drawn\"]\n", g.dropped)
	}
}

// mermaidText escapes text for a quoted Mermaid label: quotes, HTML and
// backticks (which would also end a Markdown code fence) become entity
// codes, so a declaration's id cannot break out of its label.
func mermaidText(s string) string {
	r := strings.NewReplacer(`#`, "#35;", `"`, "#quot;", `<`, "#lt;", `>`, "#gt;", "`", "#96;", "\n", " ", "\r", " ")
	return r.Replace(s)
}
