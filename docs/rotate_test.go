package docs

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// giftDeliveries is the client whose secret docs/howto/rotate.md rotates,
// with its demo secret (config/world-mappers.hcl).
var giftDeliveries = client{id: "gift-deliveries", secret: "demo-gift-deliveries-secret-not-for-production",
	inBody: true, audience: "https://api.worldmappers.example"}

// TestHowtoRotateASecretRunsAsWritten runs the secret rotation of
// docs/howto/rotate.md in a copy of the repository, against make run
// there: the new secret's commands, the page's two secret blocks put in
// place of the client's one, the fingerprint command, then the old block
// removed. It checks that both secrets get tokens during the overlap, that
// each token's audit line names the fingerprint the page's command
// prints, and that once the old block is gone its secret is refused while
// the tokens it got stay active.
func TestHowtoRotateASecretRunsAsWritten(t *testing.T) {
	requireTools(t, "sh", "make", "go", "git", "sha256sum")
	// Its own copy of the repository, its own port: it runs beside the others.
	t.Parallel()
	page := markdownSection(t, readDoc(t, "docs/howto/rotate.md"), "A client secret")
	blocks, edits := shellBlocks(t, page), fencedBlocks(t, page, "hcl")
	if len(blocks) != 2 || len(edits) != 1 {
		t.Fatalf("the secret rotation has %d sh blocks and %d hcl blocks, want 2 (new secret, fingerprint) and 1 (both secrets)", len(blocks), len(edits))
	}
	clone := builtCopyOfRepository(t)
	srv := serveBlock(t, clone, "make run\n")
	before := mustToken(t, giftDeliveries, srv.url)

	// 1. The new secret.
	if out, err := runShellIn(clone, blocks[0]); err != nil {
		t.Fatalf("block 1: %v\n%s", err, out)
	}
	next := giftDeliveries
	next.secret = lineValue(t, filepath.Join(clone, "gift-deliveries.next"), "secret: ")
	hashLine := "hash = " + lineValue(t, filepath.Join(clone, "gift-deliveries.next"), "hash = ")

	// 2. Both secrets, with the old one's not_after: the page's block, its
	// placeholders filled, in place of the client's block.
	hclPath := filepath.Join(clone, "config", "world-mappers.hcl")
	oldHash := regexp.MustCompile(`'(sha256:[0-9a-f]{64})'`).FindStringSubmatch(blocks[1])
	if oldHash == nil {
		t.Fatalf("the fingerprint command names no hash line: %q", blocks[1])
	}
	withBoth := replaceClientBlock(t, readFile(t, hclPath), edits[0], oldHash[1], hashLine)
	writeFile(t, hclPath, withBoth)
	if out, err := runShellIn(clone, "./bin/tollgate check"); err != nil {
		t.Fatalf("check of the two secrets: %v\n%s", err, out)
	}
	var withNew string
	if err := eventually(10*time.Second, func() (err error) {
		withNew, err = next.token(context.Background(), nil, srv.url)
		return err
	}); err != nil {
		t.Fatalf("the new secret after the reload: %v", err)
	}
	notAfter := regexp.MustCompile(`not_after = "([^"]+)"`).FindStringSubmatch(edits[0])
	if notAfter == nil {
		t.Fatalf("the old secret has no not_after: %q", edits[0])
	}
	until, err := time.Parse(time.RFC3339, notAfter[1])
	if err != nil {
		t.Fatal(err)
	}
	withOld, err := giftDeliveries.token(context.Background(), nil, srv.url)
	if time.Now().Before(until) && err != nil {
		t.Errorf("the old secret before its not_after %s: %v, want a token", notAfter[1], err)
	}
	if !time.Now().Before(until) && oauthError(err) != "invalid_client" {
		t.Errorf("the old secret after its not_after %s: %v, want invalid_client", notAfter[1], err)
	}

	// 3. The audit line names the credential by the fingerprint the
	// page's command prints, of the old hash line and of the new.
	fingerprint := func(hash string) string {
		out, err := runShellIn(clone, strings.ReplaceAll(blocks[1], oldHash[1], hash))
		if err != nil {
			t.Fatalf("fingerprint: %v\n%s", err, out)
		}
		return "secret " + strings.TrimSpace(out)
	}
	newHash := strings.Trim(strings.TrimPrefix(hashLine, "hash = "), `"`)
	if got, want := auditLine(t, srv, withNew)["credential"], fingerprint(newHash); got != want {
		t.Errorf("the new secret's audit line says credential %v, the page's command %q", got, want)
	}
	if withOld != "" {
		if got, want := auditLine(t, srv, withOld)["credential"], fingerprint(oldHash[1]); got != want {
			t.Errorf("the old secret's audit line says credential %v, the page's command %q", got, want)
		}
	}

	// 4. The old block deleted: its secret is refused, and its tokens
	// stay valid until they expire.
	oldBlock := regexp.MustCompile(`(?m)^[ \t]*# the old secret.*\n[ \t]*secret \{\n[^}]*\}\n`)
	if !oldBlock.MatchString(withBoth) {
		t.Fatalf("no old secret block to delete in:\n%s", withBoth)
	}
	writeFile(t, hclPath, oldBlock.ReplaceAllString(withBoth, ""))
	if err := eventually(10*time.Second, func() error {
		if _, err := giftDeliveries.token(context.Background(), nil, srv.url); oauthError(err) != "invalid_client" {
			return fmt.Errorf("the old secret got %v, want invalid_client", err)
		}
		return nil
	}); err != nil {
		t.Fatalf("after the old block's deletion: %v", err)
	}
	if _, err := next.token(context.Background(), nil, srv.url); err != nil {
		t.Errorf("the new secret after the old one's deletion: %v", err)
	}
	if !introspectsActive(t, srv.url, before) {
		t.Errorf("a token of the deleted secret introspects inactive, want active until it expires")
	}
}

