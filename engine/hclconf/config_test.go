package hclconf_test

import (
	"testing"

	"github.com/tollgate-dev/tollgate/engine/hclconf"
)

// TestExampleConfigIsClean: the config/ that `make run` serves loads with
// no diagnostics at all, not even a warning.
func TestExampleConfigIsClean(t *testing.T) {
	cfg, diags := hclconf.LoadDir("../../config")
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	if len(cfg.Clients) != 3 || len(cfg.Servers) != 3 || len(cfg.Accounts) != 1 || len(cfg.Groups) != 2 {
		t.Errorf("config/ has %d clients, %d servers, %d accounts, %d groups", len(cfg.Clients), len(cfg.Servers), len(cfg.Accounts), len(cfg.Groups))
	}
}
