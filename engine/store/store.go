// Package store holds a loaded configuration in a go-memdb database and
// answers the questions a token request asks of it: who is this client, which
// server does this audience name, which groups is this member in. A Store is
// written once when a configuration is loaded and only read afterwards, so it
// is an immutable snapshot that any number of requests may read at once.
package store

import (
	"fmt"

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
	tableGrants      = "grants"
)

// Membership says that Member (a client or account id) is in Group.
type Membership struct {
	Member string
	Group  string
}

// Grant is one access block: Holder (a client or group id) may get Scopes
// from Server.
type Grant struct {
	Holder string
	Server string
	Scopes []string
}

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
			"member": {Name: "member", Indexer: &memdb.StringFieldIndex{Field: "Member"}},
			"group":  {Name: "group", Indexer: &memdb.StringFieldIndex{Field: "Group"}},
		}},
		tableGrants: {Name: tableGrants, Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: &memdb.CompoundIndex{Indexes: []memdb.Indexer{
				&memdb.StringFieldIndex{Field: "Holder"}, &memdb.StringFieldIndex{Field: "Server"},
			}}},
			"holder": {Name: "holder", Indexer: &memdb.StringFieldIndex{Field: "Holder"}},
			"server": {Name: "server", Indexer: &memdb.StringFieldIndex{Field: "Server"}},
		}},
	}}
}

// Store is a read-only view of one configuration.
type Store struct {
	db       *memdb.MemDB
	settings model.Settings
	counts   Counts
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
	txn := db.Txn(true)
	defer txn.Abort()
	insert := func(table string, obj any) error {
		if err := txn.Insert(table, obj); err != nil {
			return fmt.Errorf("store: insert into %s: %w", table, err)
		}
		return nil
	}
	unique := func(table, id string) error {
		if existing, _ := txn.First(table, "id", id); existing != nil {
			return fmt.Errorf("store: duplicate %s id %q", table, id)
		}
		return nil
	}
	grant := func(holder string, access []model.Access) error {
		for _, a := range access {
			if existing, _ := txn.First(tableGrants, "id", holder, a.Server); existing != nil {
				return fmt.Errorf("store: %q has two access blocks for server %q", holder, a.Server)
			}
			if err := insert(tableGrants, &Grant{Holder: holder, Server: a.Server, Scopes: a.Scopes}); err != nil {
				return err
			}
		}
		return nil
	}
	for _, s := range cfg.Servers {
		if err := unique(tableServers, s.ID); err != nil {
			return nil, err
		}
		if existing, _ := txn.First(tableServers, "audience", s.Audience); existing != nil {
			return nil, fmt.Errorf("store: duplicate server audience %q", s.Audience)
		}
		if err := insert(tableServers, s); err != nil {
			return nil, err
		}
	}
	for _, c := range cfg.Clients {
		if err := unique(tableClients, c.ID); err != nil {
			return nil, err
		}
		if err := insert(tableClients, c); err != nil {
			return nil, err
		}
		if err := grant(c.ID, c.Access); err != nil {
			return nil, err
		}
	}
	for _, a := range cfg.Accounts {
		if err := unique(tableAccounts, a.ID); err != nil {
			return nil, err
		}
		if err := insert(tableAccounts, a); err != nil {
			return nil, err
		}
	}
	for _, g := range cfg.Groups {
		if err := unique(tableGroups, g.ID); err != nil {
			return nil, err
		}
		if err := insert(tableGroups, g); err != nil {
			return nil, err
		}
		if err := grant(g.ID, g.Access); err != nil {
			return nil, err
		}
		for _, m := range g.Members {
			if err := insert(tableMemberships, &Membership{Member: m, Group: g.ID}); err != nil {
				return nil, err
			}
		}
	}
	txn.Commit()
	return &Store{db: db, settings: cfg.Settings, counts: Counts{
		Clients: len(cfg.Clients), Servers: len(cfg.Servers), Accounts: len(cfg.Accounts), Groups: len(cfg.Groups),
	}}, nil
}
