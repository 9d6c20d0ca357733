package token_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/tollgate-dev/tollgate/engine/token"
)

var now = time.Now().Truncate(time.Second)

func claims() *token.Claims {
	return &token.Claims{
		Issuer: "https://auth.example", Subject: "User1", Audience: []string{"Server2"},
		IssuedAt: now, ExpiresAt: now.Add(time.Hour), ID: "jti-1", ClientID: "Client1",
		Scope: "read write", Actor: "Client1", Extra: map[string]any{"tenant": "t1"},
	}
}

// verifyAsResourceServer checks a token with jwx's own JWT parser and the
// published JWKS only, as an independent resource server would.
func verifyAsResourceServer(t *testing.T, ks *token.KeySet, raw string) jwt.Token {
	t.Helper()
	set, err := jwk.Parse(ks.JWKS(now))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Parse([]byte(raw), jwt.WithKeySet(set), jwt.WithValidate(true), jwt.WithIssuer("https://auth.example"))
	if err != nil {
		t.Fatalf("resource server rejects the token: %v", err)
	}
	msg, _ := jws.Parse([]byte(raw))
	if h := msg.Signatures()[0].ProtectedHeaders(); h.Type() != "at+jwt" || h.KeyID() != ks.SigningKeyID(now) {
		t.Errorf("header typ %q kid %q", h.Type(), h.KeyID())
	}
	return tok
}

func TestMintAndVerifyEveryAlgorithm(t *testing.T) {
	for _, alg := range []string{"ES256", "EdDSA", "RS256", "PS256"} {
		t.Run(alg, func(t *testing.T) {
			ks, err := token.Ephemeral(alg)
			if err != nil {
				t.Fatal(err)
			}
			if ks.Alg() != alg {
				t.Errorf("Alg() = %s", ks.Alg())
			}
			raw, err := ks.Mint(claims())
			if err != nil {
				t.Fatal(err)
			}
			tok := verifyAsResourceServer(t, ks, raw)
			if tok.Subject() != "User1" || tok.PrivateClaims()["client_id"] != "Client1" || tok.PrivateClaims()["tenant"] != "t1" {
				t.Errorf("claims %v", tok.PrivateClaims())
			}
			got, err := ks.Verify(raw, now)
			if err != nil {
				t.Fatal(err)
			}
			want := claims()
			if got.Subject != want.Subject || got.Actor != "Client1" || got.Scope != want.Scope || got.ID != want.ID ||
				!got.ExpiresAt.Equal(want.ExpiresAt) || len(got.Audience) != 1 || got.Extra["tenant"] != "t1" {
				t.Errorf("Verify() = %+v", got)
			}
			bound := claims()
			bound.CertThumbprint = "x5t-value"
			raw, err = ks.Mint(bound)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := ks.Verify(raw, now); err != nil || got.CertThumbprint != "x5t-value" || got.Extra["cnf"] != nil {
				t.Errorf("bound token: Verify() = %+v, %v", got, err)
			}
		})
	}
}

func TestPayloadShape(t *testing.T) {
	ks, _ := token.Ephemeral("ES256")
	tests := []struct {
		name   string
		mutate func(*token.Claims)
		want   map[string]string // claim -> raw JSON
		absent []string
	}{
		{"aud is a string when single", func(c *token.Claims) {}, map[string]string{"aud": `"Server2"`, "act": `{"sub":"Client1"}`}, []string{"nbf"}},
		{"aud is an array when several", func(c *token.Claims) { c.Audience = []string{"a", "b"} }, map[string]string{"aud": `["a","b"]`}, nil},
		{"no act, no scope, no cnf", func(c *token.Claims) { c.Actor, c.Scope = "", "" }, nil, []string{"act", "scope", "cnf"}},
		{"cnf when bound to a certificate", func(c *token.Claims) { c.CertThumbprint = "x5t-value" }, map[string]string{"cnf": `{"x5t#S256":"x5t-value"}`}, nil},
		{"strings are escaped", func(c *token.Claims) { c.Subject = "a\"b<c>\n" }, map[string]string{"sub": `"a\"b\u003cc\u003e\n"`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := claims()
			tt.mutate(c)
			raw, err := ks.Mint(c)
			if err != nil {
				t.Fatal(err)
			}
			msg, err := jws.Parse([]byte(raw))
			if err != nil {
				t.Fatal(err)
			}
			var payload map[string]json.RawMessage
			if err := json.Unmarshal(msg.Payload(), &payload); err != nil {
				t.Fatalf("payload is not JSON: %s", msg.Payload())
			}
			for name, want := range tt.want {
				if string(payload[name]) != want {
					t.Errorf("%s = %s, want %s", name, payload[name], want)
				}
			}
			for _, name := range tt.absent {
				if _, ok := payload[name]; ok {
					t.Errorf("%s present: %s", name, payload[name])
				}
			}
		})
	}
}

