package authz

import "github.com/tollgate-dev/tollgate/engine/model"

// longestID is the length of the longest id a client or a server may
// authenticate with (clientauth refuses longer ones).
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

// auditID is id as an audit line may name it: an id longer than any
// declared one is left out, and the line's reasons say why.
func (s *Snapshot) auditID(id string) string {
	if len(id) > s.maxIDBytes {
		return ""
	}
	return id
}
