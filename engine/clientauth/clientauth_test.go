package clientauth

import (
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/engine/cache"
	"github.com/tollgate-dev/tollgate/engine/model"
	"github.com/tollgate-dev/tollgate/engine/secret"
)

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// verificationBytes is what the KDF cache counts one verification at.
const verificationBytes = sha256.Size + cache.EntryOverhead

// cachedKeys are the keys the KDF cache holds.
func cachedKeys(c *Cache) []string {
	var keys []string
	c.verified.Range(func(k string, _ struct{}) bool {
		keys = append(keys, k)
		return true
	})
	return keys
}

func testIndex(t testing.TB) (*Index, *Cache) {
	t.Helper()
	argon, err := secret.Argon2idHash("a person's passphrase")
	if err != nil {
		t.Fatal(err)
	}
	clients := []*model.Client{
		{ID: "fast", Secrets: []model.Secret{{Hash: secret.SHA256Hash("fast-secret")}}},
		{ID: "rotating", Secrets: []model.Secret{
			{Hash: secret.SHA256Hash("old-secret"), NotAfter: now.Add(-time.Hour)},
			{Hash: secret.SHA256Hash("new-secret")},
		}},
		{ID: "person", Secrets: []model.Secret{{Hash: argon}}},
	}
	servers := []*model.Server{
		{ID: "api", Secrets: []model.Secret{{Hash: secret.SHA256Hash("api-secret")}}},
		{ID: "no-secret"},
	}
	cache := newCache(10 * verificationBytes)
	idx, err := NewIndex(clients, servers, cache)
	if err != nil {
		t.Fatal(err)
	}
	return idx, cache
}

func TestAuthenticate(t *testing.T) {
	idx, _ := testIndex(t)
	tests := []struct {
		name, id, secret string
		wantClient       string
		wantServer       string
	}{
		{name: "client with its secret", id: "fast", secret: "fast-secret", wantClient: "fast"},
		{name: "wrong secret", id: "fast", secret: "fast-secreT"},
		{name: "empty secret", id: "fast", secret: ""},
		{name: "unknown id", id: "nobody", secret: "fast-secret"},
		{name: "another client's secret", id: "rotating", secret: "fast-secret"},
		{name: "new secret during rotation", id: "rotating", secret: "new-secret", wantClient: "rotating"},
		{name: "secret past its not_after", id: "rotating", secret: "old-secret"},
		{name: "argon2id secret", id: "person", secret: "a person's passphrase", wantClient: "person"},
		{name: "wrong argon2id secret", id: "person", secret: "a person's passphrasE"},
		{name: "server with its secret", id: "api", secret: "api-secret", wantServer: "api"},
		{name: "server without a secret", id: "no-secret", secret: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := idx.Authenticate(tt.id, tt.secret, now, nil)
			who, ok := res.Declared, res.OK
			if want := tt.wantClient != "" || tt.wantServer != ""; ok != want {
				t.Fatalf("ok = %v, want %v", ok, want)
			}
			if !ok {
				if res.Reason == "" {
					t.Error("a failure gives no reason")
				}
				return
			}
			if !strings.HasPrefix(who.Credential, "secret ") {
				t.Errorf("credential %q, want the secret's fingerprint", who.Credential)
			}
			if (who.Client == nil) == (who.Server == nil) {
				t.Fatalf("principal %+v: want exactly one of client and server", who)
			}
			if who.Client != nil && who.Client.ID != tt.wantClient || who.Server != nil && who.Server.ID != tt.wantServer {
				t.Errorf("principal %+v, want client %q server %q", who, tt.wantClient, tt.wantServer)
			}
		})
	}
}

// TestKDFCacheKeepsOnlySuccesses: a right argon2id secret is remembered
// (by an HMAC, never the secret), a wrong one never is, so wrong guesses
// always pay the full derivation.
func TestKDFCacheKeepsOnlySuccesses(t *testing.T) {
	idx, cache := testIndex(t)
	h := idx.byID["person"].creds[0].hash
	right, wrong := cache.key(h, "a person's passphrase"), cache.key(h, "guess")
	for range 2 {
		idx.Authenticate("person", "guess", now, nil)
	}
	if cache.has(wrong) || len(cachedKeys(cache)) != 0 {
		t.Fatal("a wrong secret was cached")
	}
	idx.Authenticate("person", "a person's passphrase", now, nil)
	if !cache.has(right) {
		t.Fatal("a verified secret was not cached")
	}
	for _, k := range cachedKeys(cache) {
		if k == "a person's passphrase" {
			t.Fatal("the cache holds the secret")
		}
	}
}

func TestKDFCacheIsBounded(t *testing.T) {
	c := newCache(4 * verificationBytes)
	h, _ := secret.Parse(secret.SHA256Hash("x"))
	for i := range 10 {
		c.add(c.key(h, string(rune('a'+i))))
		if n := len(cachedKeys(c)); n > 4 || c.verified.Bytes() > 4*verificationBytes {
			t.Fatalf("%d entries in %d bytes, max 4 in %d", n, c.verified.Bytes(), 4*verificationBytes)
		}
	}
}

// BenchmarkAuthenticate is the "authenticate" stage: a generated secret
// (sha256, constant-time compare), a person's secret once its argon2id
// verification is cached, and an unknown id where every secret is
// generated (which checks a sha256 decoy; where some are person-chosen,
// an unknown id costs their key derivation, as a wrong secret does).
func BenchmarkAuthenticate(b *testing.B) {
	idx, _ := testIndex(b)
	generated, err := NewIndex([]*model.Client{{ID: "fast", Secrets: []model.Secret{{Hash: secret.SHA256Hash("fast-secret")}}}}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	admit := func() (func(bool), error) { return func(bool) {}, nil }
	for _, bc := range []struct {
		name       string
		idx        *Index
		id, secret string
	}{
		{"sha256", idx, "fast", "fast-secret"},
		{"argon2id-cached", idx, "person", "a person's passphrase"},
		{"unknown-id", generated, "nobody", "fast-secret"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			bc.idx.Authenticate(bc.id, bc.secret, now, admit)
			b.ReportAllocs()
			for b.Loop() {
				bc.idx.Authenticate(bc.id, bc.secret, now, admit)
			}
		})
	}
}
