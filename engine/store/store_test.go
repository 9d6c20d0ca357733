package store_test

import (
	"fmt"
	"reflect"
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
		{"grants of group", len(s.GrantsOf("finance-readers")), 1},
		{"grants for server", len(s.GrantsFor("ledger-api")), 1},
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
