package hclconf

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/tollgate-dev/tollgate/engine/assertion"
	"github.com/tollgate-dev/tollgate/engine/model"
	"github.com/tollgate-dev/tollgate/engine/secret"
)

// credentialOf is the block that authenticates a client of each
// auth_method.
var credentialOf = map[string]string{
	model.AuthClientSecretBasic: "secret",
	model.AuthClientSecretPost:  "secret",
	model.AuthPrivateKeyJWT:     "public_key",
	model.AuthTLSClientAuth:     "certificate",
}

// credentials checks that a client has what its auth_method checks, and
// nothing meant for another method, which would never be checked.
func (v *validator) credentials(owner string, b *clientBlock, c *model.Client) {
	first := map[string]hcl.Range{}
	if len(b.Secrets) > 0 {
		first["secret"] = b.Secrets[0].DefRange
	}
	if len(b.PublicKeys) > 0 {
		first["public_key"] = b.PublicKeys[0].DefRange
	}
	if len(b.Certificate) > 0 {
		first["certificate"] = b.Certificate[0].DefRange
	}
	want := credentialOf[c.AuthMethod]
	for _, kind := range []string{"secret", "public_key", "certificate"} {
		if rng, present := first[kind]; present && kind != want {
			v.add(errorAt(rng, "Credential of another auth_method",
				fmt.Sprintf("a %s block does not authenticate %s, which uses auth_method = %q: remove it.", kind, owner, c.AuthMethod)))
		}
	}
	_, has := first[want]
	switch {
	case want == "secret" && !has:
		v.add(errorAt(b.DefRange, "Client without a secret",
			fmt.Sprintf(`%s has no secret block, so it could never authenticate: add secret { hash = "..." } (run "tollgate secret").`, owner)))
	case want == "secret" && len(c.Secrets) == len(b.Secrets) && allExpired(c.Secrets, v.now):
		v.add(warningAt(b.DefRange, "Every secret expired", fmt.Sprintf("%s can no longer authenticate: all its secrets are past not_after.", owner)))
	case want == "public_key" && !has:
		v.add(errorAt(b.DefRange, "Client without a public key",
			fmt.Sprintf(`%s uses private_key_jwt but declares no public_key block: add public_key { pem = "..." } with the public half of the key it signs with ("tollgate keys public KEYFILE" prints it).`, owner)))
	case want == "public_key" && len(c.PublicKeys) == len(b.PublicKeys) && allExpired(c.PublicKeys, v.now):
		v.add(warningAt(b.DefRange, "Every public key expired", fmt.Sprintf("%s can no longer authenticate: all its public keys are past not_after.", owner)))
	case want == "certificate" && !has:
		v.add(errorAt(b.DefRange, "Client without a certificate",
			fmt.Sprintf(`%s uses tls_client_auth but names no certificate: add certificate { subject_dn = "CN=..." } (or san_dns, san_uri, san_ip, san_email).`, owner)))
	}
}

func (v *validator) secrets(owner string, blocks []*secretBlock) []model.Secret {
	out := make([]model.Secret, 0, len(blocks))
	for _, b := range blocks {
		if b.Hash == nil {
			v.add(errorAt(b.DefRange, "Missing secret hash",
				`a secret block needs hash = "..." (run "tollgate secret" to make a secret and its hash).`))
			continue
		}
		hash, ok := stringValue(b.Hash, v.diags)
		if !ok {
			continue
		}
		if _, err := secret.Parse(hash); err != nil {
			// Never echo the value: it may be a real secret pasted by mistake.
			v.add(errorAt(b.Hash.Range, "Invalid secret hash", err.Error()+"."))
			continue
		}
		out = append(out, model.Secret{Hash: hash, NotAfter: v.notAfter(b.NotAfter, "secret", owner, secret.Fingerprint(hash))})
	}
	return out
}

