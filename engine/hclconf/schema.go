// Package hclconf reads tollgate's HCL declarations into a validated
// model.Config. It decodes with gohcl into structs that mirror the files,
// keeping the source range of every block and attribute, then validates the
// whole set and reports every problem at once as hcl.Diagnostics, so each
// one names FILE:LINE:COL.
package hclconf

import "github.com/hashicorp/hcl/v2"

// The file structs mirror the HCL. Attributes are kept as *hcl.Attribute
// (nil when absent) so every value error points at the value itself; gohcl
// rejects any attribute or block not named here, so a typo is an error
// rather than a silently ignored line.

type fileBody struct {
	Settings []*settingsBlock `hcl:"settings,block"`
	Servers  []*serverBlock   `hcl:"server,block"`
	Clients  []*clientBlock   `hcl:"client,block"`
	Accounts []*accountBlock  `hcl:"account,block"`
	Groups   []*groupBlock    `hcl:"group,block"`
}

type settingsBlock struct {
	Issuer          *hcl.Attribute `hcl:"issuer,optional"`
	DefaultTokenTTL *hcl.Attribute `hcl:"default_token_ttl,optional"`
	MaxTokenTTL     *hcl.Attribute `hcl:"max_token_ttl,optional"`
	SigningAlg      *hcl.Attribute `hcl:"signing_alg,optional"`
	DefRange        hcl.Range      `hcl:",def_range"`
}

type serverBlock struct {
	ID       string         `hcl:"id,label"`
	Audience *hcl.Attribute `hcl:"audience,optional"`
	Scopes   *hcl.Attribute `hcl:"scopes,optional"`
	TokenTTL *hcl.Attribute `hcl:"token_ttl,optional"`
	Secrets  []*secretBlock `hcl:"secret,block"`
	DefRange hcl.Range      `hcl:",def_range"`
}

type secretBlock struct {
	Hash     *hcl.Attribute `hcl:"hash,optional"`
	NotAfter *hcl.Attribute `hcl:"not_after,optional"`
	DefRange hcl.Range      `hcl:",def_range"`
}

type accessBlock struct {
	Server   string         `hcl:"server,label"`
	Scopes   *hcl.Attribute `hcl:"scopes,optional"`
	DefRange hcl.Range      `hcl:",def_range"`
}

type clientBlock struct {
	ID          string         `hcl:"id,label"`
	Name        *hcl.Attribute `hcl:"name,optional"`
	AuthMethod  *hcl.Attribute `hcl:"auth_method,optional"`
	TokenTTL    *hcl.Attribute `hcl:"token_ttl,optional"`
	RateLimit   *hcl.Attribute `hcl:"rate_limit,optional"`
	Impersonate *hcl.Attribute `hcl:"impersonate,optional"`
	Disabled    *hcl.Attribute `hcl:"disabled,optional"`
	Secrets     []*secretBlock `hcl:"secret,block"`
	Access      []*accessBlock `hcl:"access,block"`
	DefRange    hcl.Range      `hcl:",def_range"`
}

type accountBlock struct {
	ID            string         `hcl:"id,label"`
	Impersonators *hcl.Attribute `hcl:"impersonators,optional"`
	Attributes    *hcl.Attribute `hcl:"attributes,optional"`
	Disabled      *hcl.Attribute `hcl:"disabled,optional"`
	DefRange      hcl.Range      `hcl:",def_range"`
}

type groupBlock struct {
	ID       string         `hcl:"id,label"`
	Members  *hcl.Attribute `hcl:"members,optional"`
	Access   []*accessBlock `hcl:"access,block"`
	DefRange hcl.Range      `hcl:",def_range"`
}
