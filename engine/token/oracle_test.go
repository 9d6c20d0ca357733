package token_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/tollgate-dev/tollgate/engine/token"
)

// oracle verifies raw with jwx, as a resource server that follows RFC 9068
// §4 would: jwt.Parse against the published JWKS, exp required and
// checked (with the same leeway), nbf checked, then the two header checks
// that jwx leaves to its caller: typ is at+jwt, and alg is the one of the
// key the kid names (jwx uses the key's alg and never compares the
// header's). Like Verify, it checks no iat.
func (fk *fuzzKeys) oracle(raw string, now time.Time) (jwt.Token, error) {
	tok, err := jwt.ParseString(raw,
		jwt.WithKeySet(fk.jwks),
		jwt.WithValidate(true),
		jwt.WithResetValidators(true),
		jwt.WithValidator(jwt.IsExpirationValid()),
		jwt.WithValidator(jwt.IsNbfValid()),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
		jwt.WithRequiredClaim(jwt.AudienceKey),
		jwt.WithClock(jwt.ClockFunc(func() time.Time { return now })),
		jwt.WithAcceptableSkew(token.Leeway),
	)
	if err != nil {
		return nil, err
	}
	msg, err := jws.ParseString(raw)
	if err != nil {
		return nil, err
	}
	h := msg.Signatures()[0].ProtectedHeaders()
	if typ := strings.ToLower(h.Type()); typ != "at+jwt" && typ != "application/at+jwt" {
		return nil, fmt.Errorf("typ %q", h.Type())
	}
	key, ok := fk.jwks.LookupKeyID(h.KeyID())
	if !ok || key.Algorithm().String() != h.Algorithm().String() {
		return nil, fmt.Errorf("alg %q for kid %q", h.Algorithm(), h.KeyID())
	}
	return tok, nil
}

