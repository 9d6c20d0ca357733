package token

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Leeway tolerates clock skew when checking exp and nbf; tollgate checks
// its own tokens, so a small one suffices.
const Leeway = 5 * time.Second

type header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

type payload struct {
	Iss      string          `json:"iss"`
	Sub      string          `json:"sub"`
	Aud      json.RawMessage `json:"aud"`
	Exp      int64           `json:"exp"`
	Iat      int64           `json:"iat"`
	Nbf      int64           `json:"nbf"`
	Jti      string          `json:"jti"`
	ClientID string          `json:"client_id"`
	Scope    string          `json:"scope"`
	Act      *struct {
		Sub string `json:"sub"`
	} `json:"act"`
	Cnf *struct {
		X5tS256 string `json:"x5t#S256"`
	} `json:"cnf"`
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidToken, fmt.Sprintf(format, args...))
}

// Verify checks a token as a resource server should (RFC 9068 §4): typ
// at+jwt, a kid of this set that is published at now, the alg of that key (never "none", never
// another), the signature, and exp/nbf at now. It returns the claims.
func (ks *KeySet) Verify(raw string, now time.Time) (*Claims, error) {
	if len(raw) > 16<<10 {
		return nil, invalid("too long")
	}
	first := strings.IndexByte(raw, '.')
	last := strings.LastIndexByte(raw, '.')
	if first < 0 || first == last {
		return nil, invalid("not a compact JWS")
	}
	enc := base64.RawURLEncoding
	headerJSON, err := enc.DecodeString(raw[:first])
	if err != nil {
		return nil, invalid("header is not base64url")
	}
	var h header
	if err := json.Unmarshal(headerJSON, &h); err != nil {
		return nil, invalid("header is not JSON")
	}
	if !strings.EqualFold(h.Typ, "at+jwt") && !strings.EqualFold(h.Typ, "application/at+jwt") {
		return nil, invalid("typ is %q, want at+jwt", h.Typ)
	}
	key, ok := ks.byKID[h.Kid]
	if !ok {
		return nil, invalid("unknown kid")
	}
	if key.retiredAt(now) {
		return nil, invalid("its key is retired")
	}
	if h.Alg != key.alg {
		return nil, invalid("alg %q does not match the key", h.Alg)
	}
	sig, err := enc.DecodeString(raw[last+1:])
	if err != nil {
		return nil, invalid("signature is not base64url")
	}
	if err := key.verify.Verify([]byte(raw[:last]), sig, key.public); err != nil {
		return nil, invalid("bad signature")
	}
	body, err := enc.DecodeString(raw[first+1 : last])
	if err != nil {
		return nil, invalid("payload is not base64url")
	}
	var p payload
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, invalid("payload is not JSON")
	}
	if p.Exp == 0 || !now.Before(time.Unix(p.Exp, 0).Add(Leeway)) {
		return nil, invalid("expired")
	}
	if p.Nbf != 0 && now.Add(Leeway).Before(time.Unix(p.Nbf, 0)) {
		return nil, invalid("not yet valid")
	}
	c := &Claims{
		Issuer: p.Iss, Subject: p.Sub, ExpiresAt: time.Unix(p.Exp, 0), IssuedAt: time.Unix(p.Iat, 0),
		ID: p.Jti, ClientID: p.ClientID, Scope: p.Scope,
	}
	if p.Nbf != 0 {
		c.NotBefore = time.Unix(p.Nbf, 0)
	}
	if p.Act != nil {
		c.Actor = p.Act.Sub
	}
	if p.Cnf != nil {
		c.CertThumbprint = p.Cnf.X5tS256
	}
	if c.Audience, err = audienceOf(p.Aud); err != nil {
		return nil, err
	}
	if c.Extra, err = extraOf(body); err != nil {
		return nil, err
	}
	return c, nil
}

func audienceOf(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, invalid("no aud")
	}
	if raw[0] == '"' {
		var one string
		if err := json.Unmarshal(raw, &one); err != nil {
			return nil, invalid("aud")
		}
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, invalid("aud")
	}
	return many, nil
}

func extraOf(body []byte) (map[string]any, error) {
	var all map[string]any
	if err := json.Unmarshal(body, &all); err != nil {
		return nil, invalid("payload is not JSON")
	}
	for name := range Reserved {
		delete(all, name)
	}
	if len(all) == 0 {
		return nil, nil
	}
	return all, nil
}