// replaceClientBlock is hcl with the client block of giftDeliveries
// replaced by edit, the page's block: its new hash placeholder becomes
// hashLine and its "..." the rest of the client's body.
func replaceClientBlock(t *testing.T, hcl, edit, oldHash, hashLine string) string {
	t.Helper()
	start := strings.Index(hcl, `client "`+giftDeliveries.id+`" {`)
	end := strings.Index(hcl[max(start, 0):], "\n}\n")
	if start < 0 || end < 0 {
		t.Fatalf("no client block %q in:\n%s", giftDeliveries.id, hcl)
	}
	block := hcl[start : start+end+3]
	var rest []string
	for _, line := range strings.Split(block, "\n")[1:] {
		if line == "}" {
			break
		}
		if !strings.Contains(line, oldHash) {
			rest = append(rest, line)
		}
	}
	if len(rest) == len(strings.Split(block, "\n"))-3 {
		t.Fatalf("the page's old hash %s is not the client's:\n%s", oldHash, block)
	}
	edited := strings.Replace(edit, `secret { hash = "sha256:..." }`, "secret { "+hashLine+" }", 1)
	edited = regexp.MustCompile(`(?m)^[ \t]*\.\.\.$`).ReplaceAllLiteralString(edited, strings.Join(rest, "\n"))
	if edited == edit || strings.Contains(edited, "...") {
		t.Fatalf("the page's block has no placeholders to fill as expected:\n%s", edit)
	}
	return hcl[:start] + edited + hcl[start+len(block):]
}

