package serve_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/tollgate-dev/tollgate/engine/repotest"
	"github.com/tollgate-dev/tollgate/engine/serve"
	"github.com/tollgate-dev/tollgate/engine/token"
)

// shortLivedConfig is the example configuration with tokens that live
// ttl, so a test can outlive a token.
func shortLivedConfig(t *testing.T, ttl string) string {
	t.Helper()
	dir := copyConfig(t)
	// world-mappers caps its tokens at 30m, above the new max_token_ttl.
	if err := os.Remove(filepath.Join(dir, "world-mappers.hcl")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "settings.hcl"),
		"settings {\n  default_token_ttl = \""+ttl+"\"\n  max_token_ttl = \""+ttl+"\"\n  signing_alg = \"ES256\"\n}\n")
	return dir
}

func kidOf(t *testing.T, raw string) string {
	t.Helper()
	msg, err := jws.Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	return msg.Signatures()[0].ProtectedHeaders().KeyID()
}

func introspectActive(t *testing.T, base, raw string) bool {
	t.Helper()
	srv := &running{url: base}
	got := decode[map[string]any](t, srv.post(t, "/oauth2/introspect", url.Values{"token": {raw}}, "client1", client1Secret))
	return got["active"] == true
}

// TestKeyRotationWithACachingResourceServer: a resource server that
// caches the JWKS as max-age allows (jwx's jwk.Cache, refreshing no more
// often than it says) verifies every token, one every 50 ms, through a
// `keys rotate` of the server's folder, with no restart: the new key is
// published before it signs. The old key's tokens introspect active until
// they expire, and the old key leaves the JWKS once it has retired.
func TestKeyRotationWithACachingResourceServer(t *testing.T) {
	const (
		ttl          = 4 * time.Second
		maxAge       = time.Second
		publishAhead = 5 * time.Second // > max-age + the cache's 1 s refresh window + the reload
		retireAfter  = ttl + time.Second
	)
	keys := t.TempDir()
	first, err := token.Rotate(keys, token.RotateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	base, logs, _ := runServe(t, serve.Config{ConfigDir: shortLivedConfig(t, ttl.String()), KeysDir: keys, JWKSMaxAge: maxAge, Watch: true})
	jwksURL := base + "/.well-known/jwks.json"

	resp, err := http.Get(jwksURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Cache-Control"); got != "public, max-age=1" {
		t.Errorf("JWKS Cache-Control %q, want public, max-age=1", got)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cache := jwk.NewCache(ctx, jwk.WithRefreshWindow(time.Second))
	if err := cache.Register(jwksURL, jwk.WithMinRefreshInterval(maxAge)); err != nil {
		t.Fatal(err)
	}
	if _, err := cache.Refresh(ctx, jwksURL); err != nil {
		t.Fatal(err)
	}
	client := clientcredentials.Config{ClientID: "client1", ClientSecret: client1Secret, TokenURL: base + "/oauth2/token"}

	var rotation *token.Rotation
	var kids []string  // the signer of each token, in order
	var lastOld string // the old key's last token
	var newSince time.Time
	deadline := time.Now().Add(30 * time.Second)
	for start := time.Now(); newSince.IsZero() || time.Since(newSince) < time.Second; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the new key never signed; signers so far %v\n%s", slices.Compact(kids), logs.String())
		}
		if rotation == nil && time.Since(start) > 500*time.Millisecond {
			if rotation, err = token.Rotate(keys, token.RotateOptions{PublishAhead: publishAhead, RetireAfter: retireAfter}); err != nil {
				t.Fatal(err)
			}
		}
		tok, err := client.Token(ctx)
		if err != nil {
			t.Fatalf("token: %v", err)
		}
		set, err := cache.Get(ctx, jwksURL)
		if err != nil {
			t.Fatal(err)
		}
		kid := kidOf(t, tok.AccessToken)
		if _, err := jwt.Parse([]byte(tok.AccessToken), jwt.WithKeySet(set), jwt.WithIssuer(base), jwt.WithValidate(true)); err != nil {
			t.Fatalf("the caching resource server rejects a token of key %s (signers so far %v): %v", kid, slices.Compact(kids), err)
		}
		kids = append(kids, kid)
		switch {
		case kid == first.KeyID:
			lastOld = tok.AccessToken
		case rotation != nil && kid == rotation.KeyID && newSince.IsZero():
			newSince = time.Now()
			if newSince.Before(rotation.SignsFrom) {
				t.Errorf("the new key signed at %v, before its time %v", newSince, rotation.SignsFrom)
			}
		}
	}
	if got := slices.Compact(slices.Clone(kids)); !slices.Equal(got, []string{first.KeyID, rotation.KeyID}) {
		t.Fatalf("signers in order %v, want the old key then the new one", got)
	}
	if !strings.Contains(logs.String(), "signing keys loaded") {
		t.Errorf("the key reload is not logged:\n%s", logs.String())
	}

	// The old key's last token is still good until it expires, while the
	// new key signs.
	if !introspectActive(t, base, lastOld) {
		t.Error("the old key's last token is inactive before its exp")
	}
	retired := rotation.Retiring[0].RetireAt
	eventually(t, "the old key retires", func() bool { return time.Now().After(retired) })
	if got := jwksKids(t, get(t, jwksURL)); !slices.Equal(got, []string{rotation.KeyID}) {
		t.Errorf("JWKS after the old key retired: %v, want only the new key", got)
	}
	if introspectActive(t, base, lastOld) {
		t.Error("a token of a retired key is active")
	}
}

