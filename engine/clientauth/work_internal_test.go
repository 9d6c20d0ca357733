package clientauth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/tollgate-dev/tollgate/engine/assertion"
	"github.com/tollgate-dev/tollgate/engine/model"
	"github.com/tollgate-dev/tollgate/engine/secret"
)

// admitLog is an Admit that records what it was asked and told.
type admitLog struct {
	asked   int
	matched []bool
	refuse  error
}

func (a *admitLog) admit() (func(bool), error) {
	a.asked++
	if a.refuse != nil {
		return nil, a.refuse
	}
	return func(m bool) { a.matched = append(a.matched, m) }, nil
}

func argon2idOf(t testing.TB, plain string) string {
	t.Helper()
	h, err := secret.Argon2idHash(plain)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestUnknownIDDoesTheWorkOfAWrongSecret: where clients have
// person-chosen secrets, an unknown id runs one key derivation of theirs
// (the same parameters), admitted like a guess at a known id, just as a
// wrong secret for such a client does; where every secret is generated,
// neither derives anything.
func TestUnknownIDDoesTheWorkOfAWrongSecret(t *testing.T) {
	slowCfg := []*model.Client{
		{ID: "person", Secrets: []model.Secret{{Hash: argon2idOf(t, "a person's passphrase")}}},
		{ID: "fast", Secrets: []model.Secret{{Hash: secret.SHA256Hash("fast-secret")}}},
	}
	fastCfg := []*model.Client{{ID: "fast", Secrets: []model.Secret{{Hash: secret.SHA256Hash("fast-secret")}}}}
	tests := []struct {
		name       string
		clients    []*model.Client
		id         string
		wantDerive int64
	}{
		{"person-chosen secrets: a wrong one", slowCfg, "person", 1},
		{"person-chosen secrets: an unknown id", slowCfg, "nobody", 1},
		{"generated secrets: a wrong one", fastCfg, "fast", 0},
		{"generated secrets: an unknown id", fastCfg, "nobody", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idx, err := NewIndex(tt.clients, nil, newCache(10*verificationBytes))
			if err != nil {
				t.Fatal(err)
			}
			var a admitLog
			res := idx.Authenticate(tt.id, "guess", now, a.admit)
			if res.OK || res.Err != nil {
				t.Fatalf("result %+v", res)
			}
			if got := idx.derivations.Load(); got != tt.wantDerive {
				t.Errorf("%d key derivations, want %d", got, tt.wantDerive)
			}
			if int64(a.asked) != tt.wantDerive || len(a.matched) != a.asked {
				t.Errorf("admit asked %d times, told %v; want once per derivation, told the outcome", a.asked, a.matched)
			}
		})
	}
}