func TestMintRefusesReservedExtraClaims(t *testing.T) {
	ks, _ := token.Ephemeral("ES256")
	for _, name := range []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scope", "act", "cnf"} {
		c := claims()
		c.Extra = map[string]any{name: "x"}
		if _, err := ks.Mint(c); err == nil {
			t.Errorf("Extra %q was accepted", name)
		}
	}
}

func TestVerifyRejects(t *testing.T) {
	ks, _ := token.Ephemeral("ES256")
	other, _ := token.Ephemeral("ES256")
	good, _ := ks.Mint(claims())
	fromOther, _ := other.Mint(claims())
	parts := strings.Split(good, ".")
	expiredClaims := claims()
	expiredClaims.ExpiresAt = now.Add(-time.Minute)
	expired, _ := ks.Mint(expiredClaims)

	key, _ := token.GenerateKey("ES256")
	wrongTyp, _ := jwt.Sign(jwt.New(), jwt.WithKey(jwa.ES256, key))
	tests := map[string]string{
		"another key":      fromOther,
		"expired":          expired,
		"tampered payload": parts[0] + "." + strings.TrimRight(parts[1], "A") + "B." + parts[2],
		"no signature":     parts[0] + "." + parts[1] + ".",
		"alg none":         "eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0." + parts[1] + ".",
		"wrong typ":        string(wrongTyp),
		"garbage":          "not-a-token",
		"empty":            "",
	}
	for name, raw := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := ks.Verify(raw, now); !errors.Is(err, token.ErrInvalidToken) {
				t.Errorf("Verify() error = %v, want ErrInvalidToken", err)
			}
		})
	}
}

func TestJWKSHasPublicKeysOnly(t *testing.T) {
	for _, alg := range []string{"ES256", "EdDSA", "RS256"} {
		ks, _ := token.Ephemeral(alg)
		var doc struct {
			Keys []map[string]any `json:"keys"`
		}
		if err := json.Unmarshal(ks.JWKS(now), &doc); err != nil || len(doc.Keys) != 1 {
			t.Fatalf("%s: JWKS %s", alg, ks.JWKS(now))
		}
		k := doc.Keys[0]
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "iat", "nbf", "exp"} {
			if _, ok := k[private]; ok {
				t.Errorf("%s: JWKS has %q", alg, private)
			}
		}
		if k["kid"] != ks.SigningKeyID(now) || k["alg"] != alg || k["use"] != "sig" {
			t.Errorf("%s: JWKS key %v", alg, k)
		}
	}
}

