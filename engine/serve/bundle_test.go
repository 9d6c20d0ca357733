package serve_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/tollgate-dev/tollgate/engine/bundle"
	"github.com/tollgate-dev/tollgate/engine/repotest"
	"github.com/tollgate-dev/tollgate/engine/serve"
)

// buildBundle packs configDir and the repository's policies into out, as
// `tollgate bundle build` does, and returns the revision.
func buildBundle(t *testing.T, configDir, out string) string {
	t.Helper()
	src, err := bundle.ReadDirs(configDir, repotest.Path(t, "policies"), "")
	if err != nil {
		t.Fatal(err)
	}
	revision, err := bundle.WriteFile(out, src)
	if err != nil {
		t.Fatal(err)
	}
	return revision
}

// TestServeFromABundle: a server started on a bundle built from config/
// and policies/ issues the same tokens, fetched by a real client library
// and verified through JWKS.
func TestServeFromABundle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tollgate.tar.gz")
	revision := buildBundle(t, repotest.Path(t, "config"), path)
	srv := start(t, serve.Config{Bundle: path})
	if !strings.Contains(srv.stderr.String(), revision) {
		t.Errorf("the start log should name the bundle's revision %s:\n%s", revision, srv.stderr.String())
	}
	cc := clientcredentials.Config{
		ClientID: "gift-deliveries", ClientSecret: giftSecret, AuthStyle: oauth2.AuthStyleInParams,
		TokenURL: srv.url + "/oauth2/token", Scopes: []string{"read:directions"},
		EndpointParams: url.Values{"audience": {worldAudience}},
	}
	tok, err := cc.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	jwtTok := srv.verify(t, tok.AccessToken, worldAudience)
	if scope, _ := jwtTok.PrivateClaims()["scope"].(string); jwtTok.Subject() != "gift-deliveries" || scope != "read:directions" {
		t.Errorf("sub %q, scope %q", jwtTok.Subject(), scope)
	}
}

func TestServeRefusesABadBundle(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.tar.gz")
	if err := os.WriteFile(garbage, []byte("not a bundle"), 0o644); err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(dir, "broken.tar.gz")
	brokenConfig := copyConfig(t)
	writeFile(t, filepath.Join(brokenConfig, "broken.hcl"), `client "x" { secret { hash = "plain-text" } }`)
	src, err := bundle.ReadDirs(brokenConfig, repotest.Path(t, "policies"), "")
	if err != nil {
		t.Fatal(err)
	}
	// Write does not check declarations (bundle build does): a bundle
	// built some other way may carry broken HCL, and serve must say where.
	if _, err := bundle.WriteFile(broken, src); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  serve.Config
		want string
	}{
		{name: "missing", cfg: serve.Config{Bundle: filepath.Join(dir, "missing.tar.gz")}, want: "no such file"},
		{name: "not a bundle", cfg: serve.Config{Bundle: garbage}, want: "not a .tar.gz file"},
		{name: "broken declarations", cfg: serve.Config{Bundle: broken}, want: "config/broken.hcl:1:"},
		{name: "a bundle and folders", cfg: serve.Config{Bundle: broken, ConfigDir: brokenConfig}, want: "not both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Addr = "127.0.0.1:0"
			_, err := serve.New(context.Background(), tt.cfg, &syncBuffer{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

// TestReloadFromAReplacedBundle: deploying a new bundle by renaming it over
// the old one reloads; a bundle that does not read or does not validate
// keeps the last good one serving.
func TestReloadFromAReplacedBundle(t *testing.T) {
	deploy := t.TempDir()
	path := filepath.Join(deploy, "tollgate.tar.gz")
	original := filepath.Join(t.TempDir(), "original.tar.gz")
	buildBundle(t, repotest.Path(t, "config"), original)
	body, err := os.ReadFile(original)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(body))
	base, logs, _ := runServe(t, serve.Config{Bundle: path, Watch: true, MetricsAddr: "127.0.0.1:0"})
	if got := tokenStatus(t, base, "added-client", extraClientSecret); got != 401 {
		t.Fatalf("before the new bundle: %d", got)
	}

	// A new bundle, renamed over the served one, as a deploy does.
	config := copyConfig(t)
	writeFile(t, filepath.Join(config, "added.hcl"), extraClient("added-client"))
	revision := buildBundle(t, config, path)
	eventually(t, "the watcher loads the new bundle", func() bool { return tokenStatus(t, base, "added-client", extraClientSecret) == 200 })
	eventually(t, "the reload names the new revision", func() bool { return strings.Contains(logs.String(), "revision="+revision) })

	// A file that is not a bundle, then a bundle with a broken
	// declaration: each is logged and counted, the last good one serves.
	writeFile(t, path, "half a bundle")
	eventually(t, "the unreadable bundle is logged", func() bool { return strings.Contains(logs.String(), "not a .tar.gz file") })
	writeFile(t, filepath.Join(config, "broken.hcl"), `client "x" { secret { hash = "plain-text" } }`)
	src, err := bundle.ReadDirs(config, repotest.Path(t, "policies"), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bundle.WriteFile(path, src); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the broken declaration is logged", func() bool { return strings.Contains(logs.String(), "config/broken.hcl:1:") })
	if got := tokenStatus(t, base, "added-client", extraClientSecret); got != 200 {
		t.Errorf("after two bad bundles, added-client gets %d", got)
	}
	resp, err := http.Get(base + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/readyz after a bad bundle: %v %v", resp, err)
	}
	resp.Body.Close()
	if metrics := get(t, metricsURL(t, logs)); !regexp.MustCompile(`tollgate_config_reloads_total\{result="failure"\} [2-9]`).MatchString(metrics) {
		t.Errorf("the failed reloads are not counted:\n%s", grepLines(metrics, "reloads"))
	}

	// Rolling back is deploying the previous bundle again.
	writeFile(t, path, string(body))
	eventually(t, "the original bundle serves again", func() bool { return tokenStatus(t, base, "added-client", extraClientSecret) == 401 })
}

// TestSIGHUPReloadsABundle: with the watcher off, SIGHUP alone re-reads
// the bundle file.
func TestSIGHUPReloadsABundle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tollgate.tar.gz")
	buildBundle(t, repotest.Path(t, "config"), path)
	base, _, _ := runServe(t, serve.Config{Bundle: path, Watch: false})
	config := copyConfig(t)
	writeFile(t, filepath.Join(config, "added.hcl"), extraClient("added-client"))
	buildBundle(t, config, path)
	if got := tokenStatus(t, base, "added-client", extraClientSecret); got != 401 {
		t.Fatalf("without the watcher, the new bundle is loaded already: %d", got)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "SIGHUP loads the new bundle", func() bool { return tokenStatus(t, base, "added-client", extraClientSecret) == 200 })
}
