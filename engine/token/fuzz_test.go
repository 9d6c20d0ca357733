package token_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/tollgate-dev/tollgate/engine/token"
)

// The fuzz targets verify at a fixed time with the fixed keys of
// testdata/keys, so that a corpus entry means the same on every run: its
// header names these kids and its claims are valid at this instant. The
// half second exercises the truncation of the clock to whole seconds.
var fuzzNow = time.Date(2026, 6, 1, 12, 0, 0, 5e8, time.UTC)

// fuzzKey is one of the fixed keys, for signing what the fuzzer makes.
type fuzzKey struct {
	kid string
	alg jwa.SignatureAlgorithm
	key jwk.Key
}

type fuzzKeys struct {
	set  *token.KeySet
	jwks jwk.Set
	keys []fuzzKey
}

func loadFuzzKeys(tb testing.TB) *fuzzKeys {
	tb.Helper()
	dir := filepath.Join("testdata", "keys")
	set, err := token.LoadDir(dir, "ES256", fuzzNow)
	if err != nil {
		tb.Fatal(err)
	}
	jwks, err := jwk.Parse(set.JWKS(fuzzNow))
	if err != nil {
		tb.Fatal(err)
	}
	fk := &fuzzKeys{set: set, jwks: jwks}
	for _, name := range []string{"es256", "eddsa", "ps256"} {
		raw, err := os.ReadFile(filepath.Join(dir, name+".jwk.json"))
		if err != nil {
			tb.Fatal(err)
		}
		key, err := jwk.ParseKey(raw)
		if err != nil {
			tb.Fatal(err)
		}
		fk.keys = append(fk.keys, fuzzKey{kid: key.KeyID(), alg: key.Algorithm().(jwa.SignatureAlgorithm), key: key})
	}
	return fk
}

// sign returns input followed by "." and the signature over it of the
// fixed key which names: a token that this key set really signed, whatever
// input holds.
func (fk *fuzzKeys) sign(tb testing.TB, which uint8, input string) string {
	k := fk.keys[int(which)%len(fk.keys)]
	signer, err := jws.NewSigner(k.alg)
	if err != nil {
		tb.Fatal(err)
	}
	sig, err := signer.Sign([]byte(input), k.key)
	if err != nil {
		tb.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// header is the protected header a fixed key signs with.
func (fk *fuzzKeys) header(which uint8) string {
	k := fk.keys[int(which)%len(fk.keys)]
	return fmt.Sprintf(`{"alg":%q,"kid":%q,"typ":"at+jwt"}`, k.alg, k.kid)
}

// mint is a valid token of the fixed key which, with claims c.
func (fk *fuzzKeys) mint(tb testing.TB, which uint8, payload string) string {
	return fk.sign(tb, which, b64(fk.header(which))+"."+b64(payload))
}

func payloadAt(now time.Time, extra string) string {
	return fmt.Sprintf(`{"iss":"https://auth.example","sub":"User1","aud":"Server2","exp":%d,"iat":%d,"jti":"j1","client_id":"Client1","scope":"read write"%s}`,
		now.Add(time.Hour).Unix(), now.Unix(), extra)
}

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

// tokenSeeds are tokens signed by the fixed keys: valid ones of each key,
// and each kind of wrong one.
func tokenSeeds(tb testing.TB, fk *fuzzKeys) []string {
	good := payloadAt(fuzzNow, "")
	h := fk.header(0)
	kid := fk.keys[0].kid
	signed := func(header, payload string) string { return fk.sign(tb, 0, b64(header)+"."+b64(payload)) }
	valid := fk.mint(tb, 0, good)
	seeds := []string{
		valid,
		fk.mint(tb, 1, good),
		fk.mint(tb, 2, payloadAt(fuzzNow, `,"act":{"sub":"Client1"},"cnf":{"x5t#S256":"abc"},"tenant":{"a":[1,null,true]}`)),
		valid[:len(valid)/2],                        // truncated
		valid[:strings.LastIndexByte(valid, '.')+1], // no signature
		strings.Replace(valid, ".", ".!", 1),        // bad base64
		"eyJhbGciOiJub25lIn0." + b64(good) + ".",    // alg none
		signed(`{"alg":"none","kid":"`+kid+`","typ":"at+jwt"}`, good),
		signed(`{"alg":"ES256","kid":"`+kid+`","typ":"JWT"}`, good), // wrong typ
		signed(`{"alg":"ES256","kid":"`+kid+`","typ":"application/AT+JWT"}`, good),
		signed(`{"alg":"ES256","kid":"`+kid+`","typ":"at+jwt","x":"`+strings.Repeat("h", 12<<10)+`"}`, good), // huge header
		signed(`{"ALG":"ES256","KID":"`+kid+`","TYP":"at+jwt"}`, good),
		signed(`{"alg":"PS256","kid":"`+kid+`","typ":"at+jwt"}`, good),
		signed(h[:len(h)-1]+`,"crit":["exp"],"exp":1}`, good),
		signed(h[:len(h)-1]+`,"b64":false,"crit":["b64"]}`, good),
		signed(h, payloadAt(fuzzNow.Add(-2*time.Hour), "")),                                // expired
		signed(h, payloadAt(fuzzNow, `,"nbf":`+fmt.Sprint(fuzzNow.Add(time.Hour).Unix()))), // not yet valid
		signed(h, fmt.Sprintf(`{"aud":"a","exp":%d.75}`, fuzzNow.Add(time.Hour).Unix())),
		signed(h, fmt.Sprintf(`{"aud":"a","exp":"%d"}`, fuzzNow.Add(time.Hour).Unix())),
		signed(h, `{"aud":"a","exp":0}`),
		signed(h, `{"aud":"a","exp":9223372036854775807}`),
		signed(h, `{"aud":"a","exp":1e300}`),
		signed(h, fmt.Sprintf(`{"aud":"a","exp":%d,"nbf":9223372036854775807}`, fuzzNow.Add(time.Hour).Unix())),
		signed(h, fmt.Sprintf(`{"aud":null,"exp":%d}`, fuzzNow.Add(time.Hour).Unix())),
		signed(h, fmt.Sprintf(`{"aud":[],"exp":%d}`, fuzzNow.Add(time.Hour).Unix())),
		signed(h, fmt.Sprintf(`{"aud":["a",1],"exp":%d}`, fuzzNow.Add(time.Hour).Unix())),
		signed(h, fmt.Sprintf(`{"AUD":"a","EXP":%d,"Sub":"x"}`, fuzzNow.Add(time.Hour).Unix())),
		signed(h, fmt.Sprintf(`{"aud":"a","exp":%d,"exp":1}`, fuzzNow.Add(time.Hour).Unix())),
		signed(h, fmt.Sprintf(`{"aud":"a","exp":%d,"act":"x","client_id":5}`, fuzzNow.Add(time.Hour).Unix())),
		signed(h, fmt.Sprintf(`{"aud":"a","exp":%d,"deep":%s1%s}`, fuzzNow.Add(time.Hour).Unix(), strings.Repeat("[", 5000), strings.Repeat("]", 5000))),
		signed(h, `null`),
		signed(h, good+`x`),
		signed(h, valid),                      // a JWS nested in the payload
		fk.sign(tb, 0, b64(h)+"=."+b64(good)), // padded
		fk.sign(tb, 0, base64.StdEncoding.EncodeToString([]byte(h))+"."+b64(good)), // another alphabet
		"",
		"..",
		"a.b.c.d",
	}
	return seeds
}

// FuzzVerify: no input makes Verify panic or return an error that is not
// ErrInvalidToken, and whatever it accepts, jwx accepts too. The seeds
// run under plain go test.
func FuzzVerify(f *testing.F) {
	fk := loadFuzzKeys(f)
	for _, s := range tokenSeeds(f, fk) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		fk.agreeWithJWX(t, raw)
	})
}