// TestKeysReloadKeepsTheLastGoodSet: a broken key file, or a folder in
// which no key can sign, leaves the server signing with its last good
// keys, logged and counted.
func TestKeysReloadKeepsTheLastGoodSet(t *testing.T) {
	keys := t.TempDir()
	first, err := token.Rotate(keys, token.RotateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	base, logs, _ := runServe(t, serve.Config{ConfigDir: copyConfig(t), KeysDir: keys, Watch: true, MetricsAddr: "127.0.0.1:0"})
	signer := func() string { return signerOf(t, base) }

	broken := filepath.Join(keys, "broken.json")
	writeFile(t, broken, "{not json")
	eventually(t, "the broken key file is logged", func() bool { return strings.Contains(logs.String(), "keys reload failed") })
	if !strings.Contains(logs.String(), "broken.json") {
		t.Errorf("the log does not name the broken file:\n%s", logs.String())
	}
	if got := signer(); got != first.KeyID {
		t.Errorf("after a broken key file the signer is %s, want the last good %s", got, first.KeyID)
	}
	if metrics := get(t, metricsURL(t, logs)); !regexp.MustCompile(`tollgate_config_reloads_total\{result="failure"\} [1-9]`).MatchString(metrics) {
		t.Errorf("the failed key reload is not counted:\n%s", grepLines(metrics, "reloads"))
	}

	// Every key retired: the folder cannot sign, so the running keys stay.
	if err := os.Remove(broken); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(first.Path); err != nil {
		t.Fatal(err)
	}
	retiredKey, _ := token.GenerateKey("ES256")
	_ = retiredKey.Set("exp", time.Now().Add(-time.Hour).Unix())
	if _, err := token.WriteKeyFile(keys, retiredKey); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the unusable folder is refused", func() bool { return strings.Contains(logs.String(), "is retired") })
	if got := signer(); got != first.KeyID {
		t.Errorf("after every key retired the signer is %s, want the last good %s", got, first.KeyID)
	}
}

// TestSIGHUPReloadsKeys: without the watcher, SIGHUP re-reads the keys
// folder.
func TestSIGHUPReloadsKeys(t *testing.T) {
	keys := t.TempDir()
	first, err := token.Rotate(keys, token.RotateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	base, _, _ := runServe(t, serve.Config{ConfigDir: copyConfig(t), KeysDir: keys, Watch: false})
	next, err := token.Rotate(keys, token.RotateOptions{RetireAfter: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(next.SignsFrom))
	if got := signerOf(t, base); got != first.KeyID {
		t.Fatalf("before SIGHUP the signer is %s, want %s", got, first.KeyID)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "SIGHUP makes the new key sign", func() bool { return signerOf(t, base) == next.KeyID })
}

func signerOf(t *testing.T, base string) string {
	t.Helper()
	tr := decode[tokenResponse](t, (&running{url: base}).post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "client1", client1Secret))
	return kidOf(t, tr.AccessToken)
}

// TestServeRefusesKeysThatCannotSign: a server does not start without a
// key that may sign.
func TestServeRefusesKeysThatCannotSign(t *testing.T) {
	keys := t.TempDir()
	retired, _ := token.GenerateKey("ES256")
	_ = retired.Set("exp", time.Now().Add(-time.Minute).Unix())
	if _, err := token.WriteKeyFile(keys, retired); err != nil {
		t.Fatal(err)
	}
	_, err := serve.New(context.Background(), serve.Config{ConfigDir: copyConfig(t), PoliciesDir: repotest.Path(t, "policies"), KeysDir: keys}, &syncBuffer{})
	if err == nil || !strings.Contains(err.Error(), "every ES256 key is retired") || !strings.Contains(err.Error(), "tollgate keys rotate --keys "+keys) {
		t.Fatalf("serve.New with only a retired key: %v", err)
	}
}

func jwksKids(t *testing.T, body string) []string {
	t.Helper()
	set, err := jwk.Parse([]byte(body))
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
