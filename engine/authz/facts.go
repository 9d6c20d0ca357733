package authz

import (
	"slices"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/tollgate-dev/tollgate/engine/model"
	"github.com/tollgate-dev/tollgate/engine/store"
)

// facts turns the declarations a request names into policy input terms.
// A client's, account's or server's term depends only on the snapshot, so
// each is built once, on first use, and shared by every later request: a
// request only builds its small "request" object and the outer input.
type facts struct {
	store    *store.Store
	clients  sync.Map // id -> *ast.Term
	accounts sync.Map // id -> *ast.Term
	servers  sync.Map // id -> *ast.Term
}

func newFacts(st *store.Store) *facts { return &facts{store: st} }

var (
	keyRequest      = ast.StringTerm("request")
	keyClient       = ast.StringTerm("client")
	keyAccount      = ast.StringTerm("account")
	keyServers      = ast.StringTerm("servers")
	keyGrantType    = ast.StringTerm("grant_type")
	keyAudience     = ast.StringTerm("audience")
	keyScope        = ast.StringTerm("scope")
	keyAuthMethod   = ast.StringTerm("auth_method")
	keyTime         = ast.StringTerm("time")
	grantTypeCCTerm = ast.StringTerm(GrantTypeClientCredentials)
)

func (f *facts) client(c *model.Client) *ast.Term {
	if t, ok := f.clients.Load(c.ID); ok {
		return t.(*ast.Term)
	}
	groups := f.store.GroupsOf(c.ID)
	doc := map[string]any{
		"id":          c.ID,
		"name":        c.Name,
		"auth_method": c.AuthMethod,
		"access":      accessDoc(c.Access),
		"groups":      groupsDoc(groups),
		"reach":       reachDoc(c.Access, groups),
		"impersonate": c.Impersonate,
		"token_ttl":   int64(c.TokenTTL.Seconds()),
		"disabled":    c.Disabled,
	}
	t := ast.NewTerm(ast.MustInterfaceToValue(doc))
	actual, _ := f.clients.LoadOrStore(c.ID, t)
	return actual.(*ast.Term)
}

func (f *facts) account(a *model.Account) *ast.Term {
	if t, ok := f.accounts.Load(a.ID); ok {
		return t.(*ast.Term)
	}
	attributes := a.Attributes
	if attributes == nil {
		attributes = map[string]any{}
	}
	groups := f.store.GroupsOf(a.ID)
	doc := map[string]any{
		"id":            a.ID,
		"groups":        groupsDoc(groups),
		"reach":         reachDoc(nil, groups),
		"impersonators": stringsOrEmpty(a.Impersonators),
		"attributes":    attributes,
		"disabled":      a.Disabled,
	}
	t := ast.NewTerm(ast.MustInterfaceToValue(doc))
	actual, _ := f.accounts.LoadOrStore(a.ID, t)
	return actual.(*ast.Term)
}

func (f *facts) server(s *model.Server) *ast.Term {
	if t, ok := f.servers.Load(s.ID); ok {
		return t.(*ast.Term)
	}
	doc := map[string]any{
		"id":        s.ID,
		"audience":  s.Audience,
		"scopes":    stringsOrEmpty(s.Scopes),
		"token_ttl": int64(s.TokenTTL.Seconds()),
	}
	t := ast.NewTerm(ast.MustInterfaceToValue(doc))
	actual, _ := f.servers.LoadOrStore(s.ID, t)
	return actual.(*ast.Term)
}

func groupsDoc(groups []*model.Group) []any {
	out := make([]any, len(groups))
	for i, g := range groups {
		out[i] = map[string]any{"id": g.ID, "access": accessDoc(g.Access)}
	}
	return out
}

// Routes name how a principal reaches a server, in reach's "via" lists.
// They read as the end of an allow reason ("client c reaches s through
// group g").
const viaOwnAccess = "its own access"

func viaGroup(id string) string { return "group " + id }

// reachDoc indexes what a principal may get by server: for each server
// that its own access blocks or its groups' name, the union of their
// scopes (sorted) and the routes that give it (own access first, then the
// groups in order). It repeats what access and groups say, joined once
// per snapshot, so that a policy looks a requested server up by key
// instead of walking every group on every decision.
func reachDoc(own []model.Access, groups []*model.Group) map[string]any {
	type route struct {
		scopes []string
		via    []any
	}
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
	out := make(map[string]any, len(routes))
	for server, r := range routes {
		slices.Sort(r.scopes)
		out[server] = map[string]any{
			"scopes": stringsOrEmpty(slices.Compact(r.scopes)),
			"via":    r.via,
		}
	}
	return out
}

func accessDoc(access []model.Access) map[string]any {
	out := make(map[string]any, len(access))
	for _, a := range access {
		out[a.Server] = stringsOrEmpty(a.Scopes)
	}
	return out
}

func stringsOrEmpty(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func stringArray(values []string) *ast.Term {
	terms := make([]*ast.Term, len(values))
	for i, v := range values {
		terms[i] = ast.StringTerm(v)
	}
	return ast.ArrayTerm(terms...)
}

// input builds the whole policy input for one resolved request.
func (f *facts) input(r *resolved) ast.Value {
	request := ast.NewObject(
		[2]*ast.Term{keyGrantType, grantTypeCCTerm},
		[2]*ast.Term{keyAudience, stringArray(r.audience)},
		[2]*ast.Term{keyScope, stringArray(r.scope)},
		[2]*ast.Term{keyAuthMethod, ast.StringTerm(r.authMethod)},
		[2]*ast.Term{keyTime, ast.StringTerm(r.time)},
	)
	servers := ast.NewObject()
	for _, s := range r.servers {
		servers.Insert(ast.StringTerm(s.ID), f.server(s))
	}
	in := ast.NewObject(
		[2]*ast.Term{keyRequest, ast.NewTerm(request)},
		[2]*ast.Term{keyClient, f.client(r.client)},
		[2]*ast.Term{keyServers, ast.NewTerm(servers)},
	)
	if r.account != nil {
		in.Insert(keyAccount, f.account(r.account))
	}
	return in
}
