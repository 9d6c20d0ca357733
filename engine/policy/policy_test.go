package policy_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/tollgate-dev/tollgate/engine/policy"
)

func compile(t testing.TB, src string) (*policy.Policy, error) {
	t.Helper()
	return policy.Compile(context.Background(), map[string][]byte{"test.rego": []byte(src)}, nil)
}

func mustCompile(t testing.TB, src string) *policy.Policy {
	t.Helper()
	p, err := compile(t, src)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var emptyInput = ast.NewObject()

func TestDecideValidatesTheDecisionDocument(t *testing.T) {
	tests := []struct {
		name      string
		rules     string
		want      *policy.Decision
		wantError string
	}{
		{
			name:  "allow with everything",
			rules: `decision := {"allow": true, "audience": ["api"], "scope": ["read"], "subject": "acct", "claims": {"tenant": "t1"}, "ttl": 60, "reasons": ["ok"]}`,
			want:  &policy.Decision{Allow: true, Audience: []string{"api"}, Scope: []string{"read"}, Subject: "acct", Claims: map[string]any{"tenant": "t1"}, TTL: 60, Reasons: []string{"ok"}},
		},
		{
			name:  "deny defaults to unauthorized_client and grants nothing",
			rules: `decision := {"allow": false, "audience": ["api"], "scope": ["read"], "reasons": ["no"]}`,
			want:  &policy.Decision{Allow: false, Error: "unauthorized_client", Reasons: []string{"no"}},
		},
		{
			name:  "deny keeps a valid error code",
			rules: `decision := {"allow": false, "error": "invalid_scope", "error_description": "too much"}`,
			want:  &policy.Decision{Allow: false, Error: "invalid_scope", ErrorDescription: "too much", Reasons: []string{}},
		},
		{name: "undefined", rules: `decision := 1 if { false }`, wantError: "undefined"},
		{name: "not an object", rules: `decision := "yes"`, wantError: "want an object"},
		{name: "allow missing", rules: `decision := {"audience": ["api"]}`, wantError: "allow is missing"},
		{name: "allow as a string", rules: `decision := {"allow": "true", "audience": ["api"]}`, wantError: "want a boolean"},
		{name: "allow without audience", rules: `decision := {"allow": true}`, wantError: "audience is empty"},
		{name: "scope not strings", rules: `decision := {"allow": true, "audience": ["api"], "scope": [1]}`, wantError: "scope[0]"},
		{name: "reserved claim", rules: `decision := {"allow": true, "audience": ["api"], "claims": {"sub": "x"}}`, wantError: "reserved claim \"sub\""},
		{name: "act is reserved", rules: `decision := {"allow": true, "audience": ["api"], "claims": {"act": {"sub": "x"}}}`, wantError: "reserved claim \"act\""},
		{name: "negative ttl", rules: `decision := {"allow": true, "audience": ["api"], "ttl": -1}`, wantError: "non-negative"},
		{name: "fractional ttl", rules: `decision := {"allow": true, "audience": ["api"], "ttl": 1.5}`, wantError: "whole"},
		{name: "unknown error code", rules: `decision := {"allow": false, "error": "access_denied"}`, wantError: "access_denied"},
		{name: "runtime error", rules: `decision := {"allow": true, "audience": [x]} if { x := 1 / 0 }`, wantError: "test.rego:3:56: error: eval_builtin_error: div: divide by zero"},
		{name: "undefined says where the decision is", rules: `decision := 1 if { false }`, wantError: "its rules: test.rego:3:1"},
		{name: "malformed says where the decision is", rules: `decision := "yes"`, wantError: "decision at test.rego:3:1"},
		{name: "ttl 0 is the default", rules: `decision := {"allow": true, "audience": ["api"], "ttl": 0}`, want: &policy.Decision{Allow: true, Audience: []string{"api"}, Reasons: []string{}}},
		{name: "ttl past a Duration is cut to MaxTTL", rules: `decision := {"allow": true, "audience": ["api"], "ttl": 1e10}`, want: &policy.Decision{Allow: true, Audience: []string{"api"}, TTL: policy.MaxTTL, Reasons: []string{}}},
		{name: "ttl past int64 is cut to MaxTTL", rules: `decision := {"allow": true, "audience": ["api"], "ttl": 1e400}`, want: &policy.Decision{Allow: true, Audience: []string{"api"}, TTL: policy.MaxTTL, Reasons: []string{}}},
		{name: "ttl in exponent form", rules: `decision := {"allow": true, "audience": ["api"], "ttl": 6e2}`, want: &policy.Decision{Allow: true, Audience: []string{"api"}, TTL: 600, Reasons: []string{}}},
		{name: "ttl just at MaxTTL", rules: `decision := {"allow": true, "audience": ["api"], "ttl": 9223372036}`, want: &policy.Decision{Allow: true, Audience: []string{"api"}, TTL: policy.MaxTTL, Reasons: []string{}}},
		{name: "huge negative ttl", rules: `decision := {"allow": true, "audience": ["api"], "ttl": -1e400}`, wantError: "non-negative"},
		{name: "ttl as a string", rules: `decision := {"allow": true, "audience": ["api"], "ttl": "60"}`, wantError: "want a number"},
		{name: "conflicting decisions", rules: "decision := {\"allow\": true, \"audience\": [\"a\"]} if { true }\ndecision := {\"allow\": false} if { true }", wantError: "evaluation failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustCompile(t, "package tollgate.token\n\n"+tt.rules+"\n")
			got, err := p.Decide(context.Background(), emptyInput)
			if tt.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantError) {
					t.Fatalf("Decide() = %+v, %v; want an error containing %q", got, err, tt.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !equalDecisions(got, tt.want) {
				t.Errorf("Decide() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestABuiltinErrorFailsTheEvaluation: strict built-in errors. A guard
// whose built-in fails is an evaluation error, with its position, never an
// undefined guard that "not" turns into an allow.
func TestABuiltinErrorFailsTheEvaluation(t *testing.T) {
	p := mustCompile(t, `package tollgate.token

blocked if to_number(input.request.audience[0]) > 100

decision := {"allow": false} if blocked

decision := {"allow": true, "audience": ["self"]} if not blocked
`)
	input := func(aud string) ast.Value {
		return ast.MustParseTerm(`{"request": {"audience": ["` + aud + `"]}}`).Value
	}
	if d, err := p.Decide(context.Background(), input("5")); err != nil || !d.Allow {
		t.Fatalf("audience 5: %+v, %v; want an allow", d, err)
	}
	d, err := p.Decide(context.Background(), input("abc"))
	var ee *policy.EvalError
	if !errors.As(err, &ee) {
		t.Fatalf("audience abc: %+v, %v; want an *EvalError", d, err)
	}
	if ee.File != "test.rego" || ee.Line != 3 || ee.Col != 12 || ee.Code != "eval_builtin_error" || !strings.Contains(ee.Message, "to_number") {
		t.Errorf("EvalError = %+v, want to_number's error at test.rego:3:12", ee)
	}
}

// TestCompileRefusesBuiltinsThatReachOutside: each refused built-in is a
// compile error at its position that says why; the pure ones compile.
func TestCompileRefusesBuiltinsThatReachOutside(t *testing.T) {
	refused := map[string]string{
		"http.send":          `http.send({"method": "GET", "url": "http://127.0.0.1:1/"})`,
		"net.lookup_ip_addr": `net.lookup_ip_addr("example.com")`,
		"opa.runtime":        `opa.runtime()`,
		"json.match_schema":  `json.match_schema({}, {"$ref": "file:///etc/passwd"})`,
		"json.verify_schema": `json.verify_schema({"$ref": "https://example.com/s.json"})`,
	}
	for name, call := range refused {
		t.Run(name, func(t *testing.T) {
			_, err := compile(t, callingPolicy(call))
			var ce *policy.CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("Compile() error = %v, want a *CompileError", err)
			}
			want := "test.rego:4:7: error: " + name + " is not allowed in a policy: "
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
		})
	}
	if len(refused) != len(policy.RefusedBuiltins) {
		t.Errorf("the test covers %d refused built-ins, there are %d", len(refused), len(policy.RefusedBuiltins))
	}
	for _, pure := range []string{
		`net.cidr_contains("10.0.0.0/8", "10.1.2.3")`,
		`time.now_ns()`,
		`crypto.sha256("x")`,
		`io.jwt.decode("a.b.c")`,
		`regex.match("^a", "abc")`,
		`rand.intn("k", 10)`,
	} {
		if _, err := compile(t, callingPolicy(pure)); err != nil {
			t.Errorf("%s: %v, want it to compile", pure, err)
		}
	}
	// print and trace compile and do nothing when serving.
	p := mustCompile(t, `package tollgate.token

decision := {"allow": true, "audience": ["x"]} if {
	print("deciding")
	trace("deciding")
}
`)
	if d, err := p.Decide(context.Background(), emptyInput); err != nil || !d.Allow {
		t.Errorf("a policy with print and trace: %+v, %v", d, err)
	}
}

// callingPolicy is a decision that puts what call returns in a claim.
func callingPolicy(call string) string {
	return "package tollgate.token\n\ndecision := {\"allow\": true, \"audience\": [\"x\"], \"claims\": {\"r\": r}} if {\n\tr := " + call + "\n}\n"
}

func equalDecisions(a, b *policy.Decision) bool {
	return a.Allow == b.Allow && strings.Join(a.Audience, ",") == strings.Join(b.Audience, ",") &&
		strings.Join(a.Scope, ",") == strings.Join(b.Scope, ",") && a.Subject == b.Subject &&
		len(a.Claims) == len(b.Claims) && a.TTL == b.TTL && a.Error == b.Error &&
		a.ErrorDescription == b.ErrorDescription && strings.Join(a.Reasons, ",") == strings.Join(b.Reasons, ",")
}

func TestCompileReportsProblemsWithPositions(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"syntax error", "package tollgate.token\n\ndecision := {\n", "test.rego:4:1: error: unexpected eof"},
		{"unknown function", "package tollgate.token\n\ndecision := x if { x := nope(1) }\n", "test.rego:3:"},
		{"no decision rule", "package tollgate.token\n\nallow := true\n", "no rule defines data.tollgate.token.decision"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compile(t, tt.src)
			var ce *policy.CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("Compile() error = %v, want a *CompileError", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestDeterministicDetectsTimeAndNondeterministicBuiltins(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		cache bool
	}{
		{"reads audience and scope only", `decision := {"allow": count(input.request.audience) > 0, "audience": input.request.audience, "scope": input.request.scope}`, true},
		{"reads client facts", `decision := {"allow": input.client.id == "a", "audience": ["x"]}`, true},
		{"reads request time", `decision := {"allow": input.request.time > "2026", "audience": ["x"]}`, false},
		{"reads the whole request", `decision := {"allow": true, "audience": ["x"], "claims": {"r": input.request}}`, false},
		{"reads request by a variable key", `decision := {"allow": true, "audience": [v]} if { some k; v := input.request[k]; k != "scope" }`, false},
		{"hands on the whole input", `decision := {"allow": true, "audience": ["x"], "claims": {"i": input}}`, false},
		{"calls time.now_ns", `decision := {"allow": time.now_ns() > 0, "audience": ["x"]}`, false},
		{"ref nested in a key", `decision := {"allow": true, "audience": [input.servers[input.request.time]]}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustCompile(t, "package tollgate.token\n\n"+tt.body+"\n")
			if p.Deterministic() != tt.cache {
				t.Errorf("Deterministic() = %v, want %v", p.Deterministic(), tt.cache)
			}
		})
	}
}

func BenchmarkDecideTrivial(b *testing.B) {
	p := mustCompile(b, "package tollgate.token\n\ndecision := {\"allow\": true, \"audience\": [\"x\"]}\n")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Decide(ctx, emptyInput); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSameSources: a policy says it was compiled from exactly these
// modules and this data, byte for byte, and from nothing else.
func TestSameSources(t *testing.T) {
	modules := map[string][]byte{"a.rego": []byte("package tollgate.token\n\ndecision := {\"allow\": false}\n")}
	data := map[string]any{"tenants": []any{"t1"}}
	p, err := policy.Compile(context.Background(), modules, data)
	if err != nil {
		t.Fatal(err)
	}
	edited := map[string][]byte{"a.rego": append([]byte("# a comment\n"), modules["a.rego"]...)}
	added := map[string][]byte{"a.rego": modules["a.rego"], "b.rego": []byte("package b\n")}
	renamed := map[string][]byte{"c.rego": modules["a.rego"]}
	for _, tc := range []struct {
		name    string
		modules map[string][]byte
		data    map[string]any
		want    bool
	}{
		{"the same", modules, map[string]any{"tenants": []any{"t1"}}, true},
		{"a module edited", edited, data, false},
		{"a module added", added, data, false},
		{"a module renamed", renamed, data, false},
		{"other data", modules, map[string]any{"tenants": []any{"t2"}}, false},
		{"no data", modules, nil, false},
	} {
		if got := p.SameSources(tc.modules, tc.data); got != tc.want {
			t.Errorf("%s: SameSources = %v, want %v", tc.name, got, tc.want)
		}
	}
	noData := mustCompile(t, string(modules["a.rego"]))
	if !noData.SameSources(map[string][]byte{"test.rego": modules["a.rego"]}, nil) ||
		!noData.SameSources(map[string][]byte{"test.rego": modules["a.rego"]}, map[string]any{}) {
		t.Error("nil and empty data should be the same")
	}
}
