package token

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

// Claims of an RFC 9068 access token.
type Claims struct {
	Issuer  string
	Subject string
	// Audience is serialized as a string when single (RFC 7519 §4.1.3).
	Audience  []string
	ExpiresAt time.Time
	IssuedAt  time.Time
	// NotBefore is omitted when zero.
	NotBefore time.Time
	ID        string
	ClientID  string
	// Scope is space-delimited; omitted when empty.
	Scope string
	// Actor, when set, is written as "act": {"sub": Actor} (RFC 8693 §4.1).
	Actor string
	// CertThumbprint, when set, binds the token to a client certificate:
	// "cnf": {"x5t#S256": CertThumbprint} (RFC 8705 §3.1).
	CertThumbprint string
	// Extra are the policy's claims; they may not use a reserved name.
	Extra map[string]any
}

// Reserved claims are set by tollgate itself (RFC 9068 §2.2, RFC 8693
// §4.1, RFC 8705 §3): neither Extra nor a policy's claims may set them.
// It is the one list; the policy's decision parser refuses them too.
var Reserved = map[string]bool{
	"iss": true, "sub": true, "aud": true, "exp": true, "iat": true, "nbf": true,
	"jti": true, "client_id": true, "scope": true, "act": true, "cnf": true,
}

// CertThumbprint is the x5t#S256 of a certificate: the base64url SHA-256
// of its DER encoding (RFC 8705 §3.1).
func CertThumbprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// payloadPool recycles claim buffers: a token payload is a few hundred bytes.
var payloadPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// Mint signs c with the key that signs at c.IssuedAt (see KeySet):
// header {"alg","kid","typ":"at+jwt"} (RFC 9068 §2.1), prepared once per
// key.
func (ks *KeySet) Mint(c *Claims) (string, error) {
	sk := ks.signerAt(c.IssuedAt)
	if sk == nil {
		return "", ErrNoSigningKey
	}
	for name := range c.Extra {
		if Reserved[name] {
			return "", fmt.Errorf("token: claim %q is reserved", name)
		}
	}
	bp := payloadPool.Get().(*[]byte)
	payload, err := appendPayload((*bp)[:0], c)
	if err != nil {
		payloadPool.Put(bp)
		return "", err
	}
	defer func() { *bp = payload[:0]; payloadPool.Put(bp) }()
	enc := base64.RawURLEncoding
	out := make([]byte, 0, len(sk.header)+enc.EncodedLen(len(payload))+1+enc.EncodedLen(512))
	out = append(out, sk.header...)
	out = enc.AppendEncode(out, payload)
	sig, err := sk.signer.Sign(out, sk.private)
	if err != nil {
		return "", fmt.Errorf("token: signing: %w", err)
	}
	out = append(out, '.')
	out = enc.AppendEncode(out, sig)
	return string(out), nil
}

// payload is the JSON of Claims, in the order tokens have always had.
type payload struct {
	Issuer    string        `json:"iss"`
	Subject   string        `json:"sub"`
	Audience  any           `json:"aud"` // a string when single (RFC 7519 §4.1.3)
	ExpiresAt int64         `json:"exp"`
	IssuedAt  int64         `json:"iat"`
	NotBefore *int64        `json:"nbf,omitempty"`
	ID        string        `json:"jti"`
	ClientID  string        `json:"client_id"`
	Scope     string        `json:"scope,omitempty"`
	Actor     *actor        `json:"act,omitempty"`
	Confirm   *confirmation `json:"cnf,omitempty"`
}

type actor struct {
	Subject string `json:"sub"`
}

type confirmation struct {
	CertThumbprint string `json:"x5t#S256"`
}

// appendPayload appends the claims JSON to b; Extra's members follow
// tollgate's own.
func appendPayload(b []byte, c *Claims) ([]byte, error) {
	p := payload{
		Issuer: c.Issuer, Subject: c.Subject, Audience: c.Audience,
		ExpiresAt: c.ExpiresAt.Unix(), IssuedAt: c.IssuedAt.Unix(),
		ID: c.ID, ClientID: c.ClientID, Scope: c.Scope,
	}
	switch {
	case len(c.Audience) == 1:
		p.Audience = c.Audience[0]
	case c.Audience == nil:
		p.Audience = []string{}
	}
	if !c.NotBefore.IsZero() {
		nbf := c.NotBefore.Unix()
		p.NotBefore = &nbf
	}
	if c.Actor != "" {
		p.Actor = &actor{c.Actor}
	}
	if c.CertThumbprint != "" {
		p.Confirm = &confirmation{c.CertThumbprint}
	}
	own, err := json.Marshal(&p)
	if err != nil {
		return nil, fmt.Errorf("token: claims: %w", err)
	}
	b = append(b, own[:len(own)-1]...)
	if len(c.Extra) > 0 {
		extra, err := json.Marshal(c.Extra)
		if err != nil {
			return nil, fmt.Errorf("token: claims: %w", err)
		}
		if len(extra) > 2 {
			b = append(b, ',')
			b = append(b, extra[1:len(extra)-1]...)
		}
	}
	return append(b, '}'), nil
}
