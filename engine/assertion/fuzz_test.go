package assertion_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/tollgate-dev/tollgate/engine/assertion"
)

// fuzzNow is the fixed time of the fuzz targets, so that the exp of a
// corpus entry means the same on every run.
var fuzzNow = time.Date(2026, 6, 1, 12, 0, 0, 5e8, time.UTC)

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// claimsAt are an assertion's claims valid at now, with extra members.
func claimsAt(now time.Time, aud, extra string) string {
	return fmt.Sprintf(`{"iss":%q,"sub":%q,"aud":%s,"jti":"j1","exp":%d,"iat":%d%s}`,
		client, client, aud, now.Add(time.Minute).Unix(), now.Unix(), extra)
}

// assertionSeeds are what a fuzz target starts from: valid assertions and
// each kind of wrong one, as (protected header, payload).
func assertionSeeds() [][2]string {
	good := claimsAt(fuzzNow, fmt.Sprintf("%q", issuer), "")
	exp := fuzzNow.Add(time.Minute).Unix()
	return [][2]string{
		{`{"alg":"ES256","kid":"ec-1"}`, good},
		{`{"alg":"ES256"}`, claimsAt(fuzzNow, fmt.Sprintf("%q", endpoint), "")},
		{`{"alg":"EdDSA","typ":"JWT"}`, claimsAt(fuzzNow, fmt.Sprintf("[%q]", issuer), "")},
		{`{"alg":"RS256","typ":"client-authentication+jwt"}`, good},
		{`{"alg":"PS256","typ":"application/client-authentication+jwt"}`, claimsAt(fuzzNow, fmt.Sprintf("%q", endpoint), "")},
		{`{"alg":"ES256","typ":"at+jwt"}`, good},
		{`{"alg":"none"}`, good},
		{`{"alg":"HS256"}`, good},
		{`{"ALG":"ES256"}`, good},
		{`{"alg":"ES256","x":"` + strings.Repeat("h", 12<<10) + `"}`, good},
		{`{"alg":"ES256","crit":["b64"],"b64":false}`, good},
		{`{"alg":"ES256"}`, claimsAt(fuzzNow, fmt.Sprintf("[%q,%q]", issuer, endpoint), "")},
		{`{"alg":"ES256"}`, claimsAt(fuzzNow, fmt.Sprintf("[%q,\"elsewhere\"]", issuer), "")},
		{`{"alg":"ES256"}`, claimsAt(fuzzNow, `[]`, "")},
		{`{"alg":"ES256"}`, claimsAt(fuzzNow, `null`, "")},
		{`{"alg":"ES256"}`, claimsAt(fuzzNow.Add(time.Hour), fmt.Sprintf("%q", issuer), "")},
		{`{"alg":"ES256"}`, fmt.Sprintf(`{"iss":%q,"sub":%q,"aud":%q,"jti":"j","exp":"%d"}`, client, client, issuer, exp)},
		{`{"alg":"ES256"}`, fmt.Sprintf(`{"ISS":%q,"iss":"other","sub":%q,"aud":%q,"jti":"j","exp":%d}`, client, client, issuer, exp)},
		{`{"alg":"ES256"}`, fmt.Sprintf(`{"iss":%q,"sub":%q,"aud":%q,"jti":"j","exp":%d,"deep":%s1%s}`, client, client, issuer, exp,
			strings.Repeat("[", 5000), strings.Repeat("]", 5000))},
		{`{"alg":"ES256"}`, good + `x`},
		// Found by this target: jwx reads an exp of 0 as no exp.
		{`{"alg":"EdDSA"}`, fmt.Sprintf(`{"iss":%q,"sub":%q,"aud":[%q],"jti":"","exp":0}`, client, client, issuer)},
		{`{"alg":"EdDSA"}`, fmt.Sprintf(`{"iss":%q,"sub":%q,"aud":[%q],"jti":"j","exp":0.5}`, client, client, issuer)},
		{`{"alg":"ES256"}`, `null`},
	}
}

// FuzzClientID: no input makes ClientID panic, and an id it returns is
// the iss and the sub of the payload, read by their exact names.
func FuzzClientID(f *testing.F) {
	for _, s := range assertionSeeds() {
		f.Add(b64(s[0]) + "." + b64(s[1]) + ".c2ln")
	}
	f.Add("a.b")
	f.Add("a.!!!.c")
	f.Add("..")
	f.Add(`{"payload":"x.y.z"}`)
	f.Add(b64(`{"alg":"ES256"}`) + "." + b64(`{"ISS":"c","SUB":"c"}`) + ".c2ln")
	f.Fuzz(func(t *testing.T, raw string) {
		id, err := assertion.ClientID(raw)
		if err != nil {
			if !errors.Is(err, assertion.ErrInvalid) || id != "" {
				t.Fatalf("ClientID = %q, %v", id, err)
			}
			return
		}
		parts := strings.Split(raw, ".")
		payload, err := base64.RawURLEncoding.Strict().DecodeString(parts[1])
		if err != nil {
			t.Fatalf("ClientID %q from a payload that is not base64url: %q", id, raw)
		}
		var claims map[string]json.RawMessage
		if err := json.Unmarshal(payload, &claims); err != nil {
			t.Fatalf("ClientID %q from a payload that is not a JSON object: %q", id, raw)
		}
		var iss, sub string
		_ = json.Unmarshal(claims["iss"], &iss)
		_ = json.Unmarshal(claims["sub"], &sub)
		if id == "" || id != iss || id != sub {
			t.Fatalf("ClientID = %q, but iss %q and sub %q: %q", id, iss, sub, raw)
		}
	})
}

