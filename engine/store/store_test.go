package store_test

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/engine/model"
	"github.com/tollgate-dev/tollgate/engine/store"
)

func testConfig() *model.Config {
	return &model.Config{
		Settings: model.DefaultSettings(),
		Servers: []*model.Server{
			{ID: "world-mappers", Audience: "https://api.worldmappers.example", Scopes: []string{"read:directions"}},
			{ID: "ledger-api", Audience: "ledger-api", Scopes: []string{"read:ledger"}},
		},
		Clients: []*model.Client{
			{ID: "gift-deliveries", Access: []model.Access{{Server: "world-mappers", Scopes: []string{"read:directions"}}}},
			{ID: "report-cli", Impersonate: "svc-reports"},
		},
		Accounts: []*model.Account{{ID: "svc-reports", Impersonators: []string{"report-cli"}}},
		Groups: []*model.Group{
			{ID: "finance-readers", Members: []string{"svc-reports", "gift-deliveries"},
				Access: []model.Access{{Server: "ledger-api", Scopes: []string{"read:ledger"}}}},
			{ID: "auditors", Members: []string{"svc-reports"}},
		},
	}
}

func TestStoreAnswersLookups(t *testing.T) {
	s, err := store.New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	ids := func(groups []*model.Group) []string {
		out := []string{}
		for _, g := range groups {
			out = append(out, g.ID)
		}
		return out
	}
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"client by id", must(s.Client("gift-deliveries")).ID, "gift-deliveries"},
		{"server by audience", must(s.ServerByAudience("https://api.worldmappers.example")).ID, "world-mappers"},
		{"server named by audience", must(s.ServerNamed("https://api.worldmappers.example")).ID, "world-mappers"},
		{"server named by id", must(s.ServerNamed("world-mappers")).ID, "world-mappers"},
		{"server whose audience is its id", must(s.ServerNamed("ledger-api")).ID, "ledger-api"},
		{"groups of account, ordered", ids(s.GroupsOf("svc-reports")), []string{"auditors", "finance-readers"}},
		{"groups of client", ids(s.GroupsOf("gift-deliveries")), []string{"finance-readers"}},
		{"groups of nobody", ids(s.GroupsOf("nobody")), []string{}},
		{"members of group", s.MembersOf("finance-readers"), []string{"gift-deliveries", "svc-reports"}},
		{"members of nothing", s.MembersOf("nobody"), []string{}},
		{"groups of a member whose id is a prefix of another's", ids(s.GroupsOf("svc")), []string{}},
		{"counts", s.Counts(), store.Counts{Clients: 2, Servers: 2, Accounts: 1, Groups: 2}},
		{"account", must(s.Account("svc-reports")).Impersonators, []string{"report-cli"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
	for _, missing := range []string{"", "svc-reports", "GIFT-DELIVERIES"} {
		if _, ok := s.Client(missing); ok {
			t.Errorf("Client(%q) found, want not found (ids are case-sensitive and kinds separate)", missing)
		}
	}
	if _, ok := s.ServerNamed("https://unknown.example"); ok {
		t.Error("unknown audience resolved to a server")
	}
}

func must[T any](v T, ok bool) T {
	if !ok {
		panic("not found")
	}
	return v
}

func TestStoreRefusesDuplicates(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*model.Config)
	}{
		{"client id", func(c *model.Config) { c.Clients = append(c.Clients, &model.Client{ID: "report-cli"}) }},
		{"server audience", func(c *model.Config) {
			c.Servers = append(c.Servers, &model.Server{ID: "other", Audience: "ledger-api"})
		}},
		{"access block twice", func(c *model.Config) {
			c.Clients[0].Access = append(c.Clients[0].Access, model.Access{Server: "world-mappers"})
		}},
		{"group access block twice", func(c *model.Config) {
			c.Groups[0].Access = append(c.Groups[0].Access, model.Access{Server: "ledger-api"})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			tt.mutate(cfg)
			if _, err := store.New(cfg); err == nil {
				t.Fatal("New accepted a duplicate")
			}
		})
	}
}

func BenchmarkLookups(b *testing.B) {
	cfg := testConfig()
	for i := range 10000 {
		cfg.Clients = append(cfg.Clients, &model.Client{ID: fmt.Sprintf("client-%05d", i)})
	}
	s, err := store.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		s.Client("client-05000")
		s.ServerNamed("https://api.worldmappers.example")
		s.GroupsOf("gift-deliveries")
	}
}

