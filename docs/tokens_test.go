package docs

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// client is an OAuth client of the example configuration, as a service
// would configure its OAuth library.
type client struct {
	id, secret string
	// inBody sends the secret in the body (client_secret_post) rather
	// than in the Authorization header.
	inBody   bool
	audience string
}

// token asks the server at issuer for a token with the client credentials
// grant and returns the access token.
func (c client) token(ctx context.Context, httpClient *http.Client, issuer string) (string, error) {
	cfg := clientcredentials.Config{ClientID: c.id, ClientSecret: c.secret, TokenURL: issuer + "/oauth2/token",
		AuthStyle: oauth2.AuthStyleInHeader}
	if c.inBody {
		cfg.AuthStyle = oauth2.AuthStyleInParams
	}
	if c.audience != "" {
		cfg.EndpointParams = url.Values{"audience": {c.audience}}
	}
	if httpClient != nil {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, httpClient)
	}
	tok, err := cfg.Token(ctx)
	if err != nil {
		return "", err
	}
	return tok.AccessToken, nil
}

// mustToken is c's token from issuer, or the test's end.
func mustToken(t *testing.T, c client, issuer string) string {
	t.Helper()
	tok, err := c.token(context.Background(), nil, issuer)
	if err != nil {
		t.Fatalf("%s's token: %v", c.id, err)
	}
	return tok
}

// oauthError is the RFC 6749 error code of a failed token request, or ""
// if err is not one.
func oauthError(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

// eventually calls try until it returns nil, for at most d: the server
// reloads a moment after a file changes, and a user who runs the next
// command too soon runs it again. It returns try's last error.
func eventually(d time.Duration, try func() error) error {
	var err error
	for deadline := time.Now().Add(d); ; time.Sleep(200 * time.Millisecond) {
		if err = try(); err == nil || time.Now().After(deadline) {
			return err
		}
	}
}

// jwtPart decodes the JSON of part i of the JWT token (0 the header, 1 the
// claims) without verifying it, to tell which key signed it or to find
// its jti.
func jwtPart(t *testing.T, token string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("%d parts in a token, want 3", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatalf("token part %d: %v", i, err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("token part %d: %v", i, err)
	}
	return m
}

// auditLine is the audit line, among srv's log lines, of the token request
// that issued token: the line with its jti. The server writes it once the
// answer is on its way, so it may come a moment after the token.
func auditLine(t *testing.T, srv *served, token string) map[string]any {
	t.Helper()
	jti := jwtPart(t, token, 1)["jti"]
	var found map[string]any
	err := eventually(5*time.Second, func() error {
		for _, line := range strings.Split(srv.log(), "\n") {
			var ev map[string]any
			if json.Unmarshal([]byte(line), &ev) == nil && ev["event"] == "token" && ev["jti"] == jti {
				found = ev
				return nil
			}
		}
		return fmt.Errorf("no audit line with jti %v", jti)
	})
	if err != nil {
		t.Fatalf("%v in the server's log:\n%s", err, srv.log())
	}
	return found
}

// lineValue is the rest of the line of the file at path that starts with
// prefix.
func lineValue(t *testing.T, path, prefix string) string {
	t.Helper()
	for _, line := range strings.Split(readFile(t, path), "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			return v
		}
	}
	t.Fatalf("%s has no line %q...", path, prefix)
	return ""
}

// readFile is the text of the file at path.
func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// writeFile writes text to the file at path, as an editor would.
func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// getJSON sends req and decodes its 200 answer into v.
func getJSON(t *testing.T, req *http.Request, v any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s", req.Method, req.URL, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
}