type fuzzClient struct {
	keys    []*assertion.Key
	signers map[string]any // alg -> private key
}

func newFuzzClient(tb testing.TB) *fuzzClient {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rs, _ := rsa.GenerateKey(rand.Reader, 2048)
	parseKey := func(src string) *assertion.Key {
		k, err := assertion.ParseKey(src)
		if err != nil {
			tb.Fatal(err)
		}
		return k
	}
	return &fuzzClient{
		keys: []*assertion.Key{
			parseKey(jwkJSON(tb, &ec.PublicKey, map[string]any{"kid": "ec-1"})),
			parseKey(publicPEM(tb, ed.Public())),
			parseKey(publicPEM(tb, &rs.PublicKey)),
		},
		signers: map[string]any{"ES256": ec, "EdDSA": ed, "RS256": rs, "PS256": rs},
	}
}

// sign signs header.payload with the client's key of the alg that which
// picks, whatever alg the header names.
func (fc *fuzzClient) sign(tb testing.TB, which uint8, header, payload []byte) string {
	algs := []string{"ES256", "EdDSA", "RS256", "PS256"}
	alg := algs[int(which)%len(algs)]
	s, err := jws.NewSigner(jwa.SignatureAlgorithm(alg))
	if err != nil {
		tb.Fatal(err)
	}
	input := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
	sig, err := s.Sign([]byte(input), fc.signers[alg])
	if err != nil {
		tb.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// FuzzVerifyAssertion: for any header and payload signed by one of the
// client's keys, Verify never panics, and what it accepts holds what RFC
// 7523 §3 and draft-ietf-oauth-rfc7523bis ask, read here independently
// with exact member names: one JSON object per part; a typ, if any, of a
// client assertion; iss and sub the client, whom ClientID names too; one
// aud, this server's issuer, or its token endpoint when the assertion is
// not explicitly typed; a jti; an exp that is a number within
// MaxLifetime. And it is accepted once only.
func FuzzVerifyAssertion(f *testing.F) {
	fc := newFuzzClient(f)
	for _, s := range assertionSeeds() {
		for which := range 4 {
			f.Add([]byte(s[0]), []byte(s[1]), uint8(which))
		}
	}
	f.Fuzz(func(t *testing.T, header, payload []byte, which uint8) {
		raw := fc.sign(t, which, header, payload)
		v := assertion.NewVerifier(10, func() time.Time { return fuzzNow })
		err := v.Verify(raw, client, fc.keys, audiences)
		if err != nil {
			if !errors.Is(err, assertion.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if why := breaksAssertionRules(header, payload); why != "" {
			t.Fatalf("accepted, but %s: header %s payload %s", why, header, payload)
		}
		if id, err := assertion.ClientID(raw); id != client {
			t.Fatalf("accepted for %s, but ClientID says %q, %v", client, id, err)
		}
		if err := v.Verify(raw, client, fc.keys, audiences); err == nil {
			t.Fatal("accepted twice")
		}
	})
}

// breaksAssertionRules says which rule an accepted assertion breaks.
func breaksAssertionRules(header, payload []byte) string {
	var h map[string]json.RawMessage
	if !json.Valid(header) || json.Unmarshal(header, &h) != nil || h == nil {
		return "the header is not one JSON object"
	}
	body := bytes.TrimSpace(payload)
	var c map[string]json.RawMessage
	if !json.Valid(body) || len(body) == 0 || body[0] != '{' || json.Unmarshal(body, &c) != nil {
		return "the payload is not one JSON object"
	}
	var typ string
	if v, ok := h["typ"]; ok && json.Unmarshal(v, &typ) != nil {
		return "typ is not a string"
	}
	typ = strings.TrimPrefix(strings.ToLower(typ), "application/")
	if typ != "" && typ != "jwt" && typ != "client-authentication+jwt" {
		return "typ " + typ
	}
	str := func(name string) string {
		var s string
		if v, ok := c[name]; ok && json.Unmarshal(v, &s) != nil {
			return "\x00not a string"
		}
		return s
	}
	if str("iss") != client || str("sub") != client {
		return "iss or sub is not the client"
	}
	if str("jti") == "" {
		return "no jti"
	}
	var aud []string
	if v, ok := c["aud"]; !ok {
		return "no aud"
	} else if len(v) > 0 && v[0] == '"' {
		aud = []string{str("aud")}
	} else if json.Unmarshal(v, &aud) != nil {
		return "aud is neither a string nor an array of them"
	}
	want := []string{issuer, endpoint}
	if typ == "client-authentication+jwt" {
		want = want[:1]
	}
	if len(aud) != 1 || !slices.Contains(want, aud[0]) {
		return fmt.Sprintf("aud %q is not %q alone", aud, want)
	}
	var exp float64
	if v, ok := c["exp"]; !ok || v[0] == '"' || json.Unmarshal(v, &exp) != nil {
		return "exp is not a number"
	}
	if at := time.Unix(int64(exp), 0); !fuzzNow.Before(at.Add(assertion.Leeway)) || at.After(fuzzNow.Add(assertion.MaxLifetime+assertion.Leeway)) {
		return "exp is out of bounds"
	}
	return ""
}