// TestNextAnswersAsNew: a store built by Next from the last one answers
// every lookup as a store built from nothing, after each kind of change a
// reload brings; the last store is left as it was; and what did not
// change is shared between them.
func TestNextAnswersAsNew(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*model.Config)
	}{
		{"nothing", func(*model.Config) {}},
		{"client added", func(c *model.Config) {
			c.Clients = append(c.Clients, &model.Client{ID: "new-cli", Access: []model.Access{{Server: "ledger-api", Scopes: []string{"read:ledger"}}}})
		}},
		{"client removed", func(c *model.Config) { c.Clients = c.Clients[1:] }},
		{"client access changed", func(c *model.Config) {
			c.Clients[0].Access = []model.Access{{Server: "ledger-api"}}
		}},
		{"server audience changed", func(c *model.Config) { c.Servers[0].Audience = "https://maps.example" }},
		{"server removed", func(c *model.Config) {
			c.Servers = c.Servers[1:]
			c.Clients[0].Access = nil
		}},
		{"group members changed", func(c *model.Config) { c.Groups[0].Members = []string{"report-cli"} }},
		{"group removed", func(c *model.Config) { c.Groups = c.Groups[1:] }},
		{"account changed", func(c *model.Config) { c.Accounts[0].Disabled = true }},
		{"group becomes a client", func(c *model.Config) {
			c.Groups = c.Groups[1:]
			c.Clients = append(c.Clients, &model.Client{ID: "finance-readers", Access: []model.Access{{Server: "world-mappers"}}})
		}},
		{"client becomes a group", func(c *model.Config) {
			c.Clients = c.Clients[:1]
			c.Groups = append(c.Groups, &model.Group{ID: "report-cli", Members: []string{"gift-deliveries"},
				Access: []model.Access{{Server: "world-mappers", Scopes: []string{"read:directions"}}}})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			last, err := store.New(testConfig())
			if err != nil {
				t.Fatal(err)
			}
			before := dump(last)
			cfg := testConfig()
			tt.mutate(cfg)
			fresh, err := store.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			next, err := last.Next(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := dump(next), dump(fresh); got != want {
				t.Errorf("Next:\n%s\nNew:\n%s", got, want)
			}
			if after := dump(last); after != before {
				t.Errorf("Next changed the last store:\n%s\nwas:\n%s", after, before)
			}
			// Unchanged declarations are the last store's own objects.
			for _, c := range cfg.Clients {
				if old, ok := last.Client(c.ID); ok && reflect.DeepEqual(old, c) && old != must(next.Client(c.ID)) {
					t.Errorf("client %s is equal to the last store's but not shared", c.ID)
				}
			}
		})
	}
}

// TestNextLeavesItsInputAlone: Next does not rewrite the configuration
// it is given; the store's own Config holds the shared objects, by which
// a reload tells an unchanged declaration.
func TestNextLeavesItsInputAlone(t *testing.T) {
	last, err := store.New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	given := slices.Clone(cfg.Clients)
	next, err := last.Next(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cfg.Clients {
		if c != given[i] {
			t.Errorf("Next replaced client %s in the configuration it was given", c.ID)
		}
	}
	for _, c := range next.Config().Clients {
		if c != must(last.Client(c.ID)) {
			t.Errorf("client %s of the new store's Config is not the last store's object", c.ID)
		}
	}
}

func TestNextRefusesDuplicates(t *testing.T) {
	last, err := store.New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	// A new server taking an existing server's audience.
	cfg.Servers = append(cfg.Servers, &model.Server{ID: "maps", Audience: "https://api.worldmappers.example"})
	if _, err := last.Next(cfg); err == nil {
		t.Error("Next accepted a duplicate audience")
	}
	cfg = testConfig()
	cfg.Clients = append(cfg.Clients, &model.Client{ID: "gift-deliveries"})
	if _, err := last.Next(cfg); err == nil {
		t.Error("Next accepted a duplicate client id")
	}
}

// dump is everything a store answers, as text.
func dump(s *store.Store) string {
	var b strings.Builder
	fmt.Fprintf(&b, "counts %+v\n", s.Counts())
	ids := map[string]bool{}
	for _, srv := range s.Servers() {
		fmt.Fprintf(&b, "server %+v by audience %v\n", *srv, must(s.ServerByAudience(srv.Audience)).ID)
		ids[srv.ID] = true
	}
	for _, c := range s.Clients() {
		fmt.Fprintf(&b, "client %+v\n", *c)
		ids[c.ID] = true
	}
	for _, id := range []string{"svc-reports", "finance-readers", "auditors", "report-cli", "new-cli"} {
		ids[id] = true
	}
	for _, id := range slices.Sorted(maps.Keys(ids)) {
		if a, ok := s.Account(id); ok {
			fmt.Fprintf(&b, "account %+v\n", *a)
		}
		if g, ok := s.Group(id); ok {
			fmt.Fprintf(&b, "group %+v\n", *g)
		}
		for _, g := range s.GroupsOf(id) {
			fmt.Fprintf(&b, "%s in %s\n", id, g.ID)
		}
		fmt.Fprintf(&b, "members of %s: %v\n", id, s.MembersOf(id))
	}
	return b.String()
}
