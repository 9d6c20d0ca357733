package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// Error codes a policy may deny with (SPEC §4).
const (
	ErrorInvalidScope       = "invalid_scope"
	ErrorInvalidTarget      = "invalid_target"
	ErrorUnauthorizedClient = "unauthorized_client"
)

// ReservedClaims are set by tollgate itself; a policy's claims may not
// override them (RFC 9068 §2.2, RFC 8693 §4.1, RFC 8705 §3).
var ReservedClaims = map[string]bool{
	"iss": true, "sub": true, "aud": true, "exp": true, "iat": true, "nbf": true,
	"jti": true, "client_id": true, "scope": true, "act": true, "cnf": true,
}

// Decision is a validated data.tollgate.token.decision document.
type Decision struct {
	Allow    bool           `json:"allow"`
	Audience []string       `json:"audience,omitempty"`
	Scope    []string       `json:"scope,omitempty"`
	Subject  string         `json:"subject,omitempty"`
	Claims   map[string]any `json:"claims,omitempty"`
	// TTL is the token lifetime the policy asks for in seconds; 0 means
	// the default. The caller caps it.
	TTL              int64    `json:"ttl,omitempty"`
	Error            string   `json:"error,omitempty"`
	ErrorDescription string   `json:"error_description,omitempty"`
	Reasons          []string `json:"reasons"`
}

// ErrUndefined is returned when the policy defines no decision for an input.
var ErrUndefined = errors.New("policy: " + DecisionQuery + " is undefined for this request")

// MalformedError says how a decision document breaks the contract.
type MalformedError struct{ Reason string }

func (e *MalformedError) Error() string { return "policy: malformed decision: " + e.Reason }

// Decide evaluates the decision for input. Any failure, an undefined
// decision or a malformed one is an error: the caller denies (fail closed).
func (p *Policy) Decide(ctx context.Context, input ast.Value) (*Decision, error) {
	rs, err := p.query.Eval(ctx, rego.EvalParsedInput(input))
	if err != nil {
		return nil, fmt.Errorf("policy: evaluation failed: %w", err)
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, ErrUndefined
	}
	return parseDecision(rs[0].Expressions[0].Value)
}

func parseDecision(raw any) (*Decision, error) {
	doc, ok := raw.(map[string]any)
	if !ok {
		return nil, &MalformedError{fmt.Sprintf("decision is %T, want an object", raw)}
	}
	d := &Decision{}
	for key, value := range doc {
		var err error
		switch key {
		case "allow":
			d.Allow, ok = value.(bool)
			if !ok {
				err = fmt.Errorf("allow is %T, want a boolean", value)
			}
		case "audience":
			d.Audience, err = stringsOf(key, value)
		case "scope":
			d.Scope, err = stringsOf(key, value)
		case "reasons":
			d.Reasons, err = stringsOf(key, value)
		case "subject":
			d.Subject, err = stringOf(key, value)
		case "error":
			d.Error, err = stringOf(key, value)
		case "error_description":
			d.ErrorDescription, err = stringOf(key, value)
		case "claims":
			d.Claims, err = claimsOf(value)
		case "ttl":
			d.TTL, err = ttlOf(value)
		default:
			// Unknown fields are ignored so policies can carry their own
			// annotations; they never reach a token.
		}
		if err != nil {
			return nil, &MalformedError{err.Error()}
		}
	}
	if _, present := doc["allow"]; !present {
		return nil, &MalformedError{"allow is missing"}
	}
	if d.Reasons == nil {
		d.Reasons = []string{}
	}
	if d.Allow {
		if len(d.Audience) == 0 {
			return nil, &MalformedError{"allow is true but audience is empty"}
		}
		d.Error, d.ErrorDescription = "", ""
		return d, nil
	}
	switch d.Error {
	case "":
		d.Error = ErrorUnauthorizedClient
	case ErrorInvalidScope, ErrorInvalidTarget, ErrorUnauthorizedClient:
	default:
		return nil, &MalformedError{fmt.Sprintf("error %q is not one of invalid_scope, invalid_target, unauthorized_client", d.Error)}
	}
	// A denial grants nothing, whatever else the document says.
	d.Audience, d.Scope, d.Subject, d.Claims, d.TTL = nil, nil, "", nil, 0
	return d, nil
}

func stringOf(key string, v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s is %T, want a string", key, v)
	}
	return s, nil
}

func stringsOf(key string, v any) ([]string, error) {
	items, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s is %T, want an array of strings", key, v)
	}
	out := make([]string, len(items))
	for i, item := range items {
		s, ok := item.(string)
		if !ok || s == "" {
			return nil, fmt.Errorf("%s[%d] is %v, want a non-empty string", key, i, item)
		}
		out[i] = s
	}
	return out, nil
}

func claimsOf(v any) (map[string]any, error) {
	claims, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("claims is %T, want an object", v)
	}
	for name := range claims {
		if ReservedClaims[name] {
			return nil, fmt.Errorf("claims may not set the reserved claim %q", name)
		}
	}
	if len(claims) == 0 {
		return nil, nil
	}
	return claims, nil
}

func ttlOf(v any) (int64, error) {
	var f float64
	switch n := v.(type) {
	case json.Number:
		var err error
		if f, err = n.Float64(); err != nil {
			return 0, fmt.Errorf("ttl %v is not a number", n)
		}
	case float64:
		f = n
	case int64:
		f = float64(n)
	case int:
		f = float64(n)
	default:
		return 0, fmt.Errorf("ttl is %T, want a number of seconds", v)
	}
	if f < 0 || math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) {
		return 0, fmt.Errorf("ttl %v is not a whole, non-negative number of seconds", v)
	}
	return int64(f), nil
}

// ValueOf converts a JSON-compatible Go value to the ast.Value input form.
// Callers build constant parts once per snapshot and reuse them.
func ValueOf(v any) (ast.Value, error) {
	return ast.InterfaceToValue(v)
}