// strictRefusal names the rule of the RFCs that raw breaks and jwx lets
// pass, and Verify enforces; "" if none. Each is a deliberate difference:
//   - the compact form is BASE64URL without padding (RFC 7515 §2, §7.1);
//     jwx guesses among four base64 alphabets, ignores CR and LF and
//     non-zero trailing bits, and verifies the signature over its own
//     re-encoding, so many strings pass for one token;
//   - "crit" lists extensions the recipient must understand or reject
//     (RFC 7515 §4.1.11), and tollgate understands none, so b64 (RFC 7797,
//     only valid with crit) neither; jwx ignores crit and obeys b64;
//   - exp, nbf and iat are JSON numbers (RFC 7519 §2 NumericDate); jwx
//     also takes strings, even RFC 3339 ones, and treats 0 as absent, so
//     "exp": 0 never expires; Verify bounds them to the years 1 to 9999;
//   - aud names at least one audience (RFC 9068 §2.2: aud is required);
//   - client_id and scope are strings (RFC 9068 §2.2), act is an object
//     whose sub is a string (RFC 8693 §4.1), cnf an object whose x5t#S256
//     is a string (RFC 8705 §3.1); jwx knows none of them;
//   - the header and the payload are each one JSON value, and the
//     payload a JSON object of claims (RFC 7519 §7.2): jwx reads the first
//     value and ignores what follows, and verifies a nested JWS payload
//     with the same keys and returns the inner claims;
//   - a token is at most token.MaxTokenBytes long.
func strictRefusal(raw string) string {
	if len(raw) > token.MaxTokenBytes {
		return "too long"
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return ""
	}
	strict := base64.RawURLEncoding.Strict()
	var decoded [3][]byte
	for i, p := range parts {
		if strings.ContainsFunc(p, func(r rune) bool {
			return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_')
		}) {
			return "not base64url"
		}
		var err error
		if decoded[i], err = strict.DecodeString(p); err != nil {
			return "not canonical base64url"
		}
	}
	if !json.Valid(decoded[0]) || !json.Valid(decoded[1]) {
		return "not one JSON value"
	}
	var header map[string]json.RawMessage
	if json.Unmarshal(decoded[0], &header) == nil {
		if _, ok := header["crit"]; ok {
			return "crit"
		}
		if _, ok := header["b64"]; ok {
			return "b64"
		}
	}
	body := bytes.TrimSpace(decoded[1])
	if len(body) == 0 || body[0] != '{' {
		return "payload is not a JSON object"
	}
	var claims map[string]json.RawMessage
	if json.Unmarshal(body, &claims) != nil {
		return ""
	}
	for _, name := range []string{"exp", "nbf", "iat"} {
		v, ok := claims[name]
		if !ok {
			continue
		}
		var n json.Number
		if v[0] == '"' || json.Unmarshal(v, &n) != nil {
			return name + " is not a number"
		}
		f, err := n.Float64()
		if err != nil || f < -62135596800 || f >= 253402300800 {
			return name + " is out of range"
		}
		if name == "exp" && int64(f) == 0 {
			return "exp is 0"
		}
	}
	if v, ok := claims["aud"]; ok {
		var many []string
		if json.Unmarshal(v, &many) == nil && len(many) == 0 {
			return "aud is empty"
		}
	}
	for _, name := range []string{"client_id", "scope"} {
		if v, ok := claims[name]; ok {
			var s *string
			if json.Unmarshal(v, &s) != nil {
				return name + " is not a string"
			}
		}
	}
	for name, member := range map[string]string{"act": "sub", "cnf": "x5t#S256"} {
		v, ok := claims[name]
		if !ok {
			continue
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal(v, &obj) != nil {
			return name + " is not an object"
		}
		if m, ok := obj[member]; ok {
			var s *string
			if json.Unmarshal(m, &s) != nil {
				return name + "." + member + " is not a string"
			}
		}
	}
	return ""
}

// agreeWithJWX fails unless Verify and the jwx oracle (with the
// deliberate refusals) accept and refuse the same tokens, and read the
// same claims from those they accept.
func (fk *fuzzKeys) agreeWithJWX(t *testing.T, raw string) {
	t.Helper()
	ours, err := fk.set.Verify(raw, fuzzNow)
	if err != nil && !errors.Is(err, token.ErrInvalidToken) {
		t.Fatalf("Verify error %v does not wrap ErrInvalidToken", err)
	}
	theirs, jwxErr := fk.oracle(raw, fuzzNow)
	refusal := strictRefusal(raw)
	switch {
	case err == nil && jwxErr != nil:
		t.Fatalf("Verify accepts what jwx refuses (%v): %q", jwxErr, raw)
	case err == nil && refusal != "":
		t.Fatalf("Verify accepts a token that breaks a rule (%s): %q", refusal, raw)
	case err != nil && jwxErr == nil && refusal == "":
		t.Fatalf("Verify refuses (%v) what jwx accepts, for no rule: %q", err, raw)
	case err != nil:
		return
	}
	sameClaims(t, ours, theirs, raw)
}

func sameClaims(t *testing.T, ours *token.Claims, theirs jwt.Token, raw string) {
	t.Helper()
	private := theirs.PrivateClaims()
	str := func(name string) string { s, _ := private[name].(string); return s }
	var actor, thumb string
	if act, ok := private["act"].(map[string]any); ok {
		actor, _ = act["sub"].(string)
	}
	if cnf, ok := private["cnf"].(map[string]any); ok {
		thumb, _ = cnf["x5t#S256"].(string)
	}
	type view struct {
		Iss, Sub, Jti, ClientID, Scope, Actor, Thumb string
		Aud                                          []string
		Exp, Nbf, Iat                                int64
		Extra                                        []string
	}
	unix := func(t time.Time) int64 {
		if t.IsZero() || t.Unix() == 0 {
			return 0
		}
		return t.Unix()
	}
	var extra []string
	for name := range private {
		if !token.Reserved[name] {
			extra = append(extra, name)
		}
	}
	slices.Sort(extra)
	var oursExtra []string
	for name := range ours.Extra {
		oursExtra = append(oursExtra, name)
	}
	slices.Sort(oursExtra)
	got := view{ours.Issuer, ours.Subject, ours.ID, ours.ClientID, ours.Scope, ours.Actor, ours.CertThumbprint,
		ours.Audience, unix(ours.ExpiresAt), unix(ours.NotBefore), unix(ours.IssuedAt), oursExtra}
	want := view{theirs.Issuer(), theirs.Subject(), theirs.JwtID(), str("client_id"), str("scope"), actor, thumb,
		theirs.Audience(), unix(theirs.Expiration()), unix(theirs.NotBefore()), unix(theirs.IssuedAt()), extra}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Verify reads %+v, jwx %+v, from %q", got, want, raw)
	}
}
