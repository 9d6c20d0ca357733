package access

import (
	"bytes"
	"strings"
	"testing"
)

// hostile is a client id a pull request may declare: ids are any printable
// text, and the plan of that pull request is posted where reviewers read it.
const hostile = "x|<img src=https://evil.example/a.png>`](https://evil.example)\"]\n```"

// TestMarkdownAndMermaidKeepDeclarationsAsText: no declared name becomes
// markup in the Markdown a pull request shows: no table cell, HTML, link
// or end of the Mermaid fence.
func TestMarkdownAndMermaidKeepDeclarationsAsText(t *testing.T) {
	entry := Entry{Client: hostile, Server: "ledger-api", Audience: "ledger-api", Scope: []string{"read"}, Subject: hostile, TTL: 60, Via: []string{"its own access"}}
	var out bytes.Buffer
	if err := WritePlan(&out, &Plan{Added: []Entry{entry}, Removed: []Entry{}, Changed: []Change{}}, "markdown"); err != nil {
		t.Fatal(err)
	}
	md := out.String()
	if strings.Count(md, "```") != 2 {
		t.Fatalf("the Mermaid fence is broken:\n%s", md)
	}
	_, picture, _ := strings.Cut(md, "```mermaid\n")
	picture, table, _ := strings.Cut(picture, "```")
	for _, line := range strings.Split(strings.TrimSpace(picture), "\n") {
		// A quoted label holds no quote of its own.
		if _, label, ok := strings.Cut(line, `["`); ok && strings.Count(label, `"`) != 1 {
			t.Errorf("a Mermaid label leaks: %s", line)
		}
	}
	for _, raw := range []string{"<img", "](https", "x|", "`"} {
		if strings.Contains(strings.ReplaceAll(table, `\`+raw[:1], ""), raw) {
			t.Errorf("the table holds %q unescaped:\n%s", raw, table)
		}
	}
	for _, line := range strings.Split(table, "\n") {
		if strings.HasPrefix(line, "| **+**") && strings.Count(line, "|")-strings.Count(line, `\|`) != 8 {
			t.Errorf("a row with other than 7 cells: %s", line)
		}
	}
	out.Reset()
	if err := WriteTable(&out, &Table{Entries: []Entry{entry}}, "dot"); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), `"]`+"\n") || strings.Count(out.String(), "\n") != 7 {
		t.Errorf("dot:\n%s", out.String())
	}
}

func TestTTLText(t *testing.T) {
	for seconds, want := range map[int64]string{0: "0s", 45: "45s", 90: "1m30s", 900: "15m", 3600: "1h", 5400: "1h30m", 3601: "1h0m1s", 86400: "24h"} {
		if got := ttlText(seconds); got != want {
			t.Errorf("ttlText(%d) = %q, want %q", seconds, got, want)
		}
	}
}
