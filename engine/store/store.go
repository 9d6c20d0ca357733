// Package store holds a loaded configuration in a go-memdb database and
// answers the questions a token request asks of it: who is this client, which
// server does this audience name, which groups is this member in. A Store is
// written once when a configuration is loaded and only read afterwards, so it
// is an immutable snapshot that any number of requests may read at once.
package store

import (
	"fmt"
	"reflect"
	"slices"

	"github.com/hashicorp/go-memdb"

	"github.com/tollgate-dev/tollgate/engine/model"
)

// Table names.
const (
	tableClients     = "clients"
	tableServers     = "servers"
	tableAccounts    = "accounts"
	tableGroups      = "groups"
	tableMemberships = "memberships"
)

// Membership says that Member (a client or account id) is in Group.
type Membership struct {
	Member string
	Group  string
}

// schema has one index per table: every index is a radix tree with a node
// per key, and the store's memory, which a reload briefly holds twice,
// is mostly those nodes. Access blocks are read from their client's or
// group's own row; a member's groups are a prefix scan of the membership
// index, whose key starts with the member.
func schema() *memdb.DBSchema {
	byID := func(field string) *memdb.IndexSchema {
		return &memdb.IndexSchema{Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: field}}
	}
	return &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
		tableClients:  {Name: tableClients, Indexes: map[string]*memdb.IndexSchema{"id": byID("ID")}},
		tableAccounts: {Name: tableAccounts, Indexes: map[string]*memdb.IndexSchema{"id": byID("ID")}},
		tableGroups:   {Name: tableGroups, Indexes: map[string]*memdb.IndexSchema{"id": byID("ID")}},
		tableServers: {Name: tableServers, Indexes: map[string]*memdb.IndexSchema{
			"id":       byID("ID"),
			"audience": {Name: "audience", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Audience"}},
		}},
		tableMemberships: {Name: tableMemberships, Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: &memdb.CompoundIndex{Indexes: []memdb.Indexer{
				&memdb.StringFieldIndex{Field: "Member"}, &memdb.StringFieldIndex{Field: "Group"},
			}}},
		}},
	}}
}

// Store is a read-only view of one configuration.
type Store struct {
	db     *memdb.MemDB
	config *model.Config
	counts Counts
}

// Counts are the sizes of a configuration, for metrics and logs.
type Counts struct {
	Clients, Servers, Accounts, Groups int
}

// New loads a validated configuration into a new Store. It expects cfg to
// have passed hclconf validation; it still refuses duplicates, because a
// store that silently kept one of two clients would be a security bug.
func New(cfg *model.Config) (*Store, error) {
	db, err := memdb.NewMemDB(schema())
	if err != nil {
		return nil, fmt.Errorf("store: schema: %w", err)
	}
	return (&Store{db: db}).Next(cfg)
}

// Next builds the store of cfg from s, as a reload does: the memdb trees
// are shared with s, and only the declarations cfg adds, changes or drops
// are written. A reload after an edit of one file writes a few rows
// instead of every row, and leaves no garbage of the rest. s itself does
// not change and may be read all along.
//
// cfg is not changed. The new store's Config is cfg with each object
// equal to s's object of the same id replaced by s's: the two stores
// share it, and the copy the reload made is dropped at once rather than
// kept. Model objects are never modified after loading, so sharing them
// is safe; a reload tells an unchanged declaration by its pointer.
func (s *Store) Next(cfg *model.Config) (*Store, error) {
	cfg = &model.Config{
		Settings: cfg.Settings,
		Servers:  slices.Clone(cfg.Servers),
		Clients:  slices.Clone(cfg.Clients),
		Accounts: slices.Clone(cfg.Accounts),
		Groups:   slices.Clone(cfg.Groups),
	}
	db := s.db.Snapshot()
	txn := db.Txn(true)
	defer txn.Abort()
	dropGroup := func(g *model.Group) error {
		for _, m := range g.Members {
			if _, err := txn.DeleteAll(tableMemberships, "id", m, g.ID); err != nil {
				return err
			}
		}
		return nil
	}
	addGroup := func(g *model.Group) error {
		if err := uniqueAccess(g.ID, g.Access); err != nil {
			return err
		}
		for _, m := range g.Members {
			if err := txn.Insert(tableMemberships, &Membership{Member: m, Group: g.ID}); err != nil {
				return fmt.Errorf("store: insert into %s: %w", tableMemberships, err)
			}
		}
		return nil
	}
	servers := table[model.Server]{name: tableServers, objs: cfg.Servers, id: func(o *model.Server) string { return o.ID }}
	clients := table[model.Client]{name: tableClients, objs: cfg.Clients, id: func(o *model.Client) string { return o.ID },
		add: func(c *model.Client) error { return uniqueAccess(c.ID, c.Access) }}
	accounts := table[model.Account]{name: tableAccounts, objs: cfg.Accounts, id: func(o *model.Account) string { return o.ID }}
	groups := table[model.Group]{name: tableGroups, objs: cfg.Groups, id: func(o *model.Group) string { return o.ID }, drop: dropGroup, add: addGroup}
	// Every table is pruned before any is written, so an id that moves
	// from one kind to another (a group that becomes a client) never meets
	// the rows of its former self.
	for _, step := range []func(*memdb.Txn) error{
		servers.prune, clients.prune, accounts.prune, groups.prune,
		servers.upsert, clients.upsert, accounts.upsert, groups.upsert,
	} {
		if err := step(txn); err != nil {
			return nil, err
		}
	}
	// Audiences are unique too; memdb would overwrite a duplicate's index
	// entry silently, so every server must still be found by its own.
	for _, srv := range cfg.Servers {
		if found, _ := txn.First(tableServers, "audience", srv.Audience); found == nil || found.(*model.Server).ID != srv.ID {
			return nil, fmt.Errorf("store: duplicate server audience %q", srv.Audience)
		}
	}
	txn.Commit()
	return &Store{db: db, config: cfg, counts: Counts{
		Clients: len(cfg.Clients), Servers: len(cfg.Servers), Accounts: len(cfg.Accounts), Groups: len(cfg.Groups),
	}}, nil
}

