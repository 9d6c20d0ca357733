package hclconf

import (
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/tollgate-dev/tollgate/engine/model"
)

// declared remembers where an id was declared, to say so in clashes.
type declared struct {
	kind string
	rng  hcl.Range
}

// validator turns decoded blocks into a model.Config, collecting every
// problem on the way.
type validator struct {
	diags    *hcl.Diagnostics
	cfg      *model.Config
	ids      map[string]declared
	servers  map[string]*model.Server
	clients  map[string]*clientBlock
	accounts map[string]*model.Account
	now      time.Time
}

func validate(files []*fileBody, diags *hcl.Diagnostics) *model.Config {
	v := &validator{
		diags:    diags,
		cfg:      &model.Config{Settings: model.DefaultSettings()},
		ids:      map[string]declared{},
		servers:  map[string]*model.Server{},
		clients:  map[string]*clientBlock{},
		accounts: map[string]*model.Account{},
		now:      time.Now(),
	}
	var settings []*settingsBlock
	var servers []*serverBlock
	var clients []*clientBlock
	var accounts []*accountBlock
	var groups []*groupBlock
	for _, f := range files {
		settings = append(settings, f.Settings...)
		servers = append(servers, f.Servers...)
		clients = append(clients, f.Clients...)
		accounts = append(accounts, f.Accounts...)
		groups = append(groups, f.Groups...)
	}

	for i, s := range settings {
		if i == 0 {
			v.settings(s)
			continue
		}
		v.add(errorAt(s.DefRange, "Duplicate settings block",
			fmt.Sprintf("only one settings block is allowed; the first is at %s.", at(settings[0].DefRange))))
	}
	// Ids first, so every later reference check knows what exists.
	for _, s := range servers {
		v.declare(s.ID, "server", s.DefRange)
	}
	for _, c := range clients {
		if v.declare(c.ID, "client", c.DefRange) {
			v.clients[c.ID] = c
		}
	}
	for _, a := range accounts {
		v.declare(a.ID, "account", a.DefRange)
	}
	for _, g := range groups {
		v.declare(g.ID, "group", g.DefRange)
	}

	for _, s := range servers {
		v.server(s)
	}
	v.checkAudiences(servers)
	for _, a := range accounts {
		v.account(a)
	}
	for _, c := range clients {
		v.client(c)
	}
	for _, g := range groups {
		v.group(g)
	}
	return v.cfg
}

func (v *validator) add(d *hcl.Diagnostic) { *v.diags = append(*v.diags, d) }

// declare records an id, reporting a clash across every kind: no client
// may carry an account's or a server's id (OAuth security BCP: a client
// impersonating a resource owner).
func (v *validator) declare(id, kind string, rng hcl.Range) bool {
	if problem := validID(id); problem != "" {
		v.add(errorAt(rng, "Invalid id", fmt.Sprintf("%s %q: %s.", kind, id, problem)))
		return false
	}
	if first, clash := v.ids[id]; clash {
		v.add(errorAt(rng, "Duplicate id", fmt.Sprintf("%s %q has the same id as the %s declared at %s; ids are unique across clients, servers, accounts and groups.",
			kind, id, first.kind, at(first.rng))))
		return false
	}
	v.ids[id] = declared{kind: kind, rng: rng}
	return true
}

func (v *validator) settings(s *settingsBlock) {
	st := &v.cfg.Settings
	if s.Issuer != nil {
		if issuer, ok := stringValue(s.Issuer, v.diags); ok {
			u, err := url.Parse(issuer)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
				v.add(errorAt(s.Issuer.Range, "Invalid issuer",
					fmt.Sprintf("issuer = %q must be an absolute http(s) URL with no query or fragment (RFC 8414 §2), like \"https://auth.example.com\".", issuer)))
			} else {
				st.Issuer = issuer
			}
		}
	}
	if s.DefaultTokenTTL != nil {
		if d, ok := durationValue(s.DefaultTokenTTL, v.diags); ok {
			st.DefaultTokenTTL = d
		}
	}
	if s.MaxTokenTTL != nil {
		if d, ok := durationValue(s.MaxTokenTTL, v.diags); ok {
			st.MaxTokenTTL = d
		}
	}
	if st.MaxTokenTTL < st.DefaultTokenTTL {
		rng := s.DefRange
		if s.MaxTokenTTL != nil {
			rng = s.MaxTokenTTL.Range
		}
		v.add(errorAt(rng, "max_token_ttl below default_token_ttl",
			fmt.Sprintf("max_token_ttl (%s) must be at least default_token_ttl (%s).", st.MaxTokenTTL, st.DefaultTokenTTL)))
	}
	if s.SigningAlg != nil {
		if alg, ok := stringValue(s.SigningAlg, v.diags); ok {
			switch alg {
			case model.AlgES256, model.AlgEdDSA, model.AlgRS256, model.AlgPS256:
				st.SigningAlg = alg
			default:
				v.add(errorAt(s.SigningAlg.Range, "Unsupported signing_alg",
					fmt.Sprintf("signing_alg = %q: want ES256, EdDSA, RS256 or PS256.", alg)))
			}
		}
	}
}

