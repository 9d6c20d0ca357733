package token

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
)

// Leeway tolerates clock skew when checking exp and nbf; tollgate checks
// its own tokens, so a small one suffices.
const Leeway = 5 * time.Second

// MaxTokenBytes bounds the tokens Verify reads: tollgate's own are a few
// hundred bytes, even with the policy's claims.
const MaxTokenBytes = 16 << 10

// The NumericDates Verify accepts lie in the years 1 to 9999, so that no
// arithmetic on them overflows a time.Time.
const (
	minNumericDate = -62135596800
	maxNumericDate = 253402300799
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidToken, fmt.Sprintf(format, args...))
}

// Verify checks a token as a resource server should (RFC 9068 §4): typ
// at+jwt, a kid of this set that is published at now, the alg of that key
// (never "none", never another), the signature, and exp/nbf at now. It
// returns the claims.
//
// The token is untrusted input, so it is read exactly as the RFCs write
// it, and anything else is refused: the compact form in canonical
// base64url without padding (RFC 7515 §7.1), one JSON object in each part
// with members matched by their exact names, no "crit" (tollgate
// understands no extension, RFC 7515 §4.1.11) and so no "b64" (RFC 7797),
// NumericDates that are JSON numbers (RFC 7519 §2), and an aud naming at
// least one audience.
//
// It reads the compact form itself rather than through jwx's jwt.Parse,
// which does the same job: BenchmarkVerify puts the two side by side, and
// the difference is a sizeable part of a whole introspection or userinfo
// request (BenchmarkIntrospectEndpoint). FuzzVerifyAgreesWithJWX and
// FuzzVerifySignedInput hold it to jwx's answers, except where a rule
// above is stricter.
func (ks *KeySet) Verify(raw string, now time.Time) (*Claims, error) {
	if len(raw) > MaxTokenBytes {
		return nil, invalid("too long")
	}
	first, last, ok := SplitCompact(raw)
	if !ok {
		return nil, invalid("not a compact JWS in base64url")
	}
	headerJSON, err := decodeSegment(raw[:first])
	if err != nil {
		return nil, invalid("header is not canonical base64url")
	}
	var h header
	if err := h.parse(headerJSON); err != nil {
		return nil, err
	}
	if !strings.EqualFold(h.typ, "at+jwt") && !strings.EqualFold(h.typ, "application/at+jwt") {
		return nil, invalid("typ is %q, want at+jwt", h.typ)
	}
	key, ok := ks.byKID[h.kid]
	if !ok {
		return nil, invalid("unknown kid")
	}
	if key.retiredAt(now) {
		return nil, invalid("its key is retired")
	}
	if h.alg != key.alg {
		return nil, invalid("alg %q does not match the key", h.alg)
	}
	sig, err := decodeSegment(raw[last+1:])
	if err != nil {
		return nil, invalid("signature is not canonical base64url")
	}
	if err := key.verify.Verify([]byte(raw[:last]), sig, key.public); err != nil {
		return nil, invalid("bad signature")
	}
	body, err := decodeSegment(raw[first+1 : last])
	if err != nil {
		return nil, invalid("payload is not canonical base64url")
	}
	c, err := parseClaims(body)
	if err != nil {
		return nil, err
	}
	if c.ExpiresAt.IsZero() {
		return nil, invalid("no exp")
	}
	if !now.Before(c.ExpiresAt.Add(Leeway)) {
		return nil, invalid("expired")
	}
	if !c.NotBefore.IsZero() && now.Add(Leeway).Before(c.NotBefore) {
		return nil, invalid("not yet valid")
	}
	return c, nil
}

// SplitCompact finds the two dots of a compact JWS and checks that every
// other byte is of the base64url alphabet: no padding, no other alphabet,
// no line breaks (which encoding/base64 would skip). Client assertions
// are read by the same rule.
func SplitCompact(raw string) (first, last int, ok bool) {
	first, last = -1, -1
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case c == '.':
			if first < 0 {
				first = i
			} else if last < 0 {
				last = i
			} else {
				return 0, 0, false
			}
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return 0, 0, false
		}
	}
	return first, last, last > 0
}

