package token_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/tollgate-dev/tollgate/engine/token"
)

// t0 is the fake clock's origin: every time in these tests is an offset
// from it.
var t0 = time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)

func h(n float64) time.Duration { return time.Duration(n * float64(time.Hour)) }

// fileKey describes a key file by offsets from t0; nil means the member
// is absent.
type fileKey struct {
	name     string
	alg      string
	created  time.Duration
	signFrom *time.Duration
	retire   *time.Duration
}

func at(d time.Duration) *time.Duration { return &d }

// writeKeys writes keys into a new folder and returns it with the kid of
// each name.
func writeKeys(t *testing.T, keys []fileKey) (string, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	kids := map[string]string{}
	for _, k := range keys {
		alg := k.alg
		if alg == "" {
			alg = "ES256"
		}
		key, err := token.GenerateKey(alg)
		if err != nil {
			t.Fatal(err)
		}
		_ = key.Set("iat", t0.Add(k.created).Unix())
		if k.signFrom != nil {
			_ = key.Set("nbf", t0.Add(*k.signFrom).Unix())
		}
		if k.retire != nil {
			_ = key.Set("exp", t0.Add(*k.retire).Unix())
		}
		if _, err := token.WriteKeyFile(dir, key); err != nil {
			t.Fatal(err)
		}
		kids[k.name] = key.KeyID()
	}
	return dir, kids
}