func (v *validator) ttl(attr *attribute) time.Duration {
	if attr == nil {
		return 0
	}
	d, ok := durationValue(attr, v.diags)
	if !ok {
		return 0
	}
	if max := v.cfg.Settings.MaxTokenTTL; d > max {
		v.add(errorAt(attr.Range, "token_ttl above max_token_ttl",
			fmt.Sprintf("token_ttl (%s) may not exceed the settings' max_token_ttl (%s).", d, max)))
	}
	return d
}

func (v *validator) server(b *serverBlock) {
	s := &model.Server{ID: b.ID, Audience: b.ID}
	if b.Audience != nil {
		if aud, ok := stringValue(b.Audience, v.diags); ok {
			if aud == "" {
				v.add(errorAt(b.Audience.Range, "Empty audience", "audience may not be empty; leave it out to use the server's id."))
			} else {
				s.Audience = aud
			}
		}
	}
	if b.Scopes != nil {
		if scopes, ok := stringList(b.Scopes, v.diags); ok {
			for _, sc := range scopes {
				if !validScope(sc) {
					v.add(errorAt(b.Scopes.Range, "Invalid scope",
						fmt.Sprintf("scope %q may only hold printable ASCII without spaces, quotes or backslashes (RFC 6749 §3.3).", sc)))
				}
			}
			s.Scopes = scopes
		}
	}
	s.TokenTTL = v.ttl(b.TokenTTL)
	s.Secrets = v.secrets("server "+b.ID, b.Secrets)
	v.cfg.Servers = append(v.cfg.Servers, s)
	if first, ok := v.ids[b.ID]; ok && first.kind == "server" && first.rng == b.DefRange {
		v.servers[b.ID] = s
	}
}

// checkAudiences makes every audience value name exactly one server: no
// two servers share one, and none equals the id of any other declaration
// (SPEC §3). A server whose audience is a client's id would let that
// client introspect the server's tokens as their audience; one whose
// audience is an account's or a group's id makes aud and sub ambiguous.
func (v *validator) checkAudiences(blocks []*serverBlock) {
	byAudience := map[string]int{}
	for i, s := range v.cfg.Servers {
		rng := blocks[i].DefRange
		if blocks[i].Audience != nil {
			rng = blocks[i].Audience.Range
		}
		if j, dup := byAudience[s.Audience]; dup {
			v.add(errorAt(rng, "Duplicate audience", fmt.Sprintf("server %q has the audience %q of server %q.", s.ID, s.Audience, v.cfg.Servers[j].ID)))
			continue
		}
		byAudience[s.Audience] = i
		if other, ok := v.servers[s.Audience]; ok && other.ID != s.ID {
			v.add(errorAt(rng, "Audience is another server's id",
				fmt.Sprintf("server %q has the audience %q, which is the id of server %q: a request naming it would be ambiguous.", s.ID, s.Audience, other.ID)))
			continue
		}
		if d, ok := v.ids[s.Audience]; ok && d.kind != "server" {
			v.add(errorAt(rng, "Audience is another declaration's id",
				fmt.Sprintf("server %q has the audience %q, which is the id of the %s declared at %s; an audience may equal no client, account or group id (a client with that id could introspect the server's tokens).",
					s.ID, s.Audience, d.kind, at(d.rng))))
		}
	}
}

// access validates access blocks: each names a server, each scope exists
// on it, and no server is named twice.
func (v *validator) access(owner string, blocks []*accessBlock) []model.Access {
	out := make([]model.Access, 0, len(blocks))
	seen := map[string]hcl.Range{}
	for _, b := range blocks {
		srv, known := v.servers[b.Server]
		if !known {
			detail := fmt.Sprintf("%s has access to %q, which is not a declared server.", owner, b.Server)
			if d, ok := v.ids[b.Server]; ok {
				detail = fmt.Sprintf("%s has access to %q, which is a %s, not a server.", owner, b.Server, d.kind)
			}
			v.add(errorAt(b.DefRange, "Unknown server", detail))
			continue
		}
		if first, dup := seen[b.Server]; dup {
			v.add(errorAt(b.DefRange, "Duplicate access block", fmt.Sprintf("%s already has an access block for %q at %s.", owner, b.Server, at(first))))
			continue
		}
		seen[b.Server] = b.DefRange
		if b.Scopes == nil {
			v.add(errorAt(b.DefRange, "Missing scopes",
				fmt.Sprintf(`access %q needs scopes = [...]: the scopes %s may get, or [] for the audience only.`, b.Server, owner)))
			continue
		}
		scopes, ok := stringList(b.Scopes, v.diags)
		if !ok {
			continue
		}
		for _, sc := range scopes {
			if !slices.Contains(srv.Scopes, sc) {
				v.add(errorAt(b.Scopes.Range, "Unknown scope",
					fmt.Sprintf("server %q defines no scope %q (it defines: %s).", b.Server, sc, quoteList(srv.Scopes))))
			}
		}
		out = append(out, model.Access{Server: b.Server, Scopes: scopes})
	}
	return out
}

