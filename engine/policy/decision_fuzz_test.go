package policy

import (
	"errors"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/tollgate-dev/tollgate/engine/oauth"
	"github.com/tollgate-dev/tollgate/engine/token"
)

// FuzzParseDecision feeds the decision parser any Rego term: whatever a
// policy can make it evaluate to, the parser either refuses it as
// malformed or returns a decision that keeps the contract: an allow has an
// audience, no reserved claim and a ttl within MaxTTL; a denial has a
// known error code and grants nothing. `go test` runs the seeds.
func FuzzParseDecision(f *testing.F) {
	for _, seed := range []string{
		`{"allow": true, "audience": ["api"], "scope": ["read"], "subject": "acct", "claims": {"tenant": "t1"}, "ttl": 60, "reasons": ["ok"]}`,
		`{"allow": false, "error": "invalid_scope", "error_description": "too much", "audience": ["api"], "ttl": 5}`,
		`{"allow": false}`,
		`{"allow": true}`,
		`{"allow": "true", "audience": ["api"]}`,
		`{"allow": true, "audience": ["api"], "ttl": 1e10}`,
		`{"allow": true, "audience": ["api"], "ttl": 1e400}`,
		`{"allow": true, "audience": ["api"], "ttl": -1e400}`,
		`{"allow": true, "audience": ["api"], "ttl": 1.5}`,
		`{"allow": true, "audience": ["api"], "ttl": 9223372036854775808}`,
		`{"allow": true, "audience": ["api"], "ttl": "60"}`,
		`{"allow": true, "audience": ["api"], "claims": {"sub": "x"}}`,
		`{"allow": true, "audience": ["api"], "claims": {"nested": {"a": [1, {"b": null}]}, "n": 1e400}}`,
		`{"allow": true, "audience": ["api"], "claims": {"s": {1, 2}}}`,
		`{"allow": true, "audience": {"api"}}`,
		`{"allow": true, "audience": ["api", ""]}`,
		`{"allow": true, "audience": [x]}`,
		`{"allow": true, "audience": ["api"], "scope": [input.request.scope]}`,
		`{"allow": false, "error": "access_denied"}`,
		`{1: true, "allow": true, "audience": ["a"]}`,
		`["allow", true]`,
		`"yes"`,
		`null`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, src string) {
		if len(src) > 8<<10 {
			return
		}
		term, err := ast.ParseTerm(src)
		if err != nil {
			return
		}
		d, err := parseDecision(term.Value)
		if err != nil {
			var me *MalformedError
			if !errors.As(err, &me) || d != nil {
				t.Fatalf("parseDecision(%s) = %+v, %v; want a *MalformedError and no decision", src, d, err)
			}
			return
		}
		if d.Reasons == nil {
			t.Fatalf("parseDecision(%s): nil reasons", src)
		}
		if !d.Allow {
			switch d.Error {
			case oauth.InvalidScope, oauth.InvalidTarget, oauth.UnauthorizedClient:
			default:
				t.Fatalf("parseDecision(%s): a denial with error %q", src, d.Error)
			}
			if d.Audience != nil || d.Scope != nil || d.Subject != "" || d.Claims != nil || d.TTL != 0 {
				t.Fatalf("parseDecision(%s): a denial that grants %+v", src, d)
			}
			return
		}
		if len(d.Audience) == 0 || d.Error != "" || d.ErrorDescription != "" {
			t.Fatalf("parseDecision(%s): an allow %+v", src, d)
		}
		if d.TTL < 0 || d.TTL > MaxTTL {
			t.Fatalf("parseDecision(%s): ttl %d out of [0, MaxTTL]", src, d.TTL)
		}
		for _, values := range [][]string{d.Audience, d.Scope, d.Reasons} {
			for _, v := range values {
				if v == "" {
					t.Fatalf("parseDecision(%s): an empty string in %q", src, values)
				}
			}
		}
		for name := range d.Claims {
			if token.Reserved[name] {
				t.Fatalf("parseDecision(%s): reserved claim %q", src, name)
			}
		}
	})
}
