// Package authz is tollgate's engine: it holds the current configuration
// snapshot and answers token, introspection, revocation and userinfo
// requests against it. The HTTP layer, the CLI, tests and benchmarks all
// call this one API; engine/reload builds the snapshots it serves.
package authz

import (
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/tollgate-dev/tollgate/engine/clientauth"
	"github.com/tollgate-dev/tollgate/engine/decide"
)

// Snapshot is everything a request needs from one configuration: the
// decider (the declarations in memdb, the prepared policy, the pre-built
// policy input terms) and the parsed secrets. It is immutable; a reload
// builds a new one and swaps a pointer, so a request never sees half of
// two configurations.
type Snapshot struct {
	*decide.Decider
	// Loaded is when the snapshot was built.
	Loaded time.Time
	// Warnings are the load's HCL warnings (a credential expired or
	// expiring soon, ...), for the server to log.
	Warnings hcl.Diagnostics

	secrets *clientauth.Index
	// maxIDBytes is the longest declared client or server id.
	maxIDBytes int
}

// NewSnapshot builds a snapshot around a decider. kdfCache may be shared
// between snapshots: its entries are keyed by the stored hash, so they
// stay correct across reloads.
func NewSnapshot(d *decide.Decider, kdfCache *clientauth.Cache) (*Snapshot, error) {
	secrets, err := clientauth.NewIndex(d.Config.Clients, d.Config.Servers, kdfCache)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	return &Snapshot{
		Decider:    d,
		Loaded:     time.Now(),
		secrets:    secrets,
		maxIDBytes: longestID(d.Config),
	}, nil
}