func (v *validator) client(b *clientBlock) {
	c := &model.Client{ID: b.ID, AuthMethod: model.AuthClientSecretBasic, AuthMethodImplicit: b.AuthMethod == nil}
	owner := "client " + b.ID
	if b.Name != nil {
		c.Name, _ = stringValue(b.Name, v.diags)
	}
	if b.AuthMethod != nil {
		if method, ok := stringValue(b.AuthMethod, v.diags); ok {
			if _, known := credentialOf[method]; known {
				c.AuthMethod = method
			} else {
				v.add(errorAt(b.AuthMethod.Range, "Unknown auth_method",
					fmt.Sprintf("auth_method = %q: want client_secret_basic, client_secret_post, private_key_jwt or tls_client_auth (leave it out to accept either secret method).", method)))
			}
		}
	}
	c.Secrets = v.secrets(owner, b.Secrets)
	c.PublicKeys = v.publicKeys(owner, b.PublicKeys)
	c.Certificate = v.certificate(owner, b.Certificate)
	v.credentials(owner, b, c)
	c.Access = v.access(owner, b.Access)
	c.TokenTTL = v.ttl(b.TokenTTL)
	if b.RateLimit != nil {
		c.RateLimit, _ = rateValue(b.RateLimit, v.diags)
	}
	if b.Disabled != nil {
		c.Disabled, _ = boolValue(b.Disabled, v.diags)
	}
	if b.Impersonate != nil {
		if account, ok := stringValue(b.Impersonate, v.diags); ok {
			c.Impersonate = account
			acct, known := v.accounts[account]
			switch {
			case !known:
				detail := fmt.Sprintf("%s impersonates %q, which is not a declared account.", owner, account)
				if d, ok := v.ids[account]; ok {
					detail = fmt.Sprintf("%s impersonates %q, which is a %s, not an account.", owner, account, d.kind)
				}
				v.add(errorAt(b.Impersonate.Range, "Unknown account", detail))
			case !slices.Contains(acct.Impersonators, b.ID):
				v.add(errorAt(b.Impersonate.Range, "Impersonation not allowed by the account",
					fmt.Sprintf("account %q does not list %q in its impersonators; both sides must agree.", account, b.ID)))
			}
		}
	}
	v.cfg.Clients = append(v.cfg.Clients, c)
}

func (v *validator) account(b *accountBlock) {
	a := &model.Account{ID: b.ID}
	if b.Impersonators != nil {
		if ids, ok := stringList(b.Impersonators, v.diags); ok {
			a.Impersonators = ids
			for _, id := range ids {
				client, known := v.clients[id]
				switch {
				case !known:
					detail := fmt.Sprintf("account %q lists %q as an impersonator, which is not a declared client.", b.ID, id)
					if d, ok := v.ids[id]; ok {
						detail = fmt.Sprintf("account %q lists %q as an impersonator, which is a %s, not a client.", b.ID, id, d.kind)
					}
					v.add(errorAt(b.Impersonators.Range, "Unknown impersonator", detail))
				case !impersonates(client, b.ID):
					v.add(errorAt(b.Impersonators.Range, "Impersonator does not impersonate",
						fmt.Sprintf("account %q lists client %q, but that client does not say impersonate = %q; both sides must agree.", b.ID, id, b.ID)))
				}
			}
		}
	}
	if b.Attributes != nil {
		a.Attributes, _ = objectValue(b.Attributes, v.diags)
	}
	if b.Disabled != nil {
		a.Disabled, _ = boolValue(b.Disabled, v.diags)
	}
	v.cfg.Accounts = append(v.cfg.Accounts, a)
	if d, ok := v.ids[b.ID]; ok && d.kind == "account" && d.rng == b.DefRange {
		v.accounts[b.ID] = a
	}
}

// impersonates reads a client block's impersonate attribute without
// reporting problems: the client's own validation reports them.
func impersonates(c *clientBlock, account string) bool {
	if c.Impersonate == nil {
		return false
	}
	var ignored hcl.Diagnostics
	name, ok := stringValue(c.Impersonate, &ignored)
	return ok && name == account
}

func (v *validator) group(b *groupBlock) {
	g := &model.Group{ID: b.ID}
	owner := "group " + b.ID
	if b.Members != nil {
		if members, ok := stringList(b.Members, v.diags); ok {
			for _, m := range members {
				d, known := v.ids[m]
				switch {
				case !known:
					v.add(errorAt(b.Members.Range, "Unknown member", fmt.Sprintf("%s lists %q, which is neither a client nor an account.", owner, m)))
				case d.kind != "client" && d.kind != "account":
					v.add(errorAt(b.Members.Range, "Invalid member", fmt.Sprintf("%s lists %q, which is a %s; members are clients or accounts.", owner, m, d.kind)))
				default:
					g.Members = append(g.Members, m)
				}
			}
		}
	}
	g.Access = v.access(owner, b.Access)
	v.cfg.Groups = append(v.cfg.Groups, g)
}

// at formats a position as FILE:LINE:COL, the way problems are printed.
func at(rng hcl.Range) string {
	return fmt.Sprintf("%s:%d:%d", rng.Filename, rng.Start.Line, rng.Start.Column)
}
