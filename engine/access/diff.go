package access

import (
	"cmp"
	"slices"
)

// Change is an entry whose grant differs between two tables.
type Change struct {
	Before Entry `json:"before"`
	After  Entry `json:"after"`
}

// Plan is what a change of configuration does to the effective access,
// per (client, server): tokens a client can newly get, can no longer get,
// or gets with a different grant.
type Plan struct {
	Added   []Entry  `json:"added"`
	Removed []Entry  `json:"removed"`
	Changed []Change `json:"changed"`
}

// Diff compares the effective access of base and proposed. An entry is
// changed when its audience, scopes, subject, actor or lifetime differ; a
// new route to the same grant is not a change of access (the entry shows
// its route when something else changed).
func Diff(base, proposed *Table) *Plan {
	p := &Plan{Added: []Entry{}, Removed: []Entry{}, Changed: []Change{}}
	before := make(map[key]Entry, len(base.Entries))
	for _, e := range base.Entries {
		before[e.key()] = e
	}
	seen := make(map[key]bool, len(proposed.Entries))
	for _, after := range proposed.Entries {
		seen[after.key()] = true
		old, ok := before[after.key()]
		switch {
		case !ok:
			p.Added = append(p.Added, after)
		case !sameGrant(old, after):
			p.Changed = append(p.Changed, Change{Before: old, After: after})
		}
	}
	for _, e := range base.Entries {
		if !seen[e.key()] {
			p.Removed = append(p.Removed, e)
		}
	}
	return p
}

// Empty reports whether the plan changes no access.
func (p *Plan) Empty() bool {
	return len(p.Added) == 0 && len(p.Removed) == 0 && len(p.Changed) == 0
}

func sameGrant(a, b Entry) bool {
	return a.Audience == b.Audience && slices.Equal(a.Scope, b.Scope) && a.Subject == b.Subject &&
		actorOf(a) == actorOf(b) && a.TTL == b.TTL
}

func actorOf(e Entry) string {
	if e.Act == nil {
		return ""
	}
	return e.Act.Sub
}

// step is one line of a plan in (client, server) order, whatever its kind.
type step struct {
	kind  byte // '+', '-' or '~'
	entry Entry
	// before is the base's entry of a change.
	before Entry
}

func (p *Plan) steps() []step {
	out := make([]step, 0, len(p.Added)+len(p.Removed)+len(p.Changed))
	for _, e := range p.Added {
		out = append(out, step{kind: '+', entry: e})
	}
	for _, e := range p.Removed {
		out = append(out, step{kind: '-', entry: e})
	}
	for _, c := range p.Changed {
		out = append(out, step{kind: '~', entry: c.After, before: c.Before})
	}
	slices.SortFunc(out, func(a, b step) int {
		return cmp.Or(cmp.Compare(a.entry.Client, b.entry.Client), cmp.Compare(a.entry.Server, b.entry.Server))
	})
	return out
}