// FuzzVerifyAgreesWithJWX: for any protected header and payload signed by
// one of the fixed keys, Verify and jwx agree (see agreeWithJWX).
func FuzzVerifyAgreesWithJWX(f *testing.F) {
	fk := loadFuzzKeys(f)
	for _, s := range tokenSeeds(f, fk) {
		parts := strings.Split(s, ".")
		if len(parts) != 3 {
			continue
		}
		header, err1 := base64.RawURLEncoding.DecodeString(parts[0])
		payload, err2 := base64.RawURLEncoding.DecodeString(parts[1])
		if err1 == nil && err2 == nil {
			f.Add(header, payload, uint8(0))
		}
	}
	f.Add([]byte(fk.header(1)), []byte(payloadAt(fuzzNow, "")), uint8(1))
	f.Add([]byte(fk.header(2)), []byte(payloadAt(fuzzNow, "")), uint8(2))
	f.Add([]byte(fk.header(1)), []byte(payloadAt(fuzzNow, "")), uint8(0)) // signed by another key than kid names
	f.Fuzz(func(t *testing.T, header, payload []byte, which uint8) {
		fk.agreeWithJWX(t, fk.sign(t, which, base64.RawURLEncoding.EncodeToString(header)+"."+base64.RawURLEncoding.EncodeToString(payload)))
	})
}

// FuzzVerifySignedInput: for any signing input (the part before the last
// dot, well-formed or not) signed by one of the fixed keys, Verify and jwx
// agree: the compact form's encoding is tested with valid signatures.
func FuzzVerifySignedInput(f *testing.F) {
	fk := loadFuzzKeys(f)
	for _, s := range tokenSeeds(f, fk) {
		if i := strings.LastIndexByte(s, '.'); i >= 0 {
			f.Add(s[:i], uint8(0))
		}
	}
	f.Fuzz(func(t *testing.T, input string, which uint8) {
		fk.agreeWithJWX(t, fk.sign(t, which, input))
	})
}