// TestKeySelectionByTime: which key signs and which keys are published
// follows from the keys' times and the clock alone.
func TestKeySelectionByTime(t *testing.T) {
	type want struct {
		at        time.Duration
		signer    string
		published []string // newest first
	}
	tests := []struct {
		name  string
		keys  []fileKey
		alg   string
		wants []want
	}{
		{
			name:  "one key signs from its creation",
			keys:  []fileKey{{name: "A", created: -h(1)}},
			wants: []want{{0, "A", []string{"A"}}},
		},
		{
			name:  "without nbf the newest created key signs, all are published",
			keys:  []fileKey{{name: "A", created: -h(2)}, {name: "B", created: -h(1)}},
			wants: []want{{0, "B", []string{"B", "A"}}},
		},
		{
			name: "a key published ahead signs from its nbf, not before",
			keys: []fileKey{{name: "A", created: -h(2)}, {name: "B", signFrom: at(h(1))}},
			wants: []want{
				{0, "A", []string{"B", "A"}},
				{h(1) - time.Second, "A", []string{"B", "A"}},
				{h(1), "B", []string{"B", "A"}},
			},
		},
		{
			name: "the old key is published until its exp",
			keys: []fileKey{{name: "A", created: -h(2), retire: at(h(26))}, {name: "B", signFrom: at(h(1))}},
			wants: []want{
				{h(1), "B", []string{"B", "A"}},
				{h(26) - time.Second, "B", []string{"B", "A"}},
				{h(26), "B", []string{"B"}},
			},
		},
		{
			name:  "keys of another alg are published but do not sign",
			keys:  []fileKey{{name: "A", created: -h(2)}, {name: "E", alg: "EdDSA", created: -h(1)}},
			alg:   "ES256",
			wants: []want{{0, "A", []string{"E", "A"}}},
		},
		{
			name: "when no key has started, the first to start signs",
			keys: []fileKey{{name: "A", signFrom: at(h(1))}, {name: "B", signFrom: at(h(2))}},
			wants: []want{
				{0, "A", []string{"B", "A"}},
				{h(2), "B", []string{"B", "A"}},
			},
		},
		{
			name:  "a retired key neither signs nor is published",
			keys:  []fileKey{{name: "A", created: -h(2), retire: at(-h(1))}, {name: "B", created: -h(3)}},
			wants: []want{{0, "B", []string{"B"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, kids := writeKeys(t, tt.keys)
			ks, err := token.LoadDir(dir, tt.alg, t0)
			if err != nil {
				t.Fatal(err)
			}
			names := map[string]string{}
			for name, kid := range kids {
				names[kid] = name
			}
			for _, w := range tt.wants {
				clock := t0.Add(w.at)
				if got := names[ks.SigningKeyID(clock)]; got != w.signer {
					t.Errorf("at %v: signer %s, want %s", w.at, got, w.signer)
				}
				var published []string
				for _, kid := range ks.Published(clock) {
					published = append(published, names[kid])
				}
				if !slices.Equal(published, w.published) {
					t.Errorf("at %v: published %v, want %v", w.at, published, w.published)
				}
				if got := jwksKids(t, ks.JWKS(clock)); !slices.Equal(got, ks.Published(clock)) {
					t.Errorf("at %v: JWKS has %v, Published says %v", w.at, got, ks.Published(clock))
				}
				// A token takes the key of its iat.
				c := claims()
				c.IssuedAt, c.ExpiresAt = clock, clock.Add(h(1))
				raw, err := ks.Mint(c)
				if err != nil {
					t.Fatal(err)
				}
				if got := names[kidOf(t, raw)]; got != w.signer {
					t.Errorf("at %v: token signed by %s, want %s", w.at, got, w.signer)
				}
				if _, err := ks.Verify(raw, clock); err != nil {
					t.Errorf("at %v: %v", w.at, err)
				}
			}
		})
	}
}

// TestEqualTimesPickTheSameKeyEverywhere: two keys made in the same
// second are ordered by kid, so replicas never disagree on the signer.
func TestEqualTimesPickTheSameKeyEverywhere(t *testing.T) {
	dir, kids := writeKeys(t, []fileKey{{name: "A"}, {name: "B"}})
	want := max(kids["A"], kids["B"])
	for range 5 {
		ks, err := token.LoadDir(dir, "", t0)
		if err != nil {
			t.Fatal(err)
		}
		if got := ks.SigningKeyID(t0); got != want {
			t.Fatalf("signer %s, want %s (the greater kid)", got, want)
		}
	}
}

func TestRetiredKeysNoLongerVerify(t *testing.T) {
	dir, _ := writeKeys(t, []fileKey{{name: "A", created: -h(2), retire: at(h(2))}, {name: "B", signFrom: at(h(1))}})
	ks, err := token.LoadDir(dir, "", t0)
	if err != nil {
		t.Fatal(err)
	}
	c := claims()
	c.IssuedAt, c.ExpiresAt = t0, t0.Add(h(48))
	raw, _ := ks.Mint(c)
	if _, err := ks.Verify(raw, t0.Add(h(2)-time.Second)); err != nil {
		t.Errorf("before its key retires: %v", err)
	}
	if _, err := ks.Verify(raw, t0.Add(h(2))); !errors.Is(err, token.ErrInvalidToken) || !strings.Contains(err.Error(), "retired") {
		t.Errorf("after its key retired: %v", err)
	}
}

func TestLoadDirRefusesAFolderThatCannotSign(t *testing.T) {
	dir, _ := writeKeys(t, []fileKey{{name: "A", created: -h(3), retire: at(-h(1))}})
	_, err := token.LoadDir(dir, "ES256", t0)
	if err == nil || !strings.Contains(err.Error(), "retired") || !strings.Contains(err.Error(), "keys rotate --keys "+dir) {
		t.Fatalf("every key retired: %v", err)
	}
	// Minting past the last key's retirement fails, never signs with it.
	dir, _ = writeKeys(t, []fileKey{{name: "A", created: -h(3), retire: at(h(1))}})
	ks, err := token.LoadDir(dir, "ES256", t0)
	if err != nil {
		t.Fatal(err)
	}
	c := claims()
	c.IssuedAt = t0.Add(h(1))
	if _, err := ks.Mint(c); !errors.Is(err, token.ErrNoSigningKey) {
		t.Errorf("Mint after the last key retired: %v", err)
	}
	if at, signer := ks.NextChange(t0); !at.Equal(t0.Add(h(1))) || signer != "" {
		t.Errorf("NextChange = %v %q, want the retirement with no signer", at, signer)
	}
}

func TestRetiredEarlyNamesKeysRetiredBeforeTheirTokensExpire(t *testing.T) {
	// A stops signing at +1h and retires at +11h.
	dir, kids := writeKeys(t, []fileKey{{name: "A", created: -h(2), retire: at(h(11))}, {name: "B", signFrom: at(h(1))}})
	ks, err := token.LoadDir(dir, "", t0)
	if err != nil {
		t.Fatal(err)
	}
	if got := ks.RetiredEarly(h(24)); !slices.Equal(got, []string{kids["A"]}) {
		t.Errorf("max_token_ttl 24h: %v, want A", got)
	}
	if got := ks.RetiredEarly(h(10)); len(got) != 0 {
		t.Errorf("max_token_ttl 10h: %v, want none", got)
	}
}

// TestRotate: the first key signs at once; the next is published ahead
// and the one it replaces is scheduled to retire; a later rotation
// removes the retired file.
func TestRotate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	opts := token.RotateOptions{PublishAhead: h(1), RetireAfter: h(25), Now: t0}
	first, err := token.Rotate(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !first.SignsFrom.Equal(t0) || first.Alg != "ES256" || len(first.Retiring) != 0 {
		t.Errorf("first rotation into an empty folder: %+v, want an ES256 key signing at once", first)
	}

	opts.Now = t0.Add(h(2))
	second, err := token.Rotate(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(h(3)); !second.SignsFrom.Equal(want) {
		t.Errorf("second key signs from %v, want %v", second.SignsFrom, want)
	}
	if want := []token.Retiring{{KeyID: first.KeyID, RetireAt: t0.Add(h(28))}}; !slices.Equal(second.Retiring, want) {
		t.Errorf("retiring %+v, want %+v", second.Retiring, want)
	}
	info, err := os.Stat(first.Path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("the rewritten first key file: %v %v", info, err)
	}
	for _, w := range []struct {
		at        time.Duration
		signer    string
		published []string
	}{
		{h(2), first.KeyID, []string{second.KeyID, first.KeyID}},
		{h(3), second.KeyID, []string{second.KeyID, first.KeyID}},
		{h(28), second.KeyID, []string{second.KeyID}},
	} {
		ks, err := token.LoadDir(dir, "", t0.Add(w.at))
		if err != nil {
			t.Fatal(err)
		}
		if got := ks.SigningKeyID(t0.Add(w.at)); got != w.signer {
			t.Errorf("at %v: signer %s, want %s", w.at, got, w.signer)
		}
		if got := ks.Published(t0.Add(w.at)); !slices.Equal(got, w.published) {
			t.Errorf("at %v: published %v, want %v", w.at, got, w.published)
		}
	}

	opts.Now = t0.Add(h(29))
	third, err := token.Rotate(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(third.Removed, []string{first.Path}) {
		t.Errorf("removed %v, want the retired first key", third.Removed)
	}
	if len(third.Retiring) != 1 || third.Retiring[0].KeyID != second.KeyID {
		t.Errorf("retiring %+v, want the second key", third.Retiring)
	}
	if _, err := os.Stat(first.Path); !os.IsNotExist(err) {
		t.Errorf("the retired file is still there: %v", err)
	}
}

func TestRotateKeepsTheAlgAndLeavesOtherAlgsAlone(t *testing.T) {
	dir, kids := writeKeys(t, []fileKey{{name: "E", alg: "EdDSA", created: -h(1)}})
	r, err := token.Rotate(dir, token.RotateOptions{PublishAhead: h(1), RetireAfter: h(25), Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if r.Alg != "EdDSA" || len(r.Retiring) != 1 || r.Retiring[0].KeyID != kids["E"] {
		t.Errorf("default alg: %+v, want EdDSA replacing E", r)
	}
	r, err = token.Rotate(dir, token.RotateOptions{Alg: "ES256", PublishAhead: h(1), RetireAfter: h(25), Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if r.Alg != "ES256" || len(r.Retiring) != 0 {
		t.Errorf("--alg ES256 in an EdDSA folder: %+v, want no EdDSA key retired", r)
	}
}

func TestRotateRefusesAFolderWithABrokenFile(t *testing.T) {
	dir, _ := writeKeys(t, []fileKey{{name: "A"}})
	if err := os.WriteFile(filepath.Join(dir, "broken.json"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := token.Rotate(dir, token.RotateOptions{Now: t0}); err == nil || !strings.Contains(err.Error(), "broken.json") {
		t.Fatalf("Rotate with a broken file: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("Rotate wrote into a broken folder: %d files", len(entries))
	}
}

func TestRotateRewritesAJWKSetFile(t *testing.T) {
	dir := t.TempDir()
	key, _ := token.GenerateKey("ES256")
	_ = key.Set("iat", t0.Add(-h(1)).Unix())
	set := jwk.NewSet()
	_ = set.AddKey(key)
	body, _ := json.Marshal(set)
	path := filepath.Join(dir, "set.json")
	if err := os.WriteFile(path, body, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := token.Rotate(dir, token.RotateOptions{PublishAhead: h(1), RetireAfter: h(25), Now: t0}); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil || len(doc.Keys) != 1 || doc.Keys[0]["exp"] != float64(t0.Add(h(26)).Unix()) {
		t.Errorf("the set file after rotation: %s", raw)
	}
}

func jwksKids(t *testing.T, body []byte) []string {
	t.Helper()
	set, err := jwk.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	var kids []string
	for i := 0; i < set.Len(); i++ {
		k, _ := set.Key(i)
		kids = append(kids, k.KeyID())
	}
	return kids
}

func kidOf(t *testing.T, raw string) string {
	t.Helper()
	header, err := base64URL(raw[:strings.IndexByte(raw, '.')])
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(header, &h); err != nil {
		t.Fatal(err)
	}
	return h.Kid
}

func base64URL(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
