package hclconf

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/tollgate-dev/tollgate/engine/model"
)

func errorAt(rng hcl.Range, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: rng.Ptr()}
}

func warningAt(rng hcl.Range, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: summary, Detail: detail, Subject: rng.Ptr()}
}

func value(attr *attribute, diags *hcl.Diagnostics) (cty.Value, bool) {
	v, d := attr.Value, attr.Diags
	*diags = append(*diags, d...)
	if d.HasErrors() {
		return cty.NilVal, false
	}
	if v.IsNull() {
		*diags = append(*diags, errorAt(attr.Range, "Null value", fmt.Sprintf("%s may not be null.", attr.Name)))
		return cty.NilVal, false
	}
	return v, true
}

func stringValue(attr *attribute, diags *hcl.Diagnostics) (string, bool) {
	v, ok := value(attr, diags)
	if !ok {
		return "", false
	}
	if v.Type() != cty.String {
		*diags = append(*diags, errorAt(attr.Range, "Not a string", fmt.Sprintf("%s must be a string, got %s.", attr.Name, v.Type().FriendlyName())))
		return "", false
	}
	return v.AsString(), true
}

func boolValue(attr *attribute, diags *hcl.Diagnostics) (bool, bool) {
	v, ok := value(attr, diags)
	if !ok {
		return false, false
	}
	if v.Type() != cty.Bool {
		*diags = append(*diags, errorAt(attr.Range, "Not a boolean", fmt.Sprintf("%s must be true or false, got %s.", attr.Name, v.Type().FriendlyName())))
		return false, false
	}
	return v.True(), true
}

// stringList reads a list of strings; duplicates are an error, as they
// usually hide a copy-and-paste mistake.
func stringList(attr *attribute, diags *hcl.Diagnostics) ([]string, bool) {
	v, ok := value(attr, diags)
	if !ok {
		return nil, false
	}
	if !v.Type().IsListType() && !v.Type().IsTupleType() && !v.Type().IsSetType() {
		*diags = append(*diags, errorAt(attr.Range, "Not a list", fmt.Sprintf(`%s must be a list of strings, like ["a", "b"].`, attr.Name)))
		return nil, false
	}
	out := make([]string, 0, v.LengthInt())
	seen := make(map[string]bool, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		_, elem := it.Element()
		if elem.IsNull() || elem.Type() != cty.String {
			*diags = append(*diags, errorAt(attr.Range, "Not a list of strings", fmt.Sprintf("every element of %s must be a string.", attr.Name)))
			return nil, false
		}
		s := elem.AsString()
		if seen[s] {
			*diags = append(*diags, errorAt(attr.Range, "Duplicate element", fmt.Sprintf("%q appears twice in %s.", s, attr.Name)))
			return nil, false
		}
		seen[s] = true
		out = append(out, s)
	}
	return out, true
}

func durationValue(attr *attribute, diags *hcl.Diagnostics) (time.Duration, bool) {
	s, ok := stringValue(attr, diags)
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		*diags = append(*diags, errorAt(attr.Range, "Invalid duration",
			fmt.Sprintf(`%s = %q is not a positive duration: write it like "90s", "15m", "1h" or "1h30m".`, attr.Name, s)))
		return 0, false
	}
	return d, true
}

func timeValue(attr *attribute, diags *hcl.Diagnostics) (time.Time, bool) {
	s, ok := stringValue(attr, diags)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		*diags = append(*diags, errorAt(attr.Range, "Invalid time",
			fmt.Sprintf(`%s = %q is not an RFC 3339 time: write it like "2027-06-30T00:00:00Z".`, attr.Name, s)))
		return time.Time{}, false
	}
	return t, true
}

var ratePattern = regexp.MustCompile(`^\s*(\d+)\s*/\s*([smhd])\s*$`)

var rateUnits = map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}

func rateValue(attr *attribute, diags *hcl.Diagnostics) (*model.Rate, bool) {
	s, ok := stringValue(attr, diags)
	if !ok {
		return nil, false
	}
	m := ratePattern.FindStringSubmatch(s)
	var count int
	if m != nil {
		count, _ = strconv.Atoi(m[1])
	}
	if m == nil || count <= 0 {
		*diags = append(*diags, errorAt(attr.Range, "Invalid rate",
			fmt.Sprintf(`%s = %q is not a rate: write tokens per period, like "600/m", "10/s", "1000/h" or "5000/d".`, attr.Name, s)))
		return nil, false
	}
	return &model.Rate{Count: count, Per: rateUnits[m[2]]}, true
}

// objectValue converts an object of JSON-like values to plain Go values.
func objectValue(attr *attribute, diags *hcl.Diagnostics) (map[string]any, bool) {
	v, ok := value(attr, diags)
	if !ok {
		return nil, false
	}
	if !v.Type().IsObjectType() && !v.Type().IsMapType() {
		*diags = append(*diags, errorAt(attr.Range, "Not an object", fmt.Sprintf(`%s must be an object, like { department = "finance" }.`, attr.Name)))
		return nil, false
	}
	raw, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		*diags = append(*diags, errorAt(attr.Range, "Unsupported value", fmt.Sprintf("%s: %v.", attr.Name, err)))
		return nil, false
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		*diags = append(*diags, errorAt(attr.Range, "Unsupported value", fmt.Sprintf("%s: %v.", attr.Name, err)))
		return nil, false
	}
	return out, true
}

// validID checks a block label: ids travel in tokens, URLs and logs.
func validID(id string) string {
	switch {
	case id == "":
		return "an id may not be empty"
	case len(id) > 255:
		return "an id may be at most 255 characters long"
	}
	for _, r := range id {
		if r <= 0x20 || r == 0x7f || r == '\uFFFD' {
			return "an id may not contain spaces or control characters"
		}
	}
	return ""
}

// validScope applies RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
func validScope(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c == 0x22 || c == 0x5C || c > 0x7E {
			return false
		}
	}
	return true
}

func quoteList(items []string) string {
	quoted := make([]string, len(items))
	for i, s := range items {
		quoted[i] = strconv.Quote(s)
	}
	return strings.Join(quoted, ", ")
}
