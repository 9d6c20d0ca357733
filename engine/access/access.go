// Package access computes the effective access of a configuration: for
// each client, each server it can get a token for, with the scopes,
// subject, actor, lifetime and the route that gives it. It asks the real
// policies (the sweep every load runs, see decide.Decider.Sweep), so rules
// of a team's own show; nothing here re-implements a decision. Diff
// compares two such tables, as `tollgate plan` shows a change before it
// merges.
package access

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/engine/decide"
	"github.com/tollgate-dev/tollgate/engine/reload"
)

// ViaItself is the route of the token a client gets for itself, asking
// for no audience (SPEC §4: aud = the client id).
const ViaItself = "no audience requested"

// Actor is the act claim of a token whose subject is not its client
// (RFC 8693 §4.1).
type Actor struct {
	Sub string `json:"sub"`
}

// Entry is one token a client can get: for a server, or for itself when
// Server is empty. It is what the policy grants when the client asks for
// that audience and no scope, which is everything it may get there.
type Entry struct {
	Client string `json:"client"`
	// Server is the server's id; empty for the token for the client itself.
	Server string `json:"server"`
	// Audience is the token's aud (space-separated if ever several).
	Audience string   `json:"audience"`
	Scope    []string `json:"scope"`
	Subject  string   `json:"subject"`
	// Act is set when the client acts as an account (impersonation).
	Act *Actor `json:"act"`
	// TTL is the token's lifetime in seconds, after every cap.
	TTL int64 `json:"ttl"`
	// Via names the routes that let the client, and the account it acts
	// as, reach the server: "its own access", "group G", "account A
	// through group G".
	Via []string `json:"via"`
}

// Table is the effective access of one configuration, sorted by client
// then server (the token for the client itself first).
type Table struct {
	Entries []Entry `json:"entries"`
	// clients holds every declared client id, those with no entry too.
	clients map[string]bool
}

// Load loads src exactly as serve does (every check included) and returns
// its effective access, read off the evaluations of the load's own sweep.
// A configuration that does not load is an *reload.LoadError.
func Load(ctx context.Context, src reload.Sources) (*Table, error) {
	var mu sync.Mutex
	table := &Table{Entries: []Entry{}}
	snap, err := reload.LoadObserved(ctx, src, nil, func(r *decide.ProbeResult) {
		e, ok := entryOf(r)
		if !ok {
			return
		}
		mu.Lock()
		table.Entries = append(table.Entries, e)
		mu.Unlock()
	})
	if err != nil {
		return nil, err
	}
	table.clients = make(map[string]bool, len(snap.Config.Clients))
	for _, c := range snap.Config.Clients {
		table.clients[c.ID] = true
	}
	table.sort()
	return table, nil
}

// entryOf is the entry of a probe the policy allowed.
func entryOf(r *decide.ProbeResult) (Entry, bool) {
	if r.Err != nil || r.Evaluation == nil || !r.Evaluation.Decision.Allow {
		return Entry{}, false
	}
	evaluation := r.Evaluation
	d := evaluation.Decision
	e := Entry{
		Client:   r.Client.ID,
		Audience: strings.Join(d.Audience, " "),
		Scope:    slices.Clone(d.Scope),
		Subject:  cmp.Or(d.Subject, r.Client.ID),
		TTL:      int64(evaluation.TTL / time.Second),
		Via:      slices.Clone(r.Via),
	}
	if e.Scope == nil {
		e.Scope = []string{}
	}
	slices.Sort(e.Scope)
	if r.Server != nil {
		e.Server = r.Server.ID
	} else {
		e.Via = []string{ViaItself}
	}
	if evaluation.Actor != "" {
		e.Act = &Actor{Sub: evaluation.Actor}
	}
	return e, true
}

func (t *Table) sort() {
	slices.SortFunc(t.Entries, func(a, b Entry) int {
		return cmp.Or(cmp.Compare(a.Client, b.Client), cmp.Compare(a.Server, b.Server))
	})
}

// ForClient returns the table of one client's entries only, and whether
// the configuration declares that client at all.
func (t *Table) ForClient(id string) (*Table, bool) {
	out := &Table{Entries: []Entry{}, clients: map[string]bool{}}
	if !t.clients[id] {
		return out, false
	}
	out.clients[id] = true
	for _, e := range t.Entries {
		if e.Client == id {
			out.Entries = append(out.Entries, e)
		}
	}
	return out, true
}

// key is what an entry is compared by across two tables.
type key struct{ client, server string }

func (e Entry) key() key { return key{e.Client, e.Server} }