// introspectsActive reports whether world-mappers, the audience of
// giftDeliveries's tokens, finds token active.
func introspectsActive(t *testing.T, issuer, token string) bool {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, issuer+"/oauth2/introspect", strings.NewReader(url.Values{"token": {token}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("world-mappers", "demo-world-mappers-secret-not-for-production")
	var answer struct {
		Active bool `json:"active"`
	}
	getJSON(t, req, &answer)
	return answer.Active
}

// publishAhead is how long the rotation's new key is published before it
// signs in TestHowtoRotateTheSigningKeyRunsAsWritten: the page's default,
// an hour, would make the test wait that long, so the test sets it as the
// environment may set any flag (TOLLGATE_PUBLISH_AHEAD), the one change to
// the page's commands besides the address.
const publishAhead = 8 * time.Second

// TestHowtoRotateTheSigningKeyRunsAsWritten runs the signing key rotation
// of docs/howto/rotate.md in a copy of the repository: the first key and
// the server using it, then the rotation while it runs, then the JWKS. It
// checks that the JWKS then lists both keys while the old one still signs,
// that the log line names both, that the new key signs once its time
// comes, and that the old key's tokens still verify through the JWKS.
func TestHowtoRotateTheSigningKeyRunsAsWritten(t *testing.T) {
	requireTools(t, "sh", "make", "go", "git", "curl")
	// Its own copy of the repository, its own port: it runs beside the others.
	t.Parallel()
	page := markdownSection(t, readDoc(t, "docs/howto/rotate.md"), "The server's signing key")
	blocks := shellBlocks(t, page)
	if len(blocks) != 3 {
		t.Fatalf("the key rotation has %d sh blocks, want 3 (first key and serve, rotate, JWKS)", len(blocks))
	}
	clone := builtCopyOfRepository(t)
	srv := serveBlock(t, clone, blocks[0])
	client1 := client{id: "client1", secret: "demo-client1-secret-not-for-production"}
	first := mustToken(t, client1, srv.url)
	oldKid := jwtPart(t, first, 0)["kid"]

	out, err := runShellIn(clone, blocks[1], fmt.Sprintf("TOLLGATE_PUBLISH_AHEAD=%s", publishAhead))
	if err != nil {
		t.Fatalf("keys rotate: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`wrote \S+ key (\S+) to \S+; it signs from (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("keys rotate printed no new key and its time:\n%s", out)
	}
	newKid := m[1]
	signsFrom, err := time.Parse(time.RFC3339, m[2])
	if err != nil {
		t.Fatal(err)
	}
	if newKid == oldKid {
		t.Fatalf("keys rotate wrote the key that signs, %s", newKid)
	}

	// The server re-reads the folder: the JWKS lists both kids.
	jwksBlock := strings.ReplaceAll(blocks[2], defaultURL, srv.url)
	if err := eventually(10*time.Second, func() error {
		jwks, err := runShellIn(clone, jwksBlock)
		if err != nil || !strings.Contains(jwks, fmt.Sprint(oldKid)) || !strings.Contains(jwks, newKid) {
			return fmt.Errorf("the JWKS (%v): %s", err, jwks)
		}
		return nil
	}); err != nil {
		t.Fatalf("want both kids %v and %s: %v", oldKid, newKid, err)
	}
	if !strings.Contains(srv.log(), fmt.Sprintf("signing=%v", oldKid)) || !strings.Contains(srv.log(), "signing_then="+newKid) {
		t.Errorf("no log line names %v as signing and %s as signing next:\n%s", oldKid, newKid, srv.log())
	}
	// Published before it signs: until its time the old key still signs.
	if tok := mustToken(t, client1, srv.url); time.Now().Before(signsFrom.Add(-time.Second)) {
		if kid := jwtPart(t, tok, 0)["kid"]; kid != oldKid {
			t.Errorf("a token before the new key's time is signed by %v, want the old key %v", kid, oldKid)
		}
	}

	// Its time come, the new key signs, with no restart.
	var second string
	if err := eventually(time.Until(signsFrom)+10*time.Second, func() error {
		second = mustToken(t, client1, srv.url)
		if kid := jwtPart(t, second, 0)["kid"]; kid != newKid {
			return fmt.Errorf("signed by %v", kid)
		}
		return nil
	}); err != nil {
		t.Fatalf("after %s, want tokens signed by the new key %s: %v", m[2], newKid, err)
	}
	set, err := jwk.Fetch(context.Background(), srv.url+"/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{"the old key's": first, "the new key's": second} {
		if _, err := jwt.ParseString(tok, jwt.WithKeySet(set), jwt.WithIssuer(srv.url), jwt.WithValidate(true)); err != nil {
			t.Errorf("%s token does not verify through the JWKS: %v", name, err)
		}
	}
}
