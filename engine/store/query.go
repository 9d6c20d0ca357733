package store

import (
	"github.com/hashicorp/go-memdb"

	"github.com/tollgate-dev/tollgate/engine/model"
)

// Each query opens its own read transaction: in go-memdb that only takes the
// current root of an immutable radix tree, so it costs next to nothing and
// never blocks.

func first[T any](s *Store, table, index string, key string) (T, bool) {
	var zero T
	raw, err := s.db.Txn(false).First(table, index, key)
	if err != nil || raw == nil {
		return zero, false
	}
	v, ok := raw.(T)
	return v, ok
}

func all[T any](s *Store, table, index string, args ...any) []T {
	it, err := s.db.Txn(false).Get(table, index, args...)
	if err != nil {
		return nil
	}
	return collect[T](it)
}

func collect[T any](it memdb.ResultIterator) []T {
	var out []T
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(T))
	}
	return out
}

// Counts returns the configuration's sizes.
func (s *Store) Counts() Counts { return s.counts }

// Config is the configuration the store holds: the one it was built
// from, sharing the objects of the store it was built from wherever they
// did not change (see Next).
func (s *Store) Config() *model.Config { return s.config }

// Client returns the client with the given client_id.
func (s *Store) Client(id string) (*model.Client, bool) {
	return first[*model.Client](s, tableClients, "id", id)
}

// server returns the server with the given id.
func (s *Store) server(id string) (*model.Server, bool) {
	return first[*model.Server](s, tableServers, "id", id)
}

// ServerByAudience returns the server whose aud value is audience.
func (s *Store) ServerByAudience(audience string) (*model.Server, bool) {
	return first[*model.Server](s, tableServers, "audience", audience)
}

// ServerNamed returns the server that value names, by audience first and
// then by id: both spellings are accepted in audience, resource and scope
// parameters. Load-time validation guarantees the two cannot disagree.
func (s *Store) ServerNamed(value string) (*model.Server, bool) {
	if srv, ok := s.ServerByAudience(value); ok {
		return srv, true
	}
	return s.server(value)
}

// Account returns the service account with the given id.
func (s *Store) Account(id string) (*model.Account, bool) {
	return first[*model.Account](s, tableAccounts, "id", id)
}

// group returns the group with the given id.
func (s *Store) group(id string) (*model.Group, bool) {
	return first[*model.Group](s, tableGroups, "id", id)
}

// GroupsOf returns the groups member (a client or account id) is in,
// ordered by group id.
func (s *Store) GroupsOf(member string) []*model.Group {
	// The membership key is member, NUL, group, NUL: the prefix of member
	// and an empty group name matches this member's rows and no other's.
	memberships := all[*Membership](s, tableMemberships, "id_prefix", member, "")
	groups := make([]*model.Group, 0, len(memberships))
	for _, m := range memberships {
		if g, ok := s.group(m.Group); ok {
			groups = append(groups, g)
		}
	}
	return groups
}
