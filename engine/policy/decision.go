package policy

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/tollgate-dev/tollgate/engine/oauth"
	"github.com/tollgate-dev/tollgate/engine/token"
)

// Decision is a validated data.tollgate.token.decision document.
type Decision struct {
	Allow    bool           `json:"allow"`
	Audience []string       `json:"audience,omitempty"`
	Scope    []string       `json:"scope,omitempty"`
	Subject  string         `json:"subject,omitempty"`
	Claims   map[string]any `json:"claims,omitempty"`
	// TTL is the token lifetime the policy asks for in seconds; 0 means
	// the default. It is at most MaxTTL; the caller caps it further.
	TTL              int64    `json:"ttl,omitempty"`
	Error            string   `json:"error,omitempty"`
	ErrorDescription string   `json:"error_description,omitempty"`
	Reasons          []string `json:"reasons"`
}

// MaxTTL is the largest ttl, in seconds, a Decision carries: a policy's
// larger ttl is cut to it (and then capped by the settings), so that a
// lifetime in seconds always fits a time.Duration.
const MaxTTL = math.MaxInt64 / int64(time.Second)

// ErrUndefined is returned, wrapped with where the decision's rules are,
// when the policy defines no decision for an input.
var ErrUndefined = errors.New("policy: " + DecisionQuery + " is undefined for this request")

// MalformedError says how a decision document breaks the contract.
type MalformedError struct {
	Reason string
	// At is where the decision's rules are (FILE:LINE:COL, ...).
	At string
}

func (e *MalformedError) Error() string {
	if e.At == "" {
		return "policy: malformed decision: " + e.Reason
	}
	return "policy: malformed decision (" + DecisionQuery + " at " + e.At + "): " + e.Reason
}

// EvalError is an evaluation that failed: a built-in's error (strict
// built-in errors), a conflict between rules, a cancelled evaluation. Where
// in the policy is in its Problem when OPA knows it. It is for the server
// log and the audit line, never for the caller: its message may quote
// values from the request.
type EvalError struct {
	Problem
	// Code is OPA's error code, e.g. eval_builtin_error.
	Code string
	err  error
}

func (e *EvalError) Error() string {
	if e.File == "" {
		return "policy: evaluation failed: " + e.Message
	}
	return "policy: evaluation failed: " + e.Problem.String()
}

// Unwrap returns OPA's error.
func (e *EvalError) Unwrap() error { return e.err }

func evalError(err error) *EvalError {
	var te *topdown.Error
	if !errors.As(err, &te) {
		return &EvalError{Problem: Problem{Message: err.Error()}, err: err}
	}
	e := &EvalError{Problem: Problem{Message: te.Code + ": " + te.Message}, Code: te.Code, err: err}
	if loc := te.Location; loc != nil && loc.File != "" {
		e.File, e.Line, e.Col = loc.File, max(loc.Row, 1), max(loc.Col, 1)
	}
	return e
}

// Decide evaluates the decision for input. Any failure, an undefined
// decision or a malformed one is an error: the caller denies (fail closed).
func (p *Policy) Decide(ctx context.Context, input ast.Value) (*Decision, error) {
	opts := append(make([]rego.EvalOption, 0, len(evalOptions)+2), evalOptions...)
	opts = append(opts, rego.EvalParsedInput(input))
	// OPA watches ctx with a goroutine per evaluation; a context that can
	// never end needs no watching, and one that can is watched by a
	// callback registered on it instead.
	if ctx.Done() != nil {
		cancel := topdown.NewCancel()
		stop := context.AfterFunc(ctx, cancel.Cancel)
		defer stop()
		opts = append(opts, rego.EvalExternalCancel(cancel))
	} else {
		opts = append(opts, neverCancel)
	}
	rs, err := p.query.Eval(ctx, opts...)
	if err != nil {
		return nil, evalError(err)
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, fmt.Errorf("%w (its rules: %s)", ErrUndefined, p.decisionAt)
	}
	term, ok := rs[0].Expressions[0].Value.(*ast.Term)
	if !ok {
		return nil, fmt.Errorf("policy: unexpected result %T", rs[0].Expressions[0].Value)
	}
	d, err := parseDecision(term.Value)
	if err != nil {
		if me, ok := err.(*MalformedError); ok {
			me.At = p.decisionAt
		}
		return nil, err
	}
	return d, nil
}

// evalOptions are the options every evaluation takes, built once.
var evalOptions = []rego.EvalOption{
	// The decision is read straight from the AST: converting it to Go
	// maps first would cost as much as a small rule.
	rego.EvalGenerateJSON(rawTerm),
	rego.EvalMetrics(metrics.NoOp()),
}

// neverCancel is the cancel of an evaluation whose context cannot end.
var neverCancel = rego.EvalExternalCancel(topdown.NewCancel())

func rawTerm(t *ast.Term, _ *rego.EvalContext) (any, error) { return t, nil }

var (
	keyAllow            = ast.String("allow")
	keyAudience         = ast.String("audience")
	keyScope            = ast.String("scope")
	keyReasons          = ast.String("reasons")
	keySubject          = ast.String("subject")
	keyError            = ast.String("error")
	keyErrorDescription = ast.String("error_description")
	keyClaims           = ast.String("claims")
	keyTTL              = ast.String("ttl")
)

