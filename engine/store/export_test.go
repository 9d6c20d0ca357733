package store

import (
	"slices"

	"github.com/tollgate-dev/tollgate/engine/model"
)

// The queries below only tests ask: the service reads a store by client,
// server name, account and membership (query.go).

// Servers returns every server, ordered by id.
func (s *Store) Servers() []*model.Server {
	return all[*model.Server](s, tableServers, "id")
}

// Clients returns every client, ordered by id.
func (s *Store) Clients() []*model.Client {
	return all[*model.Client](s, tableClients, "id")
}

// Group returns the group with the given id.
func (s *Store) Group(id string) (*model.Group, bool) { return s.group(id) }

// MembersOf returns the ids of a group's members, ordered by id.
func (s *Store) MembersOf(group string) []string {
	g, ok := s.group(group)
	if !ok {
		return []string{}
	}
	members := slices.Clone(g.Members)
	slices.Sort(members)
	return slices.Compact(members)
}
