// Package hclconf reads tollgate's HCL declarations into a validated
// model.Config. It decodes with hcl/v2's schema API into structs that
// mirror the files, keeping the source range of every block and attribute,
// then validates the whole set and reports every problem at once as
// hcl.Diagnostics, so each one names FILE:LINE:COL.
package hclconf

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// The file structs mirror the HCL. Attributes are kept as *attribute
// (nil when absent), with their range, so every value error points at the
// value itself. Each
// block has a schema below; hcl rejects any attribute or block a schema does
// not name, so a typo is an error rather than a silently ignored line.
//
// The schemas are written out rather than derived by gohcl from struct
// tags: gohcl reflects over the struct for every block it decodes, which
// for 10,000 clients was a third of everything a load allocated.

type fileBody struct {
	Settings []*settingsBlock
	Servers  []*serverBlock
	Clients  []*clientBlock
	Accounts []*accountBlock
	Groups   []*groupBlock
}

var fileSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
	{Type: "settings"},
	{Type: "server", LabelNames: []string{"id"}},
	{Type: "client", LabelNames: []string{"id"}},
	{Type: "account", LabelNames: []string{"id"}},
	{Type: "group", LabelNames: []string{"id"}},
}}

type settingsBlock struct {
	Issuer          *attribute
	DefaultTokenTTL *attribute
	MaxTokenTTL     *attribute
	SigningAlg      *attribute
	DefRange        hcl.Range
}

var settingsSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "issuer"}, {Name: "default_token_ttl"}, {Name: "max_token_ttl"}, {Name: "signing_alg"},
}}

type serverBlock struct {
	ID       string
	Audience *attribute
	Scopes   *attribute
	TokenTTL *attribute
	Secrets  []*secretBlock
	DefRange hcl.Range
}

var serverSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "audience"}, {Name: "scopes"}, {Name: "token_ttl"}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "secret"}},
}

type secretBlock struct {
	Hash     *attribute
	NotAfter *attribute
	DefRange hcl.Range
}

var secretSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "hash"}, {Name: "not_after"}}}

type publicKeyBlock struct {
	PEM      *attribute
	JWK      *attribute
	NotAfter *attribute
	DefRange hcl.Range
}

var publicKeySchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "pem"}, {Name: "jwk"}, {Name: "not_after"}}}

type certificateBlock struct {
	SubjectDN, SANDNS, SANURI, SANIP, SANEmail *attribute
	DefRange                                   hcl.Range
}

var certificateSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "subject_dn"}, {Name: "san_dns"}, {Name: "san_uri"}, {Name: "san_ip"}, {Name: "san_email"},
}}

type accessBlock struct {
	Server   string
	Scopes   *attribute
	DefRange hcl.Range
}

var accessSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "scopes"}}}

type clientBlock struct {
	ID          string
	Name        *attribute
	AuthMethod  *attribute
	TokenTTL    *attribute
	RateLimit   *attribute
	Impersonate *attribute
	Disabled    *attribute
	Secrets     []*secretBlock
	PublicKeys  []*publicKeyBlock
	Certificate []*certificateBlock
	Access      []*accessBlock
	DefRange    hcl.Range
}

var clientSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "name"}, {Name: "auth_method"}, {Name: "token_ttl"}, {Name: "rate_limit"}, {Name: "impersonate"}, {Name: "disabled"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "secret"}, {Type: "public_key"}, {Type: "certificate"}, {Type: "access", LabelNames: []string{"server"}},
	},
}

type accountBlock struct {
	ID            string
	Impersonators *attribute
	Attributes    *attribute
	Disabled      *attribute
	DefRange      hcl.Range
}

var accountSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "impersonators"}, {Name: "attributes"}, {Name: "disabled"},
}}

type groupBlock struct {
	ID       string
	Members  *attribute
	Access   []*accessBlock
	DefRange hcl.Range
}

var groupSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "members"}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "access", LabelNames: []string{"server"}}},
}

// decodeFile reads one file's blocks against the schemas above.
func decodeFile(body hcl.Body) (*fileBody, hcl.Diagnostics) {
	content, diags := body.Content(fileSchema)
	out := &fileBody{}
	for _, blk := range content.Blocks {
		c, d := blk.Body.Content(schemaOf(blk.Type))
		diags = append(diags, d...)
		switch blk.Type {
		case "settings":
			out.Settings = append(out.Settings, &settingsBlock{
				Issuer: attr(c.Attributes, "issuer"), DefaultTokenTTL: attr(c.Attributes, "default_token_ttl"),
				MaxTokenTTL: attr(c.Attributes, "max_token_ttl"), SigningAlg: attr(c.Attributes, "signing_alg"), DefRange: blk.DefRange,
			})
		case "server":
			srv := &serverBlock{
				ID: blk.Labels[0], Audience: attr(c.Attributes, "audience"), Scopes: attr(c.Attributes, "scopes"),
				TokenTTL: attr(c.Attributes, "token_ttl"), DefRange: blk.DefRange,
			}
			srv.Secrets, d = decodeSecrets(c.Blocks)
			diags = append(diags, d...)
			out.Servers = append(out.Servers, srv)
		case "client":
			cl := &clientBlock{
				ID: blk.Labels[0], Name: attr(c.Attributes, "name"), AuthMethod: attr(c.Attributes, "auth_method"),
				TokenTTL: attr(c.Attributes, "token_ttl"), RateLimit: attr(c.Attributes, "rate_limit"),
				Impersonate: attr(c.Attributes, "impersonate"), Disabled: attr(c.Attributes, "disabled"), DefRange: blk.DefRange,
			}
			cl.Secrets, d = decodeSecrets(c.Blocks)
			diags = append(diags, d...)
			cl.PublicKeys, d = decodePublicKeys(c.Blocks)
			diags = append(diags, d...)
			cl.Certificate, d = decodeCertificates(c.Blocks)
			diags = append(diags, d...)
			cl.Access, d = decodeAccess(c.Blocks)
			diags = append(diags, d...)
			out.Clients = append(out.Clients, cl)
		case "account":
			out.Accounts = append(out.Accounts, &accountBlock{
				ID: blk.Labels[0], Impersonators: attr(c.Attributes, "impersonators"), Attributes: attr(c.Attributes, "attributes"),
				Disabled: attr(c.Attributes, "disabled"), DefRange: blk.DefRange,
			})
		case "group":
			g := &groupBlock{ID: blk.Labels[0], Members: attr(c.Attributes, "members"), DefRange: blk.DefRange}
			g.Access, d = decodeAccess(c.Blocks)
			diags = append(diags, d...)
			out.Groups = append(out.Groups, g)
		}
	}
	return out, diags
}

