// Package policy compiles the Rego policies once per configuration snapshot
// and evaluates data.tollgate.token.decision for a token request's input.
// Nothing is compiled or prepared on the request path.
package policy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
)

// DecisionQuery is the rule the server evaluates for every token request.
const DecisionQuery = "data.tollgate.token.decision"

// Problem is one policy error with its position, printed as FILE:LINE:COL.
type Problem struct {
	File    string
	Line    int
	Col     int
	Message string
}

func (p Problem) String() string {
	return fmt.Sprintf("%s:%d:%d: error: %s", p.File, p.Line, p.Col, p.Message)
}

// CompileError lists every problem found while parsing and compiling.
type CompileError struct{ Problems []Problem }

func (e *CompileError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// RefusedBuiltins are the built-ins a policy may not call, each with why:
// they reach outside the server, so a decision would no longer be a pure
// function of its input and the bundle data (SPEC §4), and a token request
// could make the server call, read or reveal what its caller chooses. A
// policy that names one does not compile. The rest stay: time.now_ns,
// rand.intn and uuid.rfc4122 only make the decisions uncacheable; print and
// trace do nothing without a hook, which the server never sets (they help
// under opa test).
var RefusedBuiltins = map[string]string{
	"http.send":          "it calls other servers",
	"net.lookup_ip_addr": "it queries DNS",
	"opa.runtime":        "it reads the server's environment and configuration",
	// A schema's $ref is followed: file:// reads a local file, http(s)
	// fetches a URL.
	"json.match_schema":  "a schema's $ref may read a local file or fetch a URL",
	"json.verify_schema": "a schema's $ref may read a local file or fetch a URL",
}

// capabilities are this OPA's, less RefusedBuiltins and any network access.
var capabilities = sync.OnceValue(func() *ast.Capabilities {
	caps := ast.CapabilitiesForThisVersion()
	kept := caps.Builtins[:0]
	for _, b := range caps.Builtins {
		if _, refused := RefusedBuiltins[b.Name]; !refused {
			kept = append(kept, b)
		}
	}
	caps.Builtins = kept
	// No host at all, for whatever else might look at allow_net.
	caps.AllowNet = []string{}
	return caps
})

// Policy is a compiled, prepared policy set. It is immutable and safe for
// concurrent use.
type Policy struct {
	query rego.PreparedEvalQuery
	store storage.Store
	// deterministic reports that a decision depends only on the request's
	// client, audiences, scopes and auth method, so it may be cached.
	deterministic bool
	// decisionAt says where the decision's rules are, FILE:LINE:COL, for
	// the errors of a decision that is undefined or malformed.
	decisionAt string
	// decisionRule is the decision's first rule that is not its default,
	// the one place Locate gives a decision that is undefined or malformed.
	decisionRule *ast.Location
	// sources and data are what it was compiled from, to tell whether a
	// reload may keep it (SameSources).
	sources map[string][]byte
	data    map[string]any
}

// ReadDir reads the *.rego files of dir, skipping *_test.rego, for Compile.
func ReadDir(dir string) (map[string][]byte, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("policies: %w", err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".rego") || strings.HasSuffix(name, "_test.rego") {
			continue
		}
		path := filepath.Join(dir, name)
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("policies: %w", err)
		}
		files[path] = src
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("policies: no .rego files in %s", dir)
	}
	return files, nil
}

// Compile parses modules (file name -> Rego v1 source) and prepares the
// decision query. data is optional bundle data the policies may read.
func Compile(ctx context.Context, modules map[string][]byte, data map[string]any) (*Policy, error) {
	names := make([]string, 0, len(modules))
	for name := range modules {
		names = append(names, name)
	}
	sort.Strings(names)

	var problems []Problem
	parsed := make(map[string]*ast.Module, len(modules))
	for _, name := range names {
		m, err := ast.ParseModuleWithOpts(name, string(modules[name]), ast.ParserOptions{RegoVersion: ast.RegoV1, Capabilities: capabilities()})
		if err != nil {
			problems = append(problems, problemsOf(name, err)...)
			continue
		}
		if p := tooDeep(name, m); p != nil {
			problems = append(problems, *p)
			continue
		}
		parsed[name] = m
	}
	if len(problems) > 0 {
		return nil, &CompileError{Problems: problems}
	}
	compiler := ast.NewCompiler().WithDefaultRegoVersion(ast.RegoV1).WithCapabilities(capabilities())
	if compiler.Compile(parsed); compiler.Failed() {
		return nil, &CompileError{Problems: problemsOf("", compiler.Errors)}
	}
	decisionAt := decisionRules(compiler)
	if decisionAt == "" {
		return nil, &CompileError{Problems: []Problem{{File: firstOr(names, "policies"), Line: 1, Col: 1,
			Message: "no rule defines " + DecisionQuery + " (package tollgate.token, rule decision)"}}}
	}

	if data == nil {
		data = map[string]any{}
	}
	store := inmem.NewFromObject(data)
	query, err := rego.New(
		rego.Query(DecisionQuery),
		rego.Compiler(compiler),
		rego.Capabilities(capabilities()),
		rego.Store(store),
		// A built-in that fails (to_number("abc"), a division by zero)
		// fails the whole evaluation, which denies. Without this it would
		// only make its expression undefined, and "not blocked" true.
		rego.StrictBuiltinErrors(true),
	).PrepareForEval(ctx)
	if err != nil {
		return nil, &CompileError{Problems: problemsOf("", err)}
	}
	return &Policy{query: query, store: store, deterministic: isDeterministic(compiler),
		decisionAt: decisionAt, decisionRule: decisionLocation(compiler), sources: maps.Clone(modules), data: data}, nil
}

