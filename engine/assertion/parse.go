package assertion

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"

	"github.com/tollgate-dev/tollgate/engine/token"
)

// ClientID returns the client an assertion says it comes from: its iss,
// which must equal its sub (RFC 7523 §3). Nothing is verified yet; the
// id only says whose keys to verify it with. It reads the assertion as
// Verify does, so the two never disagree on whose it is.
func ClientID(raw string) (string, error) {
	_, claims, err := parseCompact(raw)
	if err != nil {
		return "", err
	}
	iss, err := claimString(claims, "iss")
	if err != nil {
		return "", err
	}
	sub, err := claimString(claims, "sub")
	if err != nil {
		return "", err
	}
	if iss == "" || iss != sub {
		return "", invalid("iss and sub must both be the client_id")
	}
	return iss, nil
}

// members are the members of a JSON object, matched by their exact names
// (encoding/json would match struct fields case-insensitively, and jwx,
// which verifies the claims, does not).
type members map[string]json.RawMessage

// parseCompact reads an assertion as untrusted input, strictly: a JWT is
// always in the compact form (RFC 7519 §1) and in canonical base64url
// without padding (RFC 7515 §2), and each of its header and payload is one
// JSON object (RFC 7519 §7.2) — jwx alone would also take the JSON form,
// other base64 alphabets, trailing bytes after the JSON and a nested JWS.
// Nothing is verified yet.
func parseCompact(raw string) (header, claims members, err error) {
	first, last, ok := token.SplitCompact(raw)
	if !ok {
		return nil, nil, invalid("not a JWT in the compact form (three base64url parts)")
	}
	if header, err = objectOf(raw[:first]); err != nil {
		return nil, nil, invalid("header is not a JSON object in base64url")
	}
	if claims, err = objectOf(raw[first+1 : last]); err != nil {
		return nil, nil, invalid("payload is not a JSON object of claims in base64url")
	}
	return header, claims, nil
}

func objectOf(segment string) (members, error) {
	src, err := base64.RawURLEncoding.Strict().DecodeString(segment)
	if err != nil {
		return nil, err
	}
	var m members
	if err := json.Unmarshal(src, &m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("null")
	}
	return m, nil
}

// claimString reads a string member; an absent one is "".
func claimString(m members, name string) (string, error) {
	var s string
	if v, ok := m[name]; ok {
		if len(v) == 0 || v[0] != '"' || json.Unmarshal(v, &s) != nil {
			return "", invalid("%s is not a string", name)
		}
	}
	return s, nil
}

// checkClaimTypes refuses the NumericDates that are not JSON numbers
// (RFC 7519 §2), which jwx would read from strings, even RFC 3339 ones.
func checkClaimTypes(claims members) error {
	for _, name := range []string{"exp", "nbf", "iat"} {
		if v, ok := claims[name]; ok && (len(v) == 0 || v[0] != '-' && (v[0] < '0' || v[0] > '9')) {
			return invalid("%s is not a number", name)
		}
	}
	return nil
}

// TypeHeader is the typ of an explicitly typed client assertion
// (draft-ietf-oauth-rfc7523bis): a client that sends it follows the draft,
// whose aud is the issuer identifier alone.
const TypeHeader = "client-authentication+jwt"

// explicitType reads the header's typ: none or "JWT" (RFC 7519 §5.1) for
// an RFC 7523 assertion, TypeHeader for one of the draft; any other is a
// JWT of another kind (an access token, a DPoP proof, a request object)
// that the client's key may also sign, never an assertion (RFC 8725
// §3.11). crit and b64 are refused: no extension is understood (RFC 7515
// §4.1.11).
func explicitType(header members) (typed bool, err error) {
	for _, name := range []string{"crit", "b64"} {
		if _, ok := header[name]; ok {
			return false, invalid("header has %q: no extension is supported", name)
		}
	}
	typ, err := claimString(header, "typ")
	if err != nil {
		return false, err
	}
	switch strings.TrimPrefix(strings.ToLower(typ), "application/") {
	case "", "jwt":
		return false, nil
	case TypeHeader:
		return true, nil
	}
	return false, invalid("typ %q is not a client assertion's", typ)
}
