package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestServeMetricsAddr: --metrics-addr, or TOLLGATE_METRICS_ADDR, is the
// address of the metrics listener; one that cannot be bound stops serve
// with an error that names it.
func TestServeMetricsAddr(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t.Chdir(repoRoot)
	for _, tt := range []struct {
		args []string
		env  map[string]string
	}{
		{args: []string{"serve", "--addr", "127.0.0.1:0", "--watch=false", "--metrics-addr", "256.0.0.1:99999"}},
		{args: []string{"serve", "--addr", "127.0.0.1:0", "--watch=false"}, env: map[string]string{"TOLLGATE_METRICS_ADDR": "256.0.0.1:99999"}},
	} {
		var out, errOut bytes.Buffer
		err := run(ctx, tt.args, func(k string) string { return tt.env[k] }, strings.NewReader(""), &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), "listen for metrics") || !strings.Contains(err.Error(), "256.0.0.1:99999") {
			t.Errorf("%v %v: %v", tt.args, tt.env, err)
		}
	}
}
