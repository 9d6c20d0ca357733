package decide

import (
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/tollgate-dev/tollgate/engine/model"
	"github.com/tollgate-dev/tollgate/engine/oauth"
	"github.com/tollgate-dev/tollgate/engine/store"
)

// inputBuilder turns the declarations a request names into policy input terms.
// A client's, account's or server's term depends only on the snapshot, so
// each is built once, on first use, and shared by every later request: a
// request only builds its small "request" object and the outer input.
//
// The terms are built directly, not through ast.InterfaceToValue, with
// every string interned: the same key, server id, scope or route is one
// *ast.Term however many clients name it. Input terms are only read
// during evaluation (they are already shared by concurrent requests), so
// sharing their leaves is as safe; at 10,000 clients it saves a good part
// of the input terms' memory, which a busy reload holds twice.
type inputBuilder struct {
	store    *store.Store
	clients  sync.Map // id -> *ast.Term
	accounts sync.Map // id -> *ast.Term
	servers  sync.Map // id -> *ast.Term
	strings  sync.Map // string -> *ast.Term
	// shared holds the access, group and reach terms by their content:
	// clients with the same access, a group's every member, share one.
	shared sync.Map // kind + content -> *ast.Term
	// settings is the input's settings object, the same for every request.
	settings *ast.Term
}

func newInputBuilder(st *store.Store, settings model.Settings) *inputBuilder {
	return &inputBuilder{store: st, settings: ast.ObjectTerm(
		[2]*ast.Term{ast.StringTerm("default_token_ttl"), ast.IntNumberTerm(int(settings.DefaultTokenTTL.Seconds()))},
		[2]*ast.Term{ast.StringTerm("max_token_ttl"), ast.IntNumberTerm(int(settings.MaxTokenTTL.Seconds()))},
	)}
}

var (
	keyRequest      = ast.StringTerm("request")
	keyClient       = ast.StringTerm("client")
	keyAccount      = ast.StringTerm("account")
	keyServers      = ast.StringTerm("servers")
	keySettings     = ast.StringTerm("settings")
	keyGrantType    = ast.StringTerm("grant_type")
	keyAudience     = ast.StringTerm("audience")
	keyScope        = ast.StringTerm("scope")
	keyAuthMethod   = ast.StringTerm("auth_method")
	keyTime         = ast.StringTerm("time")
	grantTypeCCTerm = ast.StringTerm(oauth.GrantTypeClientCredentials)
)

// str is the interned term of s.
func (f *inputBuilder) str(s string) *ast.Term {
	if t, ok := f.strings.Load(s); ok {
		return t.(*ast.Term)
	}
	t, _ := f.strings.LoadOrStore(s, ast.StringTerm(s))
	return t.(*ast.Term)
}

// strs is an array of interned strings.
func (f *inputBuilder) strs(values []string) *ast.Term {
	terms := make([]*ast.Term, len(values))
	for i, v := range values {
		terms[i] = f.str(v)
	}
	return ast.ArrayTerm(terms...)
}

// byContent returns the term for key, built by build the first time: key
// must say everything the term holds.
func (f *inputBuilder) byContent(key string, build func() *ast.Term) *ast.Term {
	if t, ok := f.shared.Load(key); ok {
		return t.(*ast.Term)
	}
	t, _ := f.shared.LoadOrStore(key, build())
	return t.(*ast.Term)
}

// Content keys join ids and scope tokens with bytes neither may hold.
const (
	sepField = "\x00"
	sepEntry = "\x01"
)

// object builds an object of interned keys from name, value pairs.
func (f *inputBuilder) object(pairs ...any) *ast.Term {
	kvs := make([][2]*ast.Term, 0, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		kvs = append(kvs, [2]*ast.Term{f.str(pairs[i].(string)), pairs[i+1].(*ast.Term)})
	}
	return ast.ObjectTerm(kvs...)
}

func (f *inputBuilder) client(c *model.Client) *ast.Term {
	if t, ok := f.clients.Load(c.ID); ok {
		return t.(*ast.Term)
	}
	groups := f.store.GroupsOf(c.ID)
	t := f.object(
		"id", f.str(c.ID),
		"name", f.str(c.Name),
		"auth_method", f.str(c.AuthMethod),
		"access", f.access(c.Access),
		"groups", f.groups(groups),
		"reach", f.reach(c.Access, groups),
		"impersonate", f.str(c.Impersonate),
		"token_ttl", ast.IntNumberTerm(int(c.TokenTTL.Seconds())),
		"disabled", ast.BooleanTerm(c.Disabled),
	)
	actual, _ := f.clients.LoadOrStore(c.ID, t)
	return actual.(*ast.Term)
}

func (f *inputBuilder) account(a *model.Account) *ast.Term {
	if t, ok := f.accounts.Load(a.ID); ok {
		return t.(*ast.Term)
	}
	attributes := a.Attributes
	if attributes == nil {
		attributes = map[string]any{}
	}
	groups := f.store.GroupsOf(a.ID)
	t := f.object(
		"id", f.str(a.ID),
		"groups", f.groups(groups),
		"reach", f.reach(nil, groups),
		"impersonators", f.strs(a.Impersonators),
		// Attributes are free-form JSON values, few and per account.
		"attributes", ast.NewTerm(ast.MustInterfaceToValue(attributes)),
		"disabled", ast.BooleanTerm(a.Disabled),
	)
	actual, _ := f.accounts.LoadOrStore(a.ID, t)
	return actual.(*ast.Term)
}