// SameSources reports whether modules and data are exactly what p was
// compiled from, so that compiling them again would give the same policy:
// a reload that changed only declarations keeps the compiled policy.
func (p *Policy) SameSources(modules map[string][]byte, data map[string]any) bool {
	if len(modules) != len(p.sources) {
		return false
	}
	for name, src := range modules {
		if old, ok := p.sources[name]; !ok || !bytes.Equal(old, src) {
			return false
		}
	}
	if data == nil {
		data = map[string]any{}
	}
	return reflect.DeepEqual(data, p.data)
}

func firstOr(names []string, fallback string) string {
	if len(names) > 0 {
		return names[0]
	}
	return fallback
}

// decisionRules lists where the decision's rules are, FILE:LINE:COL, the
// first few of them; empty when there is none.
func decisionRules(c *ast.Compiler) string {
	const shown = 3
	rules := c.GetRulesExact(ast.MustParseRef(DecisionQuery))
	at := make([]string, 0, min(len(rules), shown)+1)
	for i, r := range rules {
		if i == shown {
			at = append(at, "...")
			break
		}
		if loc := r.Location; loc != nil {
			at = append(at, fmt.Sprintf("%s:%d:%d", loc.File, loc.Row, loc.Col))
		}
	}
	if len(rules) > 0 && len(at) == 0 {
		return "?"
	}
	return strings.Join(at, ", ")
}

func problemsOf(file string, err error) []Problem {
	var astErrs ast.Errors
	if errors.As(err, &astErrs) {
		out := make([]Problem, 0, len(astErrs))
		for _, e := range astErrs {
			p := Problem{File: file, Line: 1, Col: 1, Message: e.Message}
			if e.Location != nil {
				if e.Location.File != "" {
					p.File = e.Location.File
				}
				p.Line, p.Col = max(e.Location.Row, 1), max(e.Location.Col, 1)
			}
			p.Message = explainRefused(p.Message)
			out = append(out, p)
		}
		return out
	}
	return []Problem{{File: file, Line: 1, Col: 1, Message: err.Error()}}
}

// explainRefused turns the compiler's "undefined function" for a refused
// built-in into why it is refused.
func explainRefused(message string) string {
	name, ok := strings.CutPrefix(message, "undefined function ")
	if !ok {
		return message
	}
	if why, refused := RefusedBuiltins[name]; refused {
		return fmt.Sprintf("%s is not allowed in a policy: %s (a decision depends only on its input and the bundle data)", name, why)
	}
	return message
}

// Deterministic reports whether the policy's decision depends only on the
// request's client, audiences, scopes and auth method, and on the snapshot:
// no input.request.time, no non-deterministic built-in (time.now_ns,
// http.send, rand.intn, ...). Only then may decisions be cached.
func (p *Policy) Deterministic() bool { return p.deterministic }

// isDeterministic inspects the compiled policy conservatively: any way of
// reading the request time, or the whole request or input by a variable
// key, counts as reading it.
func isDeterministic(c *ast.Compiler) bool {
	deterministic := true
	for _, m := range c.Modules {
		ast.WalkExprs(m, func(e *ast.Expr) bool {
			if !e.IsCall() {
				return false
			}
			if op := e.Operator(); op != nil {
				if b, ok := ast.BuiltinMap[op.String()]; ok && b.IsNondeterministic() {
					deterministic = false
				}
			}
			return false
		})
		var visit func(t *ast.Term) bool
		visit = func(t *ast.Term) bool {
			switch v := t.Value.(type) {
			case ast.Ref:
				if v.HasPrefix(ast.InputRootRef) && readsRequestTime(v) {
					deterministic = false
				}
				// The head is the root document; keys may hold refs of their own.
				for _, key := range v[1:] {
					ast.WalkTerms(key, visit)
				}
				return true
			case ast.Var:
				// A bare "input" hands the whole input on, time included.
				if v.Equal(ast.InputRootDocument.Value) {
					deterministic = false
				}
			}
			return false
		}
		ast.WalkTerms(m, visit)
	}
	return deterministic
}

func readsRequestTime(r ast.Ref) bool {
	if len(r) < 2 {
		return true // input itself
	}
	key, ok := r[1].Value.(ast.String)
	if !ok {
		return true // input[x]
	}
	if key != "request" {
		return false
	}
	if len(r) < 3 {
		return true // input.request as a whole, maybe .time later
	}
	field, ok := r[2].Value.(ast.String)
	return !ok || field == "time"
}
