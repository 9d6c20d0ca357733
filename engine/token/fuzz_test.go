package token_test

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

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