func BenchmarkMint(b *testing.B) {
	for _, alg := range []string{"ES256", "EdDSA", "RS256", "PS256"} {
		b.Run(alg, func(b *testing.B) {
			ks, _ := token.Ephemeral(alg)
			c := claims()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ks.Mint(c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMintJWTSign is the usual jwx way, for comparison with Mint.
func BenchmarkMintJWTSign(b *testing.B) {
	key, _ := token.GenerateKey("ES256")
	b.ReportAllocs()
	for b.Loop() {
		tok, _ := jwt.NewBuilder().Issuer("https://auth.example").Subject("User1").Audience([]string{"Server2"}).
			IssuedAt(now).Expiration(now.Add(time.Hour)).JwtID("jti-1").Claim("client_id", "Client1").
			Claim("scope", "read write").Claim("act", map[string]string{"sub": "Client1"}).Build()
		if _, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256, key)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify compares Verify with jwx checking the same token as
// strictly as jwx can (the fuzz targets' oracle): jwt.Parse against the
// JWKS, then the header checks jwx leaves to its caller.
func BenchmarkVerify(b *testing.B) {
	fk := loadFuzzKeys(b)
	raw := fk.mint(b, 0, payloadAt(fuzzNow, `,"act":{"sub":"Client1"},"tenant":"t1"`))
	b.Run("handwritten", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := fk.set.Verify(raw, fuzzNow); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("jwx", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := fk.oracle(raw, fuzzNow); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestVerifyReadsTokensAsTheRFCsWriteThem: each case is a token that the
// fixed keys really signed, so only the parsing decides. Verify used to
// accept most of the refused ones (it read names case-insensitively,
// ignored crit, overflowed a far nbf into the past, took a null or empty
// aud, skipped line breaks and odd trailing bits in base64) and to refuse
// a fractional exp; the differential fuzz targets found them against jwx.
func TestVerifyReadsTokensAsTheRFCsWriteThem(t *testing.T) {
	fk := loadFuzzKeys(t)
	h := fk.header(0)
	exp := fuzzNow.Add(time.Hour).Unix()
	signed := func(header, payload string) string { return fk.sign(t, 0, b64(header)+"."+b64(payload)) }
	good := fmt.Sprintf(`{"aud":"a","exp":%d}`, exp)
	// The last character of a 2-byte segment carries 2 unused bits.
	tamperBits := func(seg string) string {
		alphabet := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		last := strings.IndexByte(alphabet, seg[len(seg)-1])
		return seg[:len(seg)-1] + string(alphabet[last|1])
	}
	for _, tc := range []struct {
		name, raw string
		ok        bool
	}{
		{"a fractional exp", signed(h, fmt.Sprintf(`{"aud":"a","exp":%d.75}`, exp)), true},
		{"an exponent in exp", signed(h, fmt.Sprintf(`{"aud":"a","exp":%de0}`, exp)), true},
		{"header names in capitals", signed(strings.NewReplacer(`"alg"`, `"ALG"`, `"kid"`, `"KID"`, `"typ"`, `"TYP"`).Replace(h), good), false},
		{"claim names in capitals", signed(h, fmt.Sprintf(`{"AUD":"a","EXP":%d}`, exp)), false},
		{"crit", signed(h[:len(h)-1]+`,"crit":["exp"],"exp":1}`, good), false},
		{"b64", signed(h[:len(h)-1]+`,"b64":true}`, good), false},
		{"an nbf past the year 9999", signed(h, fmt.Sprintf(`{"aud":"a","exp":%d,"nbf":9223372036854775807}`, exp)), false},
		{"an exp as a string", signed(h, fmt.Sprintf(`{"aud":"a","exp":"%d"}`, exp)), false},
		{"aud null", signed(h, fmt.Sprintf(`{"aud":null,"exp":%d}`, exp)), false},
		{"aud empty", signed(h, fmt.Sprintf(`{"aud":[],"exp":%d}`, exp)), false},
		{"bytes after the payload", signed(h, good+"x"), false},
		{"a line break in the header", fk.sign(t, 0, b64(h)[:10]+"\r\n"+b64(h)[10:]+"."+b64(good)), false},
		{"padding", fk.sign(t, 0, b64(h)+"=."+b64(good)), false},
		{"odd trailing bits", fk.sign(t, 0, b64(h)+"."+tamperBits(b64(good+" "))), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := fk.set.Verify(tc.raw, fuzzNow)
			if (err == nil) != tc.ok {
				t.Errorf("Verify() = %v, want accepted %v", err, tc.ok)
			}
		})
	}
}

// TestMintPayloadIsByteForByte: the payload's bytes, claim order and
// escaping included, are what resource servers have read so far.
func TestMintPayloadIsByteForByte(t *testing.T) {
	ks, _ := token.Ephemeral("ES256")
	at := time.Unix(1700000000, 0)
	for _, tc := range []struct {
		name   string
		claims token.Claims
		want   string
	}{
		{"every claim", token.Claims{
			Issuer: "https://auth.example", Subject: "<User1>", Audience: []string{"a", "b&c"}, IssuedAt: at, ExpiresAt: at.Add(time.Hour),
			NotBefore: at, ID: "j\"1", ClientID: "Client1", Scope: "read write", Actor: "Client1", CertThumbprint: "x5t",
			Extra: map[string]any{"tenant": "t1", "n": 2, "z": []string{"\u2028"}},
		}, `{"iss":"https://auth.example","sub":"\u003cUser1\u003e","aud":["a","b\u0026c"],"exp":1700003600,"iat":1700000000,"nbf":1700000000,"jti":"j\"1","client_id":"Client1","scope":"read write","act":{"sub":"Client1"},"cnf":{"x5t#S256":"x5t"},"n":2,"tenant":"t1","z":["\u2028"]}`},
		{"the fewest", token.Claims{Audience: []string{"a"}, IssuedAt: at, ExpiresAt: at.Add(time.Minute)},
			`{"iss":"","sub":"","aud":"a","exp":1700000060,"iat":1700000000,"jti":"","client_id":""}`},
		{"no audience", token.Claims{IssuedAt: at, ExpiresAt: at, Subject: "\xff"},
			`{"iss":"","sub":"\ufffd","aud":[],"exp":1700000000,"iat":1700000000,"jti":"","client_id":""}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := ks.Mint(&tc.claims)
			if err != nil {
				t.Fatal(err)
			}
			got, err := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[1])
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}