// attribute is an attribute as decoding leaves it: its value, evaluated
// once, and where its expression is, for diagnostics. A parse cache holds
// these rather than the syntax tree, which is several times larger.
type attribute struct {
	Name  string
	Value cty.Value
	// Diags are the problems evaluating it found; they are reported when
	// validation reads the value, as they were when it evaluated it.
	Diags hcl.Diagnostics
	Range hcl.Range
}

// attr evaluates attrs[name], or returns nil when it is not set. Values
// are literals: no variables or functions exist in a declaration, so a
// nil evaluation context makes any reference an error at its position.
func attr(attrs hcl.Attributes, name string) *attribute {
	a := attrs[name]
	if a == nil {
		return nil
	}
	rng := a.Expr.Range()
	if rng.End.Byte-rng.Start.Byte > MaxValueBytes {
		// Not evaluated: nothing would use it, and evaluating a long chain
		// of operators recurses once per operator.
		return &attribute{Name: name, Value: cty.NilVal, Range: rng, Diags: hcl.Diagnostics{errorAt(rng, "Value too large",
			fmt.Sprintf("%s is %d bytes long; a value may be at most %d KiB.", name, rng.End.Byte-rng.Start.Byte, MaxValueBytes>>10))}}
	}
	v, diags := a.Expr.Value(nil)
	for _, d := range diags {
		// They point into the syntax tree, which nothing reads from them.
		d.Expression, d.EvalContext = nil, nil
	}
	return &attribute{Name: name, Value: v, Diags: diags, Range: rng}
}

func schemaOf(blockType string) *hcl.BodySchema {
	switch blockType {
	case "settings":
		return settingsSchema
	case "server":
		return serverSchema
	case "client":
		return clientSchema
	case "account":
		return accountSchema
	default:
		return groupSchema
	}
}

// nested decodes the blocks of one type nested in a client or server
// with their schema, each made into a T by build.
func nested[T any](blocks hcl.Blocks, typ string, schema *hcl.BodySchema, build func(*hcl.Block, hcl.Attributes) T) ([]T, hcl.Diagnostics) {
	var out []T
	var diags hcl.Diagnostics
	for _, blk := range blocks.OfType(typ) {
		c, d := blk.Body.Content(schema)
		diags = append(diags, d...)
		out = append(out, build(blk, c.Attributes))
	}
	return out, diags
}

func decodeSecrets(blocks hcl.Blocks) ([]*secretBlock, hcl.Diagnostics) {
	return nested(blocks, "secret", secretSchema, func(blk *hcl.Block, a hcl.Attributes) *secretBlock {
		return &secretBlock{Hash: attr(a, "hash"), NotAfter: attr(a, "not_after"), DefRange: blk.DefRange}
	})
}

func decodePublicKeys(blocks hcl.Blocks) ([]*publicKeyBlock, hcl.Diagnostics) {
	return nested(blocks, "public_key", publicKeySchema, func(blk *hcl.Block, a hcl.Attributes) *publicKeyBlock {
		return &publicKeyBlock{PEM: attr(a, "pem"), JWK: attr(a, "jwk"), NotAfter: attr(a, "not_after"), DefRange: blk.DefRange}
	})
}

func decodeCertificates(blocks hcl.Blocks) ([]*certificateBlock, hcl.Diagnostics) {
	return nested(blocks, "certificate", certificateSchema, func(blk *hcl.Block, a hcl.Attributes) *certificateBlock {
		return &certificateBlock{
			SubjectDN: attr(a, "subject_dn"), SANDNS: attr(a, "san_dns"), SANURI: attr(a, "san_uri"),
			SANIP: attr(a, "san_ip"), SANEmail: attr(a, "san_email"), DefRange: blk.DefRange,
		}
	})
}

func decodeAccess(blocks hcl.Blocks) ([]*accessBlock, hcl.Diagnostics) {
	return nested(blocks, "access", accessSchema, func(blk *hcl.Block, a hcl.Attributes) *accessBlock {
		return &accessBlock{Server: blk.Labels[0], Scopes: attr(a, "scopes"), DefRange: blk.DefRange}
	})
}
