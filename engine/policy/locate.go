package policy

import (
	"errors"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Locate says where in the policy an error of Decide (or of a decision
// refused after it) arose, as a Problem printed FILE:LINE:COL, with a
// message that is the same for every request failing the same way. An
// evaluation error (a conflict, a type or built-in error) carries the
// place OPA stopped at; an undefined or malformed decision has no place
// of its own, so it points at the decision's first rule.
func (p *Policy) Locate(err error) Problem {
	var evalErr *EvalError
	var malformed *MalformedError
	switch {
	case errors.As(err, &evalErr) && evalErr.File != "":
		return Problem{File: evalErr.File, Line: evalErr.Line, Col: evalErr.Col, Message: oneLine(evalErr.Message)}
	case evalErr != nil:
		return p.atDecision(oneLine(evalErr.Message))
	case errors.As(err, &malformed):
		return p.atDecision("malformed decision: " + malformed.Reason)
	case errors.Is(err, ErrUndefined):
		return p.atDecision(DecisionQuery + " is undefined for this request")
	default:
		return p.atDecision(strings.TrimPrefix(err.Error(), "policy: "))
	}
}

func (p *Policy) atDecision(message string) Problem {
	loc := p.decisionRule
	if loc == nil || loc.File == "" {
		return Problem{File: "policies", Line: 1, Col: 1, Message: message}
	}
	return Problem{File: loc.File, Line: max(loc.Row, 1), Col: max(loc.Col, 1), Message: message}
}

// oneLine keeps the first line of an OPA message and, of the lines after
// it, only the places they name: a conflict lists each conflicting value
// with the rule that produced it ("{...} at policies/token.rego:23"), and
// the values differ from one request to the next while the rules do not.
func oneLine(message string) string {
	first, rest, found := strings.Cut(message, "\n")
	if !found {
		return message
	}
	var places []string
	for _, line := range strings.Split(rest, "\n") {
		if i := strings.LastIndex(line, " at "); i >= 0 {
			places = append(places, line[i+len(" at "):])
		}
	}
	first = strings.TrimSuffix(strings.TrimSpace(first), ":")
	// OPA lists them in the order it met them, which varies with the input.
	slices.Sort(places)
	places = slices.Compact(places)
	if len(places) == 0 {
		return first
	}
	return first + " (rules at " + strings.Join(places, ", ") + ")"
}

// decisionLocation is where the decision is defined: its first rule that
// is not the default, since the default only answers when no other does.
func decisionLocation(c *ast.Compiler) *ast.Location {
	rules := c.GetRulesExact(ast.MustParseRef(DecisionQuery))
	for _, r := range rules {
		if !r.Default {
			return r.Location
		}
	}
	if len(rules) > 0 {
		return rules[0].Location
	}
	return nil
}
