package token_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/tollgate-dev/tollgate/engine/token"
)

func TestLoadDirPicksTheNewestKeyAndPublishesAll(t *testing.T) {
	dir := t.TempDir()
	older, _ := token.GenerateKey("ES256")
	_ = older.Set("iat", now.Add(-time.Hour).Unix())
	newer, _ := token.GenerateKey("ES256")
	_ = newer.Set("iat", now.Add(-time.Minute).Unix())
	eddsa, _ := token.GenerateKey("EdDSA")
	_ = eddsa.Set("iat", now.Add(-time.Minute).Unix())
	for _, k := range []jwk.Key{older, newer, eddsa} {
		if _, err := token.WriteKeyFile(dir, k); err != nil {
			t.Fatal(err)
		}
	}
	ks, err := token.LoadDir(dir, "ES256", now)
	if err != nil {
		t.Fatal(err)
	}
	if ks.SigningKeyID(now) != newer.KeyID() {
		t.Errorf("signing kid %s, want the newer %s", ks.SigningKeyID(now), newer.KeyID())
	}
	set, _ := jwk.Parse(ks.JWKS(now))
	if set.Len() != 3 {
		t.Errorf("JWKS has %d keys, want 3", set.Len())
	}
	oldOnly, err := token.LoadDir(dir, "EdDSA", now)
	if err != nil || oldOnly.SigningKeyID(now) != eddsa.KeyID() {
		t.Fatalf("EdDSA signing key: %v", err)
	}
	// A token signed by one key of the folder verifies with the set.
	raw, _ := oldOnly.Mint(claims())
	if _, err := ks.Verify(raw, now); err != nil {
		t.Errorf("a token of another key in the folder does not verify: %v", err)
	}
	if _, err := token.LoadDir(dir, "PS256", now); err == nil || !strings.Contains(err.Error(), "keys rotate --alg PS256") {
		t.Errorf("missing alg: %v", err)
	}
}

func TestLoadDirErrors(t *testing.T) {
	empty := t.TempDir()
	if _, err := token.LoadDir(empty, "", now); err == nil || !strings.Contains(err.Error(), "keys rotate --keys") {
		t.Errorf("empty dir: %v", err)
	}
	broken := t.TempDir()
	_ = os.WriteFile(filepath.Join(broken, "bad.json"), []byte("{not json"), 0o600)
	if _, err := token.LoadDir(broken, "", now); err == nil || !strings.Contains(err.Error(), "bad.json") {
		t.Errorf("broken file: %v", err)
	}
	public := t.TempDir()
	key, _ := token.GenerateKey("ES256")
	pub, _ := key.PublicKey()
	body, _ := json.Marshal(pub)
	_ = os.WriteFile(filepath.Join(public, "pub.json"), body, 0o600)
	if _, err := token.LoadDir(public, "", now); err == nil || !strings.Contains(err.Error(), "public key") {
		t.Errorf("public key: %v", err)
	}
}

func TestWriteKeyFileIsPrivateAndNeverOverwrites(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	key, _ := token.GenerateKey("ES256")
	path, err := token.WriteKeyFile(dir, key)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := os.Stat(path)
	if info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", info.Mode().Perm())
	}
	if _, err := token.WriteKeyFile(dir, key); err == nil {
		t.Error("overwrote an existing key file")
	}
}
