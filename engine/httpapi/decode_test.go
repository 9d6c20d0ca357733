package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/engine/oauth"
)

func tokenRequest(contentType, body, authorization string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	if authorization != "" {
		r.Header.Set("Authorization", authorization)
	}
	return r
}

const (
	jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	// assertionOfC1 is an unsigned JWT whose iss and sub are Client1: the
	// decoder reads who it claims to be; verifying it is the engine's job.
	assertionOfC1 = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJDbGllbnQxIiwic3ViIjoiQ2xpZW50MSJ9.c2ln"
	form          = formType
	// basicC1 is "Client1:s%3Acret" (RFC 6749 §2.3.1 form-encoding).
	basicC1 = "Basic Q2xpZW50MTpzJTNBY3JldA=="
)

func TestDecodeTokenRequest(t *testing.T) {
	tests := []struct {
		name              string
		contentType, body string
		authorization     string
		wantErr           string // OAuth error code
		wantID, wantSec   string
		wantAssertion     string
		wantAudience      []string
		wantScope         string
	}{
		{name: "form with basic", contentType: form, body: "grant_type=client_credentials&scope=a+b", authorization: basicC1,
			wantID: "Client1", wantSec: "s:cret", wantScope: "a b"},
		{name: "basic with more than one space", contentType: form, body: "grant_type=client_credentials", authorization: strings.Replace(basicC1, " ", "   ", 1),
			wantID: "Client1", wantSec: "s:cret"},
		{name: "basic scheme in other case", contentType: form, body: "grant_type=client_credentials", authorization: strings.Replace(basicC1, "Basic", "bAsIc", 1),
			wantID: "Client1", wantSec: "s:cret"},
		{name: "form with secret in body", contentType: form, body: "grant_type=client_credentials&client_id=x&client_secret=y&audience=A&audience=B",
			wantID: "x", wantSec: "y", wantAudience: []string{"A", "B"}},
		{name: "json like auth0", contentType: "application/json", body: `{"grant_type":"client_credentials","client_id":"x","client_secret":"y","audience":"https://api"}`,
			wantID: "x", wantSec: "y", wantAudience: []string{"https://api"}},
		{name: "json with charset", contentType: "application/json; charset=utf-8", body: `{"grant_type":"client_credentials","audience":["a","b"]}`, authorization: basicC1,
			wantID: "Client1", wantSec: "s:cret", wantAudience: []string{"a", "b"}},
		{name: "repeated grant_type", contentType: form, body: "grant_type=client_credentials&grant_type=client_credentials", authorization: basicC1, wantErr: oauth.InvalidRequest},
		{name: "repeated scope", contentType: form, body: "grant_type=client_credentials&scope=a&scope=b", authorization: basicC1, wantErr: oauth.InvalidRequest},
		{name: "two auth methods", contentType: form, body: "grant_type=client_credentials&client_secret=y", authorization: basicC1, wantErr: oauth.InvalidRequest},
		{name: "client_id disagrees with basic", contentType: form, body: "grant_type=client_credentials&client_id=other", authorization: basicC1, wantErr: oauth.InvalidRequest},
		{name: "unsupported content type", contentType: "text/plain", body: "grant_type=client_credentials", wantErr: oauth.InvalidRequest},
		{name: "json not an object", contentType: "application/json", body: `["grant_type"]`, wantErr: oauth.InvalidRequest},
		{name: "json number parameter", contentType: "application/json", body: `{"grant_type":1}`, wantErr: oauth.InvalidRequest},
		{name: "json repeated secret", contentType: "application/json", body: `{"grant_type":"client_credentials","client_id":"x","client_secret":"y","client_secret":"z"}`, wantErr: oauth.InvalidRequest},
		{name: "json repeated null", contentType: "application/json", body: `{"grant_type":"client_credentials","scope":null,"scope":"admin"}`, authorization: basicC1, wantErr: oauth.InvalidRequest},
		{name: "json data after the object", contentType: "application/json", body: `{"grant_type":"client_credentials"} {"scope":"admin"}`, authorization: basicC1, wantErr: oauth.InvalidRequest},
		{name: "json unterminated", contentType: "application/json", body: `{"grant_type":"client_credentials"`, authorization: basicC1, wantErr: oauth.InvalidRequest},
		{name: "json null parameter", contentType: "application/json", body: `{"grant_type":"client_credentials","scope":null}`, authorization: basicC1,
			wantID: "Client1", wantSec: "s:cret"},
		{name: "malformed form", contentType: form, body: "grant_type=%zz", wantErr: oauth.InvalidRequest},
		{name: "body over 64 KiB", contentType: form, body: "grant_type=client_credentials&scope=" + strings.Repeat("a", MaxBodyBytes), wantErr: oauth.InvalidRequest},
		{name: "not basic", contentType: form, body: "grant_type=client_credentials", authorization: "Bearer x", wantErr: oauth.InvalidClient},
		{name: "basic not base64", contentType: form, body: "grant_type=client_credentials", authorization: "Basic !!!", wantErr: oauth.InvalidClient},
		{name: "assertion, id from its iss", contentType: form, body: "grant_type=client_credentials&client_assertion_type=" + jwtBearer + "&client_assertion=" + assertionOfC1,
			wantID: "Client1", wantAssertion: assertionOfC1},
		{name: "assertion with client_id", contentType: form, body: "grant_type=client_credentials&client_id=c2&client_assertion_type=" + jwtBearer + "&client_assertion=" + assertionOfC1,
			wantID: "c2", wantAssertion: assertionOfC1},
		{name: "assertion in JSON", contentType: "application/json", body: `{"grant_type":"client_credentials","client_assertion_type":"` + jwtBearer + `","client_assertion":"` + assertionOfC1 + `"}`,
			wantID: "Client1", wantAssertion: assertionOfC1},
		{name: "assertion without its type", contentType: form, body: "grant_type=client_credentials&client_assertion=" + assertionOfC1, wantErr: oauth.InvalidRequest},
		{name: "assertion of another type", contentType: form, body: "grant_type=client_credentials&client_assertion_type=urn:x&client_assertion=" + assertionOfC1, wantErr: oauth.InvalidRequest},
		{name: "assertion type alone", contentType: form, body: "grant_type=client_credentials&client_assertion_type=" + jwtBearer, wantErr: oauth.InvalidRequest},
		{name: "assertion and basic", contentType: form, body: "grant_type=client_credentials&client_assertion_type=" + jwtBearer + "&client_assertion=" + assertionOfC1,
			authorization: basicC1, wantErr: oauth.InvalidRequest},
		{name: "assertion and secret", contentType: form, body: "grant_type=client_credentials&client_secret=y&client_assertion_type=" + jwtBearer + "&client_assertion=" + assertionOfC1,
			wantErr: oauth.InvalidRequest},
		{name: "json sent as a form", contentType: form, body: `{"grant_type":"client_credentials"}`, authorization: basicC1, wantErr: oauth.InvalidRequest},
		{name: "json sent without a type", body: "\n[]", authorization: basicC1, wantErr: oauth.InvalidRequest},
		{name: "audience at its bound", contentType: form, body: "grant_type=client_credentials&audience=" + strings.Repeat("a", MaxValueBytes), authorization: basicC1,
			wantID: "Client1", wantSec: "s:cret", wantAudience: []string{strings.Repeat("a", MaxValueBytes)}},
		{name: "audience past its bound", contentType: form, body: "grant_type=client_credentials&audience=" + strings.Repeat("a", MaxValueBytes+1), authorization: basicC1, wantErr: oauth.InvalidRequest},
		{name: "resource past its bound", contentType: form, body: "grant_type=client_credentials&resource=https://x/" + strings.Repeat("a", MaxValueBytes), authorization: basicC1, wantErr: oauth.InvalidRequest},
		{name: "too many targets", contentType: form, body: "grant_type=client_credentials" + strings.Repeat("&audience=a&resource=https://r", MaxTargets/2+1), authorization: basicC1, wantErr: oauth.InvalidRequest},
		{name: "scope token past its bound", contentType: form, body: "grant_type=client_credentials&scope=a+" + strings.Repeat("s", MaxValueBytes+1), authorization: basicC1, wantErr: oauth.InvalidRequest},
		{name: "too many scope tokens", contentType: form, body: "grant_type=client_credentials&scope=" + strings.Repeat("s+", MaxScopeTokens+1), authorization: basicC1, wantErr: oauth.InvalidRequest},
		{name: "scope tokens at their bound", contentType: form, body: "grant_type=client_credentials&scope=" + strings.Repeat("s++", MaxScopeTokens), authorization: basicC1,
			wantID: "Client1", wantSec: "s:cret", wantScope: strings.Repeat("s  ", MaxScopeTokens)},
		{name: "assertion repeated", contentType: form, body: "grant_type=client_credentials&client_assertion_type=" + jwtBearer + "&client_assertion=a&client_assertion=b",
			wantErr: oauth.InvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := decodeTokenRequest(httptest.NewRecorder(), tokenRequest(tt.contentType, tt.body, tt.authorization))
			if tt.wantErr != "" {
				if err == nil || oauth.As(err).Code != tt.wantErr {
					t.Fatalf("err = %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c := req.Credentials; c.ID != tt.wantID || c.Secret != tt.wantSec || c.Assertion != tt.wantAssertion {
				t.Errorf("credentials = %q/%q/%q, want %q/%q/%q", c.ID, c.Secret, c.Assertion, tt.wantID, tt.wantSec, tt.wantAssertion)
			}
			if strings.Join(req.Audience, ",") != strings.Join(tt.wantAudience, ",") || req.Scope != tt.wantScope {
				t.Errorf("audience %v scope %q, want %v %q", req.Audience, req.Scope, tt.wantAudience, tt.wantScope)
			}
		})
	}
}

// FuzzDecodeTokenRequest: no body or header makes the decoder panic, and
// every failure is an OAuth error a client can be told.
func FuzzDecodeTokenRequest(f *testing.F) {
	f.Add(form, "grant_type=client_credentials&scope=a", basicC1)
	f.Add("application/json", `{"grant_type":"client_credentials","audience":["a"]}`, "")
	f.Add("application/json", `{"a":{"b":[1,null]}}`, "Basic Og==")
	f.Fuzz(func(t *testing.T, contentType, body, authorization string) {
		r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body))
		r.Header["Content-Type"] = []string{contentType}
		r.Header["Authorization"] = []string{authorization}
		if _, err := decodeTokenRequest(httptest.NewRecorder(), r); err != nil {
			if oe := oauth.As(err); oe.Code != oauth.InvalidRequest && oe.Code != oauth.InvalidClient {
				t.Fatalf("error code %q for %q", oe.Code, body)
			}
		}
	})
}

// BenchmarkDecodeTokenRequest is the "parse request" stage of a token
// request: body, content type, parameters and HTTP Basic credentials.
func BenchmarkDecodeTokenRequest(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		r := tokenRequest(form, "grant_type=client_credentials&scope=Server2", basicC1)
		if _, err := decodeTokenRequest(nil, r); err != nil {
			b.Fatal(err)
		}
	}
}