// uniqueAccess refuses two access blocks for one server: a store that
// kept one of them silently would be a security bug.
func uniqueAccess(holder string, access []model.Access) error {
	for i, a := range access {
		for _, b := range access[:i] {
			if a.Server == b.Server {
				return fmt.Errorf("store: %q has two access blocks for server %q", holder, a.Server)
			}
		}
	}
	return nil
}

// table is how Next brings one memdb table to hold exactly objs. drop,
// when set, deletes the rows derived from an object (a group's
// memberships); add, when set, checks an object and writes its rows.
type table[T any] struct {
	name string
	objs []*T
	id   func(*T) string
	drop func(*T) error
	add  func(*T) error
}

// prune deletes the rows of objects objs does not hold, with their
// derived rows.
func (t table[T]) prune(txn *memdb.Txn) error {
	want := make(map[string]bool, len(t.objs))
	for _, obj := range t.objs {
		want[t.id(obj)] = true
	}
	// Collected first: memdb's iterators must not see their table change.
	var gone []*T
	it, err := txn.Get(t.name, "id")
	if err != nil {
		return fmt.Errorf("store: %s: %w", t.name, err)
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if obj := raw.(*T); !want[t.id(obj)] {
			gone = append(gone, obj)
		}
	}
	for _, obj := range gone {
		if err := txn.Delete(t.name, obj); err != nil {
			return fmt.Errorf("store: delete from %s: %w", t.name, err)
		}
		if t.drop == nil {
			continue
		}
		if err := t.drop(obj); err != nil {
			return fmt.Errorf("store: %s %q: %w", t.name, t.id(obj), err)
		}
	}
	return nil
}

// upsert keeps the rows equal to an object of objs, putting the kept row
// in objs in the object's place, and writes the new and changed ones.
func (t table[T]) upsert(txn *memdb.Txn) error {
	seen := make(map[string]bool, len(t.objs))
	for i, obj := range t.objs {
		key := t.id(obj)
		if seen[key] {
			return fmt.Errorf("store: duplicate %s id %q", t.name, key)
		}
		seen[key] = true
		raw, err := txn.First(t.name, "id", key)
		if err != nil {
			return fmt.Errorf("store: %s: %w", t.name, err)
		}
		if old, ok := raw.(*T); ok {
			if old == obj || reflect.DeepEqual(old, obj) {
				t.objs[i] = old
				continue
			}
			if t.drop != nil {
				if err := t.drop(old); err != nil {
					return fmt.Errorf("store: %s %q: %w", t.name, key, err)
				}
			}
		}
		if err := txn.Insert(t.name, obj); err != nil {
			return fmt.Errorf("store: insert into %s: %w", t.name, err)
		}
		if t.add != nil {
			if err := t.add(obj); err != nil {
				return err
			}
		}
	}
	return nil
}