func parseDecision(raw ast.Value) (*Decision, error) {
	doc, ok := raw.(ast.Object)
	if !ok {
		return nil, &MalformedError{Reason: fmt.Sprintf("decision is %s, want an object", ast.ValueName(raw))}
	}
	d := &Decision{}
	allowSeen := false
	err := doc.Iter(func(k, v *ast.Term) error {
		key, ok := k.Value.(ast.String)
		if !ok {
			return nil
		}
		var err error
		switch key {
		case keyAllow:
			allowSeen = true
			b, ok := v.Value.(ast.Boolean)
			if !ok {
				return fmt.Errorf("allow is %s, want a boolean", ast.ValueName(v.Value))
			}
			d.Allow = bool(b)
		case keyAudience:
			d.Audience, err = stringsOf(string(key), v.Value)
		case keyScope:
			d.Scope, err = stringsOf(string(key), v.Value)
		case keyReasons:
			d.Reasons, err = stringsOf(string(key), v.Value)
		case keySubject:
			d.Subject, err = stringOf(string(key), v.Value)
		case keyError:
			d.Error, err = stringOf(string(key), v.Value)
		case keyErrorDescription:
			d.ErrorDescription, err = stringOf(string(key), v.Value)
		case keyClaims:
			d.Claims, err = claimsOf(v.Value)
		case keyTTL:
			d.TTL, err = ttlOf(v.Value)
		default:
			// Unknown fields are ignored so policies can carry their own
			// annotations; they never reach a token.
		}
		return err
	})
	if err != nil {
		return nil, &MalformedError{Reason: err.Error()}
	}
	if !allowSeen {
		return nil, &MalformedError{Reason: "allow is missing"}
	}
	if d.Reasons == nil {
		d.Reasons = []string{}
	}
	if d.Allow {
		if len(d.Audience) == 0 {
			return nil, &MalformedError{Reason: "allow is true but audience is empty"}
		}
		d.Error, d.ErrorDescription = "", ""
		return d, nil
	}
	switch d.Error {
	case "":
		d.Error = oauth.UnauthorizedClient
	case oauth.InvalidScope, oauth.InvalidTarget, oauth.UnauthorizedClient: // the codes a policy may deny with (SPEC §4)
	default:
		return nil, &MalformedError{Reason: fmt.Sprintf("error %.64q is not one of %s, %s, %s", d.Error, oauth.InvalidScope, oauth.InvalidTarget, oauth.UnauthorizedClient)}
	}
	// A denial grants nothing, whatever else the document says.
	d.Audience, d.Scope, d.Subject, d.Claims, d.TTL = nil, nil, "", nil, 0
	return d, nil
}

func stringOf(key string, v ast.Value) (string, error) {
	s, ok := v.(ast.String)
	if !ok {
		return "", fmt.Errorf("%s is %s, want a string", key, ast.ValueName(v))
	}
	return string(s), nil
}

func stringsOf(key string, v ast.Value) ([]string, error) {
	items, ok := v.(*ast.Array)
	if !ok {
		return nil, fmt.Errorf("%s is %s, want an array of strings", key, ast.ValueName(v))
	}
	out := make([]string, items.Len())
	for i := range out {
		s, ok := items.Elem(i).Value.(ast.String)
		if !ok || s == "" {
			return nil, fmt.Errorf("%s[%d] is %.64v, want a non-empty string", key, i, items.Elem(i))
		}
		out[i] = string(s)
	}
	return out, nil
}

func claimsOf(v ast.Value) (map[string]any, error) {
	obj, ok := v.(ast.Object)
	if !ok {
		return nil, fmt.Errorf("claims is %s, want an object", ast.ValueName(v))
	}
	if obj.Len() == 0 {
		return nil, nil
	}
	raw, err := ast.JSON(obj)
	if err != nil {
		return nil, fmt.Errorf("claims: %w", err)
	}
	claims := raw.(map[string]any)
	for name := range claims {
		if token.Reserved[name] {
			return nil, fmt.Errorf("claims may not set the reserved claim %q", name)
		}
	}
	return claims, nil
}

// ttlOf reads a ttl: a whole number of seconds, 0 for the default. One
// above MaxTTL (1e10, 1e400) is cut to MaxTTL, for the caller to cap; a
// negative or fractional one is a policy bug, and malformed.
func ttlOf(v ast.Value) (int64, error) {
	n, ok := v.(ast.Number)
	if !ok {
		return 0, fmt.Errorf("ttl is %s, want a number of seconds", ast.ValueName(v))
	}
	if i, ok := n.Int64(); ok && i >= 0 {
		return min(i, MaxTTL), nil
	}
	// Exponents, fractions and numbers past int64, exactly: a float64
	// would round 1e400 to +Inf and 9007199254740993 to its neighbour.
	f, ok := new(big.Float).SetString(string(n))
	if !ok || f.Sign() < 0 || !f.IsInt() {
		return 0, fmt.Errorf("ttl %.20s is not a whole, non-negative number of seconds", string(n))
	}
	if f.Cmp(big.NewFloat(float64(MaxTTL))) > 0 {
		return MaxTTL, nil
	}
	i, _ := f.Int64()
	return i, nil
}