// certificate reads a tls_client_auth client's certificate block: one
// block, naming the certificate by exactly one of its subject or SANs
// (RFC 8705 §2.1.2), each well-formed for its kind.
func (v *validator) certificate(owner string, blocks []*certificateBlock) *model.CertificateMatch {
	if len(blocks) == 0 {
		return nil
	}
	for _, extra := range blocks[1:] {
		v.add(errorAt(extra.DefRange, "Two certificate blocks",
			fmt.Sprintf("%s names its certificate once (RFC 8705 §2.1.2); the first block is at %s.", owner, at(blocks[0].DefRange))))
	}
	b := blocks[0]
	var set []*attribute
	for _, a := range []*attribute{b.SubjectDN, b.SANDNS, b.SANURI, b.SANIP, b.SANEmail} {
		if a != nil {
			set = append(set, a)
		}
	}
	if len(set) != 1 {
		v.add(errorAt(b.DefRange, "Certificate needs exactly one name",
			"set exactly one of subject_dn, san_dns, san_uri, san_ip and san_email (RFC 8705 §2.1.2)."))
		return nil
	}
	a := set[0]
	value, ok := stringValue(a, v.diags)
	if !ok {
		return nil
	}
	m := &model.CertificateMatch{}
	var problem string
	switch a.Name {
	case "subject_dn":
		m.SubjectDN = value
		if !strings.Contains(value, "=") {
			problem = `subject_dn must be a distinguished name as RFC 4514 writes it, most specific first: "CN=device-42,O=Example".`
		}
	case "san_dns":
		m.SANDNS = value
		if value == "" || strings.ContainsAny(value, " /:@") {
			problem = "san_dns must be a DNS name."
		}
	case "san_uri":
		m.SANURI = value
		if u, err := url.Parse(value); err != nil || u.Scheme == "" {
			problem = "san_uri must be an absolute URI, such as spiffe://example.org/device/42."
		}
	case "san_ip":
		m.SANIP = value
		if net.ParseIP(value) == nil {
			problem = "san_ip must be an IPv4 or IPv6 address."
		}
	case "san_email":
		m.SANEmail = value
		if !strings.Contains(value, "@") {
			problem = "san_email must be an email address."
		}
	}
	if problem != "" {
		v.add(errorAt(a.Range, "Invalid certificate name", problem))
		return nil
	}
	return m
}

func allExpired[T interface{ ValidAt(time.Time) bool }](creds []T, now time.Time) bool {
	for _, c := range creds {
		if c.ValidAt(now) {
			return false
		}
	}
	return true
}

// publicKeys parses each public_key block: one key, as pem or as jwk,
// public only, of a supported type, and distinct from the client's others.
func (v *validator) publicKeys(owner string, blocks []*publicKeyBlock) []model.PublicKey {
	out := make([]model.PublicKey, 0, len(blocks))
	kids := map[string]hcl.Range{}
	for _, b := range blocks {
		src, form := b.PEM, "pem"
		switch {
		case b.PEM != nil && b.JWK != nil:
			v.add(errorAt(b.DefRange, "Two keys in one public_key block",
				"set pem or jwk, not both; declare another key in a public_key block of its own."))
			continue
		case b.JWK != nil:
			src, form = b.JWK, "jwk"
		case b.PEM == nil:
			v.add(errorAt(b.DefRange, "Missing public key",
				`a public_key block needs pem = "..." (a PEM PUBLIC KEY or CERTIFICATE) or jwk = "..." (a JWK as JSON).`))
			continue
		}
		text, ok := stringValue(src, v.diags)
		if !ok {
			continue
		}
		isPEM := strings.HasPrefix(strings.TrimSpace(text), "-----BEGIN")
		if (form == "pem") != isPEM {
			want := map[string]string{"pem": "a PEM block (-----BEGIN PUBLIC KEY-----...)", "jwk": "a JWK as JSON ({...})"}[form]
			v.add(errorAt(src.Range, "Invalid public key", fmt.Sprintf("%s must be %s.", form, want)))
			continue
		}
		key, err := assertion.ParseKey(text)
		if err != nil {
			// Never echo the value: it may be a private key pasted by mistake.
			v.add(errorAt(src.Range, "Invalid public key", err.Error()+"."))
			continue
		}
		if first, dup := kids[key.KeyID()]; dup {
			v.add(errorAt(src.Range, "Duplicate public key",
				fmt.Sprintf("%s already has a key with kid %q at %s.", owner, key.KeyID(), at(first))))
			continue
		}
		kids[key.KeyID()] = b.DefRange
		out = append(out, model.PublicKey{Key: text, NotAfter: v.notAfter(b.NotAfter, "key", owner, key.KeyID())})
	}
	return out
}

// ExpiryWarning is how long before a credential's not_after every load
// warns of it, so that a rotation is not noticed only once it is late.
const ExpiryWarning = 7 * 24 * time.Hour

// notAfter reads a credential's optional not_after; one already past, or
// due within ExpiryWarning, is a warning, not an error: the other
// credentials may still serve. name says which credential it is (its
// fingerprint or kid), as the audit log names it when it is used.
func (v *validator) notAfter(attr *attribute, what, owner, name string) time.Time {
	if attr == nil {
		return time.Time{}
	}
	t, ok := timeValue(attr, v.diags)
	switch {
	case !ok:
	case !t.After(v.now):
		summary := map[string]string{"secret": "Expired secret", "key": "Expired public key"}[what]
		v.add(warningAt(attr.Range, summary,
			fmt.Sprintf("%s %s of %s expired at %s and can no longer be used.", what, name, owner, t.Format(time.RFC3339))))
	case t.Sub(v.now) <= ExpiryWarning:
		summary := map[string]string{"secret": "Secret expires soon", "key": "Public key expires soon"}[what]
		v.add(warningAt(attr.Range, summary,
			fmt.Sprintf("%s %s of %s expires at %s, in %s: rotate it.", what, name, owner, t.Format(time.RFC3339), t.Sub(v.now).Round(time.Hour))))
	}
	return t
}
