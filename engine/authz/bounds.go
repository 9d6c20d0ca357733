package authz

import (
	"fmt"

	"github.com/tollgate-dev/tollgate/engine/model"
)

// longestID is the length of the longest id a client or a server may
// authenticate with.
func longestID(cfg *model.Config) int {
	n := 0
	for _, c := range cfg.Clients {
		n = max(n, len(c.ID))
	}
	for _, s := range cfg.Servers {
		n = max(n, len(s.ID))
	}
	return n
}

// refuseOverlongID refuses an id longer than any declared one before it
// is throttled, looked up or logged (SPEC §6): no client can have it, and
// whatever is kept or written per id is then bounded by the declarations,
// not by what a caller sends. The answer is the one every failed
// authentication gets; the audit reason says what happened.
func (s *Snapshot) refuseOverlongID(id string) error {
	if len(id) <= s.maxIDBytes {
		return nil
	}
	e := errInvalidClient()
	e.Cause = fmt.Errorf("client_id of %d bytes is longer than any declared id (at most %d bytes)", len(id), s.maxIDBytes)
	return e
}

// auditID is id as an audit line may name it: an id longer than any
// declared one is left out, and the line's reasons say why.
func (s *Snapshot) auditID(id string) string {
	if len(id) > s.maxIDBytes {
		return ""
	}
	return id
}