// strictB64 refuses non-zero trailing bits, so each token has one encoding.
var strictB64 = base64.RawURLEncoding.Strict()

func decodeSegment(s string) ([]byte, error) { return strictB64.DecodeString(s) }

// header is the protected header of a token.
type header struct{ alg, kid, typ string }

func (h *header) parse(src []byte) error {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(src, &members); err != nil || members == nil {
		return invalid("header is not a JSON object")
	}
	for name, value := range members {
		var dst *string
		switch name {
		case "alg":
			dst = &h.alg
		case "kid":
			dst = &h.kid
		case "typ":
			dst = &h.typ
		case "crit", "b64":
			return invalid("header has %q: no extension is supported", name)
		default:
			continue
		}
		if err := stringOf(value, dst); err != nil {
			return invalid("header %q is not a string", name)
		}
	}
	return nil
}

// parseClaims reads a payload. Each claim tollgate defines must have its
// type; the others are Extra.
func parseClaims(body []byte) (*Claims, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil || members == nil {
		return nil, invalid("payload is not a JSON object")
	}
	c := &Claims{}
	var err error
	for name, value := range members {
		switch name {
		case "iss":
			err = stringOf(value, &c.Issuer)
		case "sub":
			err = stringOf(value, &c.Subject)
		case "jti":
			err = stringOf(value, &c.ID)
		case "client_id":
			err = stringOf(value, &c.ClientID)
		case "scope":
			err = stringOf(value, &c.Scope)
		case "aud":
			c.Audience, err = audienceOf(value)
		case "exp":
			c.ExpiresAt, err = numericDate(value)
		case "iat":
			c.IssuedAt, err = numericDate(value)
		case "nbf":
			c.NotBefore, err = numericDate(value)
		case "act":
			c.Actor, err = memberOf(value, "sub")
		case "cnf":
			c.CertThumbprint, err = memberOf(value, "x5t#S256")
		default:
			var v any
			if err = json.Unmarshal(value, &v); err == nil {
				if c.Extra == nil {
					c.Extra = map[string]any{}
				}
				c.Extra[name] = v
			}
		}
		if err != nil {
			return nil, invalid("claim %q: %v", name, err)
		}
	}
	if len(c.Audience) == 0 {
		return nil, invalid("no aud")
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = time.Unix(0, 0) // as before: introspection omits an iat of 0
	}
	return c, nil
}

// stringOf reads a JSON string; null leaves dst as it is, as for any
// absent claim.
func stringOf(value json.RawMessage, dst *string) error {
	return json.Unmarshal(value, dst)
}

// memberOf reads the string member name of a JSON object (act, cnf).
func memberOf(value json.RawMessage, name string) (string, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(value, &obj); err != nil {
		return "", err
	}
	var s string
	if m, ok := obj[name]; ok {
		if err := stringOf(m, &s); err != nil {
			return "", fmt.Errorf("%s: %v", name, err)
		}
	}
	return s, nil
}

// audienceOf reads aud: a string or an array of strings (RFC 7519 §4.1.3).
func audienceOf(value json.RawMessage) ([]string, error) {
	if len(value) > 0 && value[0] == '"' {
		var one string
		if err := json.Unmarshal(value, &one); err != nil {
			return nil, err
		}
		return []string{one}, nil
	}
	var many []string
	err := json.Unmarshal(value, &many)
	return many, err
}

// numericDate reads a NumericDate: a JSON number of seconds, whole or not
// (RFC 7519 §2), truncated to the second. Zero is the zero time, as if
// absent: an exp of 0 is no exp.
func numericDate(value json.RawMessage) (time.Time, error) {
	if len(value) == 0 || (value[0] != '-' && (value[0] < '0' || value[0] > '9')) {
		return time.Time{}, fmt.Errorf("not a number")
	}
	var f float64
	if err := json.Unmarshal(value, &f); err != nil {
		return time.Time{}, err
	}
	f = math.Trunc(f)
	if f < minNumericDate || f > maxNumericDate {
		return time.Time{}, fmt.Errorf("out of range")
	}
	if f == 0 {
		return time.Time{}, nil
	}
	return time.Unix(int64(f), 0), nil
}