func (f *inputBuilder) server(s *model.Server) *ast.Term {
	if t, ok := f.servers.Load(s.ID); ok {
		return t.(*ast.Term)
	}
	t := f.object(
		"id", f.str(s.ID),
		"audience", f.str(s.Audience),
		"scopes", f.strs(s.Scopes),
		"token_ttl", ast.IntNumberTerm(int(s.TokenTTL.Seconds())),
	)
	actual, _ := f.servers.LoadOrStore(s.ID, t)
	return actual.(*ast.Term)
}

func (f *inputBuilder) groups(groups []*model.Group) *ast.Term {
	out := make([]*ast.Term, len(groups))
	for i, g := range groups {
		// A group is the same for each of its members.
		out[i] = f.byContent("group"+sepField+g.ID, func() *ast.Term {
			return f.object("id", f.str(g.ID), "access", f.access(g.Access))
		})
	}
	return ast.ArrayTerm(out...)
}

func (f *inputBuilder) access(access []model.Access) *ast.Term {
	var key strings.Builder
	key.WriteString("access")
	for _, a := range access {
		key.WriteString(sepEntry + a.Server)
		for _, sc := range a.Scopes {
			key.WriteString(sepField + sc)
		}
	}
	return f.byContent(key.String(), func() *ast.Term {
		kvs := make([][2]*ast.Term, len(access))
		for i, a := range access {
			kvs[i] = [2]*ast.Term{f.str(a.Server), f.strs(a.Scopes)}
		}
		return ast.ObjectTerm(kvs...)
	})
}

// Routes name how a principal reaches a server, in reach's "via" lists.
// They read as the end of an allow reason ("client c reaches s through
// group g").
const viaOwnAccess = "its own access"

func viaGroup(id string) string { return "group " + id }

// route is what reach says of one server.
type route struct {
	scopes []string
	via    []string
}

// reachOf indexes what a principal may get by server: for each server
// that its own access blocks or its groups' name, the union of their
// scopes (sorted, distinct) and the routes that give it (own access
// first, then the groups in order). It repeats what access and groups
// say, joined once per snapshot, so that a policy looks a requested server
// up by key instead of walking every group on every decision.
func reachOf(own []model.Access, groups []*model.Group) map[string]*route {
	routes := map[string]*route{}
	add := func(a model.Access, via string) {
		r := routes[a.Server]
		if r == nil {
			r = &route{}
			routes[a.Server] = r
		}
		r.scopes = append(r.scopes, a.Scopes...)
		r.via = append(r.via, via)
	}
	for _, a := range own {
		add(a, viaOwnAccess)
	}
	for _, g := range groups {
		for _, a := range g.Access {
			add(a, viaGroup(g.ID))
		}
	}
	for _, r := range routes {
		slices.Sort(r.scopes)
		r.scopes = slices.Compact(r.scopes)
	}
	return routes
}

func (f *inputBuilder) reach(own []model.Access, groups []*model.Group) *ast.Term {
	routes := reachOf(own, groups)
	servers := slices.Sorted(maps.Keys(routes))
	var key strings.Builder
	key.WriteString("reach")
	for _, server := range servers {
		r := routes[server]
		key.WriteString(sepEntry + server + sepEntry + strings.Join(r.scopes, sepField) + sepEntry + strings.Join(r.via, sepField))
	}
	return f.byContent(key.String(), func() *ast.Term {
		kvs := make([][2]*ast.Term, len(servers))
		for i, server := range servers {
			r := routes[server]
			kvs[i] = [2]*ast.Term{f.str(server), f.object("scopes", f.strs(r.scopes), "via", f.strs(r.via))}
		}
		return ast.ObjectTerm(kvs...)
	})
}

func stringArray(values []string) *ast.Term {
	terms := make([]*ast.Term, len(values))
	for i, v := range values {
		terms[i] = ast.StringTerm(v)
	}
	return ast.ArrayTerm(terms...)
}

// input builds the whole policy input for one resolved request.
func (f *inputBuilder) input(r *resolved) ast.Value {
	request := ast.NewObject(
		[2]*ast.Term{keyGrantType, grantTypeCCTerm},
		[2]*ast.Term{keyAudience, stringArray(r.audience)},
		[2]*ast.Term{keyScope, stringArray(r.scope)},
		[2]*ast.Term{keyAuthMethod, ast.StringTerm(r.authMethod)},
		[2]*ast.Term{keyTime, ast.StringTerm(r.time)},
	)
	// Server ids are declared, so their terms are interned; the request's
	// own values are not, as they are whatever a caller sends.
	servers := ast.NewObject()
	for _, s := range r.servers {
		servers.Insert(f.str(s.ID), f.server(s))
	}
	in := ast.NewObject(
		[2]*ast.Term{keyRequest, ast.NewTerm(request)},
		[2]*ast.Term{keyClient, f.client(r.client)},
		[2]*ast.Term{keyServers, ast.NewTerm(servers)},
		[2]*ast.Term{keySettings, f.settings},
	)
	if r.account != nil {
		in.Insert(keyAccount, f.account(r.account))
	}
	return in
}