// TestDecoyCostsWhatMostPersonChosenSecretsCost: the unknown path runs the
// parameters that most person-chosen secrets of the configuration use.
func TestDecoyCostsWhatMostPersonChosenSecretsCost(t *testing.T) {
	cheapArgon := "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$" + base64.RawStdEncoding.EncodeToString(make([]byte, 32))
	clients := []*model.Client{
		{ID: "a", Secrets: []model.Secret{{Hash: cheapArgon}}},
		{ID: "b", Secrets: []model.Secret{{Hash: argon2idOf(t, "b")}}},
		{ID: "c", Secrets: []model.Secret{{Hash: argon2idOf(t, "c")}}},
		{ID: "d", Secrets: []model.Secret{{Hash: secret.SHA256Hash("d")}, {Hash: secret.SHA256Hash("e")}, {Hash: secret.SHA256Hash("f")}}},
	}
	idx, err := NewIndex(clients, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := secret.Parse(clients[1].Secrets[0].Hash)
	if idx.decoy.Cost() != want.Cost() {
		t.Errorf("decoy costs %s, want %s", idx.decoy.Cost(), want.Cost())
	}
}

// TestAdmitGatesOnlyDerivations: a generated secret, right or wrong, and
// a person's secret verified before never ask; a refusal stops the work;
// the holder's secret is reported as matched, a guess as not.
func TestAdmitGatesOnlyDerivations(t *testing.T) {
	idx, _ := testIndex(t)
	var a admitLog
	for _, c := range []struct{ id, secret string }{{"fast", "fast-secret"}, {"fast", "wrong"}, {"rotating", "new-secret"}} {
		idx.Authenticate(c.id, c.secret, now, a.admit)
	}
	if a.asked != 0 {
		t.Fatalf("generated secrets asked admit %d times", a.asked)
	}
	refused := errors.New("refused")
	a.refuse = refused
	if res := idx.Authenticate("person", "guess", now, a.admit); res.Err != refused || idx.derivations.Load() != 0 {
		t.Fatalf("a refused guess: %+v after %d derivations", res, idx.derivations.Load())
	}
	a = admitLog{}
	idx.Authenticate("person", "guess", now, a.admit)
	idx.Authenticate("person", "a person's passphrase", now, a.admit)
	if a.asked != 2 || len(a.matched) != 2 || a.matched[0] || !a.matched[1] {
		t.Errorf("admit asked %d times, told %v; want twice, a guess then a match", a.asked, a.matched)
	}
	res := idx.Authenticate("person", "a person's passphrase", now, a.admit)
	if !res.OK || a.asked != 2 {
		t.Errorf("a person's secret verified before asked again (%d) or failed (%+v)", a.asked, res)
	}
}

func TestFailureReasons(t *testing.T) {
	idx, _ := testIndex(t)
	for _, tt := range []struct{ id, secret, want string }{
		{"nobody", "x", "unknown client id"},
		{"fast", "x", "wrong secret"},
		{"rotating", "old-secret", "secret expired: " + secret.Fingerprint(secret.SHA256Hash("old-secret"))},
	} {
		if res := idx.Authenticate(tt.id, tt.secret, now, nil); !strings.HasPrefix(res.Reason, tt.want) {
			t.Errorf("%s/%s: reason %q, want %q", tt.id, tt.secret, res.Reason, tt.want)
		}
	}
}

// keyPair makes an EC key: its private JWK (what the client signs with)
// and its public PEM (what it declares).
func keyPair(t testing.TB) (private []byte, public string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jk, err := jwk.FromRaw(k)
	if err != nil {
		t.Fatal(err)
	}
	private, err = json.Marshal(jk)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return private, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// TestAssertionPathsCheckOneSignature: an unknown id, a client without
// keys, and a header naming an algorithm the client's keys do not use
// each check one signature, as a wrong signature of a known client does;
// an algorithm no key may use is refused with none checked, for all ids.
func TestAssertionPathsCheckOneSignature(t *testing.T) {
	oldKey, oldPub := keyPair(t)
	newKey, newPub := keyPair(t)
	strangerKey, _ := keyPair(t)
	clients := []*model.Client{
		{ID: "batch", AuthMethod: model.AuthPrivateKeyJWT, PublicKeys: []model.PublicKey{{Key: oldPub}, {Key: newPub}}},
		{ID: "fast", Secrets: []model.Secret{{Hash: secret.SHA256Hash("fast-secret")}}},
	}
	idx, err := NewIndex(clients, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	v := assertion.NewVerifier(1000, func() time.Time { return now })
	const aud = "https://tollgate.example"
	sign := func(key []byte, id string) string {
		raw, err := assertion.Sign(key, id, aud, now)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	edJWK, _ := jwk.FromRaw(edPriv)
	edKey, _ := json.Marshal(edJWK)
	hs256 := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256"}`)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"batch","sub":"batch"}`)) + ".c2ln"

	tests := []struct {
		name, id, raw string
		wantChecks    int64
	}{
		{"unknown id", "nobody", sign(strangerKey, "nobody"), 1},
		{"a client with a secret", "fast", sign(strangerKey, "fast"), 1},
		{"a stranger's key, two candidate keys", "batch", sign(strangerKey, "batch"), 2},
		{"another algorithm than the client's keys", "batch", sign(edKey, "batch"), 1},
		{"HMAC, for a client", "batch", hs256, 0},
		{"HMAC, for an unknown id", "nobody", hs256, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := idx.signatures.Load()
			if res := idx.AuthenticateAssertion(tt.id, tt.raw, v, []string{aud}, now); res.OK || res.Reason == "" {
				t.Fatalf("result %+v", res)
			}
			if got := idx.signatures.Load() - before; got != tt.wantChecks {
				t.Errorf("%d signatures checked, want %d", got, tt.wantChecks)
			}
		})
	}

	for i, key := range [][]byte{oldKey, newKey} {
		res := idx.AuthenticateAssertion("batch", sign(key, "batch"), v, []string{aud}, now)
		want := "key " + idx.byID["batch"].keys[i].KeyID()
		if !res.OK || res.Declared.Credential != want {
			t.Errorf("key %d: %+v, want OK naming %q", i, res, want)
		}
	}
}
