package assertion_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/tollgate-dev/tollgate/engine/assertion"
	"github.com/tollgate-dev/tollgate/engine/state"
)

const (
	client   = "batch-job"
	issuer   = "https://auth.example"
	endpoint = "https://auth.example/oauth2/token"
)

var audiences = []string{issuer, endpoint}

func pemOf(t testing.TB, typ string, der []byte) string {
	t.Helper()
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func publicPEM(t testing.TB, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf(t, "PUBLIC KEY", der)
}

func jwkJSON(t testing.TB, raw any, set map[string]any) string {
	t.Helper()
	k, err := jwk.FromRaw(raw)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range set {
		if err := k.Set(name, v); err != nil {
			t.Fatal(err)
		}
	}
	out, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func parse(t *testing.T, src string) *assertion.Key {
	t.Helper()
	k, err := assertion.ParseKey(src)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

type signer struct {
	alg jwa.SignatureAlgorithm
	key any
	kid string
	typ string
}

func sign(t *testing.T, s signer, claims map[string]any) string {
	t.Helper()
	tok := jwt.New()
	for name, v := range claims {
		if err := tok.Set(name, v); err != nil {
			t.Fatal(err)
		}
	}
	hdr := jws.NewHeaders()
	if s.kid != "" {
		_ = hdr.Set(jws.KeyIDKey, s.kid)
	}
	if s.typ != "" {
		_ = hdr.Set(jws.TypeKey, s.typ)
	}
	out, err := jwt.Sign(tok, jwt.WithKey(s.alg, s.key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// unsigned builds an alg=none token by hand: jwx will not make one.
func unsigned(claims map[string]any) string {
	h, _ := json.Marshal(map[string]string{"alg": "none"})
	p, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p) + "."
}

// TestVerify: an assertion is accepted only when signed by a current key
// of the client with an algorithm that key allows, issued by and about
// the client, for this server, unexpired, at most MaxLifetime long, and
// not seen before.
func TestVerify(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rs, _ := rsa.GenerateKey(rand.Reader, 2048)
	keys := []*assertion.Key{
		parse(t, jwkJSON(t, &ec.PublicKey, map[string]any{"kid": "ec-1"})),
		parse(t, publicPEM(t, ed.Public())),
		parse(t, publicPEM(t, &rs.PublicKey)),
	}
	expired := parse(t, publicPEM(t, &other.PublicKey))
	expired.NotAfter = now.Add(-time.Minute)

	good := func(jti string) map[string]any {
		return map[string]any{"iss": client, "sub": client, "aud": endpoint, "jti": jti, "exp": now.Add(time.Minute), "iat": now}
	}
	with := func(jti string, changes map[string]any) map[string]any {
		c := good(jti)
		for k, v := range changes {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	ecSigner := signer{jwa.ES256, ec, "ec-1", ""}
	hmacKey, _ := json.Marshal(jwkJSON(t, &ec.PublicKey, nil))
	for i, tc := range []struct {
		name    string
		raw     func() string
		keys    []*assertion.Key
		wantErr string
	}{
		{name: "ES256 with kid", raw: func() string { return sign(t, ecSigner, good("a")) }},
		{name: "EdDSA without kid", raw: func() string { return sign(t, signer{jwa.EdDSA, ed, "", ""}, good("b")) }},
		{name: "PS256", raw: func() string { return sign(t, signer{jwa.PS256, rs, "", ""}, good("c")) }},
		{name: "aud the issuer", raw: func() string { return sign(t, ecSigner, with("d", map[string]any{"aud": issuer})) }},
		{name: "aud the issuer, alone in an array", raw: func() string {
			return sign(t, ecSigner, with("d2", map[string]any{"aud": []string{issuer}}))
		}},
		{name: "aud the token endpoint, alone in an array", raw: func() string {
			return sign(t, ecSigner, with("d3", map[string]any{"aud": []string{endpoint}}))
		}},
		{name: "aud the issuer among others", raw: func() string {
			return sign(t, ecSigner, with("d4", map[string]any{"aud": []string{"someone-else", issuer}}))
		}, wantErr: "sole audience"},
		{name: "aud the issuer and the token endpoint", raw: func() string {
			return sign(t, ecSigner, with("d5", map[string]any{"aud": []string{issuer, endpoint}}))
		}, wantErr: "sole audience"},
		{name: "aud empty", raw: func() string { return sign(t, ecSigner, with("d6", map[string]any{"aud": []string{}})) }, wantErr: "aud"},
		{name: "typed rfc7523bis assertion for the issuer", raw: func() string {
			return sign(t, signer{jwa.ES256, ec, "ec-1", "client-authentication+jwt"}, with("t1", map[string]any{"aud": issuer}))
		}},
		{name: "typed rfc7523bis assertion for the token endpoint", raw: func() string {
			return sign(t, signer{jwa.ES256, ec, "ec-1", "client-authentication+jwt"}, good("t2"))
		}, wantErr: "the issuer " + `"` + issuer + `"` + " alone"},
		{name: "typ JWT", raw: func() string { return sign(t, signer{jwa.ES256, ec, "ec-1", "JWT"}, good("t3")) }},
		{name: "typ of an access token", raw: func() string { return sign(t, signer{jwa.ES256, ec, "ec-1", "at+jwt"}, good("t4")) },
			wantErr: "typ"},
		{name: "a JWS nested in the payload", raw: func() string {
			inner := sign(t, ecSigner, good("t5"))
			out, err := jws.Sign([]byte(inner), jws.WithKey(jwa.ES256, ec))
			if err != nil {
				t.Fatal(err)
			}
			return string(out)
		}, wantErr: "JSON object"},
		{name: "JSON serialization", raw: func() string {
			out, err := jws.Sign([]byte(fmt.Sprintf(`{"iss":%q,"sub":%q,"aud":%q,"jti":"t6","exp":%d}`, client, client, issuer, now.Add(time.Minute).Unix())),
				jws.WithKey(jwa.ES256, ec), jws.WithJSON())
			if err != nil {
				t.Fatal(err)
			}
			return string(out)
		}, wantErr: "compact"},
		{name: "exp within leeway", raw: func() string {
			return sign(t, ecSigner, with("e", map[string]any{"exp": now.Add(-10 * time.Second)}))
		}},
		{name: "expired", raw: func() string {
			return sign(t, ecSigner, with("f", map[string]any{"exp": now.Add(-time.Minute)}))
		}, wantErr: "exp"},
		{name: "exp too far away", raw: func() string {
			return sign(t, ecSigner, with("g", map[string]any{"exp": now.Add(time.Hour)}))
		}, wantErr: "more than 10m0s away"},
		{name: "not yet valid", raw: func() string {
			return sign(t, ecSigner, with("h", map[string]any{"nbf": now.Add(time.Minute)}))
		}, wantErr: "nbf"},
		{name: "issued in the future", raw: func() string {
			return sign(t, ecSigner, with("i", map[string]any{"iat": now.Add(time.Minute)}))
		}, wantErr: "iat"},
		{name: "no exp", raw: func() string { return sign(t, ecSigner, with("j", map[string]any{"exp": nil})) }, wantErr: "exp"},
		{name: "no jti", raw: func() string { return sign(t, ecSigner, with("", map[string]any{"jti": nil})) }, wantErr: "jti"},
		{name: "an empty jti", raw: func() string { return sign(t, ecSigner, good("")) }, wantErr: "jti"},
		// jwx reads an exp of 0 as no exp, and so never expires it: such an
		// assertion would be forever valid, and replayable once its jti
		// is swept as expired.
		{name: "exp 0", raw: func() string { return sign(t, ecSigner, with("e0", map[string]any{"exp": 0})) }, wantErr: "exp"},
		{name: "exp a fraction of a second", raw: func() string { return sign(t, ecSigner, with("e1", map[string]any{"exp": 0.5})) },
			wantErr: "exp"},
		{name: "another audience", raw: func() string {
			return sign(t, ecSigner, with("k", map[string]any{"aud": "https://elsewhere.example/token"}))
		}, wantErr: "aud"},
		{name: "another issuer", raw: func() string {
			return sign(t, ecSigner, with("l", map[string]any{"iss": "someone-else"}))
		}, wantErr: "iss"},
		{name: "another subject", raw: func() string {
			return sign(t, ecSigner, with("m", map[string]any{"sub": "someone-else"}))
		}, wantErr: "sub"},
		{name: "signed by a key the client did not declare", raw: func() string {
			return sign(t, signer{jwa.ES256, other, "", ""}, good("n"))
		}, wantErr: "matches no current key"},
		{name: "signed by a key past its not_after", raw: func() string {
			return sign(t, signer{jwa.ES256, other, "", ""}, good("o"))
		}, keys: []*assertion.Key{expired}, wantErr: "no current key"},
		{name: "unknown kid", raw: func() string { return sign(t, signer{jwa.ES256, ec, "ec-2", ""}, good("p")) }, wantErr: "no current key"},
		{name: "alg none", raw: func() string { return unsigned(good("q")) }, wantErr: "invalid client assertion"},
		{name: "HS256 keyed with the public key", raw: func() string { return sign(t, signer{jwa.HS256, hmacKey, "", ""}, good("r")) },
			wantErr: "no current key"},
		{name: "RS256 signature with an EC key's kid", raw: func() string { return sign(t, signer{jwa.RS256, rs, "ec-1", ""}, good("s")) },
			wantErr: "no current key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := assertion.NewVerifier(100, func() time.Time { return now })
			ks := keys
			if tc.keys != nil {
				ks = tc.keys
			}
			raw := tc.raw()
			err := v.Verify(raw, client, ks, audiences)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Fatalf("accepted, want an error about %q", tc.wantErr)
			case tc.wantErr != "" && (!errors.Is(err, assertion.ErrInvalid) || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("err = %v, want one about %q", err, tc.wantErr)
			}
			if tc.wantErr == "" {
				// Once accepted, the same assertion is a replay.
				if err := v.Verify(raw, client, ks, audiences); err == nil || !strings.Contains(err.Error(), "used before") {
					t.Fatalf("replay: err = %v", err)
				}
			}
			_ = i
		})
	}
}

// TestReplayQuotaIsPerClient: past its quota of unexpired assertions, a
// client's next one is refused (and names the quota, not a replay) while
// another client's are accepted; expired jtis make room, and a replay
// never passes.
func TestReplayQuotaIsPerClient(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	clock := now
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keys := []*assertion.Key{parse(t, publicPEM(t, &ec.PublicKey))}
	v := assertion.NewVerifier(3, func() time.Time { return clock })
	mk := func(id string, i int) string {
		return sign(t, signer{jwa.ES256, ec, "", ""}, map[string]any{
			"iss": id, "sub": id, "aud": issuer, "jti": fmt.Sprint(i), "exp": clock.Add(time.Minute),
		})
	}
	for i := range 3 {
		if err := v.Verify(mk(client, i), client, keys, audiences); err != nil {
			t.Fatal(i, err)
		}
	}
	var quota *state.QuotaError
	if err := v.Verify(mk(client, 3), client, keys, audiences); !errors.As(err, &quota) {
		t.Fatalf("a fourth assertion while three unexpired ones fill the quota: err = %v", err)
	}
	if err := v.Verify(mk("another-job", 3), "another-job", keys, audiences); err != nil {
		t.Fatalf("another client, while the first is at its quota: %v", err)
	}
	clock = now.Add(2 * time.Minute) // the first three are past exp + leeway
	if err := v.Verify(mk(client, 4), client, keys, audiences); err != nil {
		t.Fatalf("expired entries did not make room: %v", err)
	}
	// The sweep forgot only expired jtis: jti 4 is still a replay.
	if err := v.Verify(mk(client, 4), client, keys, audiences); err == nil || !strings.Contains(err.Error(), "used before") {
		t.Fatalf("replay after a sweep: err = %v", err)
	}
}

// TestCheckUsesNothingUp: Check verifies without spending the jti;
// Unused then sees it unused, and once Use spent it, a replay.
func TestCheckUsesNothingUp(t *testing.T) {
	now := time.Now()
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keys := []*assertion.Key{parse(t, publicPEM(t, &ec.PublicKey))}
	v := assertion.NewVerifier(10, func() time.Time { return now })
	raw := sign(t, signer{jwa.ES256, ec, "", ""}, map[string]any{"iss": client, "sub": client, "aud": issuer, "jti": "j", "exp": now.Add(time.Minute)})
	ctx := context.Background()
	for range 2 {
		verified, err := v.Check(raw, client, keys, audiences)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Unused(ctx, client, verified); err != nil {
			t.Fatalf("Unused after Check alone: %v", err)
		}
	}
	verified, _ := v.Check(raw, client, keys, audiences)
	if err := v.Use(ctx, client, verified); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{"Unused": v.Unused(ctx, client, verified), "Use": v.Use(ctx, client, verified)} {
		if !errors.Is(err, assertion.ErrInvalid) || !strings.Contains(err.Error(), "used before") {
			t.Errorf("%s after Use: %v, want a replay", name, err)
		}
	}
	empty := sign(t, signer{jwa.ES256, ec, "", ""}, map[string]any{"iss": client, "sub": client, "aud": issuer, "jti": "", "exp": now.Add(time.Minute)})
	if _, err := v.Check(empty, client, keys, audiences); err == nil {
		t.Error("an empty jti was accepted")
	}
}

// TestAnAssertionWithExpZeroIsNotReplayable: jwx reads "exp": 0 as no
// exp, so such an assertion passed as never expiring, and its jti, kept
// until an exp of 1970, was swept at the next minute: the same assertion
// then passed again. It is refused from the start.
func TestAnAssertionWithExpZeroIsNotReplayable(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	clock := now
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keys := []*assertion.Key{parse(t, publicPEM(t, &ec.PublicKey))}
	v := assertion.NewVerifier(100, func() time.Time { return clock })
	eternal := sign(t, signer{jwa.ES256, ec, "", ""}, map[string]any{"iss": client, "sub": client, "aud": issuer, "jti": "same", "exp": 0})
	other := sign(t, signer{jwa.ES256, ec, "", ""}, map[string]any{"iss": client, "sub": client, "aud": issuer, "jti": "other",
		"exp": now.Add(3 * time.Minute)})
	accepted := 0
	for _, step := range []struct {
		raw string
		at  time.Duration
	}{{eternal, 0}, {other, 2 * time.Minute}, {eternal, 2 * time.Minute}} {
		clock = now.Add(step.at)
		if err := v.Verify(step.raw, client, keys, audiences); err == nil && step.raw == eternal {
			accepted++
		}
	}
	if accepted != 0 {
		t.Fatalf("an assertion with exp 0 was accepted %d times", accepted)
	}
}
