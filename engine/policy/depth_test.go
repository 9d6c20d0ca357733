package policy_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/engine/policy"
)

// TestDeepTermsAreAProblemNotAHang: a policy nesting far deeper than
// people write is refused at its position before it is compiled; the
// compiler would take minutes. Nesting a few levels deep compiles.
func TestDeepTermsAreAProblemNotAHang(t *testing.T) {
	const deep = 30000
	decision := "\ndecision := {\"allow\": false}\n"
	tests := []struct {
		name string
		expr string
	}{
		{name: "an operator chain", expr: "1" + strings.Repeat(" + 1", deep)},
		{name: "nested arrays", expr: strings.Repeat("[", deep) + strings.Repeat("]", deep)},
		{name: "nested calls", expr: strings.Repeat("abs(", policy.MaxTermDepth) + "1" + strings.Repeat(")", policy.MaxTermDepth)},
		{name: "nested comprehensions", expr: strings.Repeat("[x | x := ", policy.MaxTermDepth) + "1" + strings.Repeat("]", policy.MaxTermDepth)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := compile(t, "package tollgate.token\n"+decision+"\nx := "+tt.expr+"\n")
			var ce *policy.CompileError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), "test.rego:5:") || !strings.Contains(err.Error(), "nested too deeply") {
				t.Errorf("error %.300v, want test.rego:5: ... nested too deeply", err)
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("took %v", took)
			}
		})
	}
	ok := strings.Repeat("[", 40) + strings.Repeat("]", 40)
	if _, err := compile(t, "package tollgate.token\n"+decision+"\nx := "+ok+"\ny := 1"+strings.Repeat(" + 1", 40)+"\n"); err != nil {
		t.Errorf("nesting 40 deep: %v", err)
	}
}
