package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/tollgate-dev/tollgate/engine/authz"
	"github.com/tollgate-dev/tollgate/engine/model"
	"github.com/tollgate-dev/tollgate/engine/oauth"
)

const formType = "application/x-www-form-urlencoded"

// bodyBufPool recycles the buffers that request bodies are read into.
var bodyBufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// params are a request body's parameters. Values are kept as sent; an
// empty value counts as absent (RFC 6749 §3.1).
type params map[string][]string

// repeatable parameters may appear more than once: RFC 8707 §2 resource,
// and audience as RFC 8693 §2.1 allows.
var repeatable = map[string]bool{"resource": true, "audience": true}

// single returns a parameter that must appear at most once (RFC 6749 §3.2).
func (p params) single(name string) (string, error) {
	values := p[name]
	switch len(values) {
	case 0:
		return "", nil
	case 1:
		return values[0], nil
	}
	return "", oauth.New(oauth.InvalidRequest, "parameter %s is repeated", name)
}

func (p params) check() error {
	for name, values := range p {
		if len(values) > 1 && !repeatable[name] {
			return oauth.New(oauth.InvalidRequest, "parameter %s is repeated", name)
		}
	}
	return nil
}

// decodeBody reads a form (RFC 6749 §4.4.2) or JSON (as Auth0 accepts)
// body of at most MaxBodyBytes.
func decodeBody(w http.ResponseWriter, r *http.Request) (params, error) {
	buf := bodyBufPool.Get().(*bytes.Buffer)
	defer bodyBufPool.Put(buf)
	buf.Reset()
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, MaxBodyBytes)); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, &oauth.Error{Code: oauth.InvalidRequest, Description: "request body is larger than 64 KiB", Status: http.StatusRequestEntityTooLarge}
		}
		return nil, oauth.New(oauth.InvalidRequest, "could not read the request body")
	}
	body := buf.Bytes() // only read below: every value is copied out of it
	mediaType := r.Header.Get("Content-Type")
	if mediaType != formType {
		// Parameters such as charset change nothing for either type.
		mediaType, _, _ = mime.ParseMediaType(mediaType)
	}
	if mediaType != "application/json" && looksLikeJSON(body) {
		// Without this, a JSON body read as a form is one parameter named
		// after the whole document, and the caller hears that grant_type
		// is missing.
		return nil, oauth.New(oauth.InvalidRequest, "the body looks like JSON; send Content-Type: application/json")
	}
	var p params
	switch mediaType {
	case formType:
		values, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, oauth.New(oauth.InvalidRequest, "the form body is malformed")
		}
		p = params(values)
	case "application/json":
		var err error
		if p, err = decodeJSON(body); err != nil {
			return nil, err
		}
	case "":
		if len(bytes.TrimSpace(body)) > 0 {
			return nil, oauth.New(oauth.InvalidRequest, "Content-Type must be application/x-www-form-urlencoded or application/json")
		}
		p = params{}
	default:
		return nil, oauth.New(oauth.InvalidRequest, "Content-Type %s is not supported: use application/x-www-form-urlencoded or application/json", mediaType)
	}
	for name, values := range p {
		kept := values[:0]
		for _, v := range values {
			if v != "" {
				kept = append(kept, v)
			}
		}
		if len(kept) == 0 {
			delete(p, name)
		} else {
			p[name] = kept
		}
	}
	return p, p.check()
}

// looksLikeJSON says whether body starts as a JSON object or array does;
// no form begins with a brace or a bracket.
func looksLikeJSON(body []byte) bool {
	for _, c := range body {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{', '[':
			return true
		}
		return false
	}
	return false
}

// Bounds of the values a token request names (SPEC §6: nothing a caller
// sends is kept or logged unbounded). They are far above what a real
// client sends and keep what one request can make the engine hold, match
// and echo small.
const (
	// MaxValueBytes bounds each audience and resource value and each
	// scope token.
	MaxValueBytes = 2048
	// MaxTargets bounds the audience and resource values of a request,
	// together.
	MaxTargets = 32
	// MaxScopeTokens bounds the tokens of the scope parameter.
	MaxScopeTokens = 64
)

// checkBounds refuses a token request whose audience, resource or scope
// values pass their bounds, before anything is looked up, kept or logged.
func checkBounds(req *authz.TokenRequest) error {
	if len(req.Audience)+len(req.Resource) > MaxTargets {
		return oauth.New(oauth.InvalidRequest, "at most %d audience and resource values are accepted", MaxTargets)
	}
	for _, list := range []struct {
		name   string
		values []string
	}{{"an audience", req.Audience}, {"a resource", req.Resource}} {
		for _, v := range list.values {
			if len(v) > MaxValueBytes {
				return oauth.New(oauth.InvalidRequest, "%s value is longer than %d bytes", list.name, MaxValueBytes)
			}
		}
	}
	tokens, start := 0, 0
	for i := 0; i <= len(req.Scope); i++ {
		if i < len(req.Scope) && req.Scope[i] != ' ' {
			continue
		}
		if i > start {
			tokens++
			if i-start > MaxValueBytes {
				return oauth.New(oauth.InvalidRequest, "a scope token is longer than %d bytes", MaxValueBytes)
			}
		}
		start = i + 1
	}
	if tokens > MaxScopeTokens {
		return oauth.New(oauth.InvalidRequest, "at most %d scope tokens are accepted", MaxScopeTokens)
	}
	return nil
}

// decodeJSON accepts an object of strings, or of arrays of strings for the
// repeatable parameters; anything else is invalid_request. A name given
// twice is refused, as in a form (RFC 6749 §3.2): decoding into a map
// would silently keep the last, so the object is read member by member.
func decodeJSON(body []byte) (params, error) {
	notObject := oauth.New(oauth.InvalidRequest, "the JSON body is not an object")
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, notObject
	}
	p := params{}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, notObject
		}
		name, _ := tok.(string) // an object's keys are strings
		if seen[name] {
			return nil, oauth.New(oauth.InvalidRequest, "parameter %s is repeated", name)
		}
		seen[name] = true
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, notObject
		}
		var s string
		if err := json.Unmarshal(value, &s); err == nil {
			p[name] = []string{s}
			continue
		}
		var list []string
		if repeatable[name] {
			if err := json.Unmarshal(value, &list); err == nil {
				p[name] = list
				continue
			}
		}
		if string(value) == "null" {
			continue
		}
		return nil, oauth.New(oauth.InvalidRequest, "parameter %s must be a string", name)
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, notObject
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, oauth.New(oauth.InvalidRequest, "the JSON body has data after its object")
	}
	return p, nil
}

// credentials finds how the caller authenticates: HTTP Basic (RFC 6749
// §2.3.1, id and secret form-encoded), client_id and client_secret in the
// body, a client_assertion (RFC 7523 §2.2), or a client_id alone over
// mutual TLS (RFC 8705 §2). Two methods at once, or a client_id that
// disagrees with the Basic one, is invalid_request.
func credentials(r *http.Request, p params) (authz.Credentials, error) {
	bodyID, err := p.single("client_id")
	if err != nil {
		return authz.Credentials{}, err
	}
	bodySecret, err := p.single("client_secret")
	if err != nil {
		return authz.Credentials{}, err
	}
	rawAssertion, err := p.single("client_assertion")
	if err != nil {
		return authz.Credentials{}, err
	}
	assertionType, err := p.single("client_assertion_type")
	if err != nil {
		return authz.Credentials{}, err
	}
	header := r.Header.Get("Authorization")
	if rawAssertion != "" || assertionType != "" {
		return assertionCredentials(bodyID, rawAssertion, assertionType, header != "" || bodySecret != "")
	}
	if header == "" {
		if bodySecret != "" {
			return authz.Credentials{ID: bodyID, Secret: bodySecret, Method: model.AuthClientSecretPost}, nil
		}
		// Only a client_id, over a connection whose client certificate
		// the handshake verified: tls_client_auth (RFC 8705 §2).
		if cert := verifiedCertificate(r); cert != nil && bodyID != "" {
			return authz.Credentials{ID: bodyID, Certificate: cert, Method: model.AuthTLSClientAuth}, nil
		}
		return authz.Credentials{ID: bodyID}, nil
	}
	id, secret, err := basicCredentials(r)
	if err != nil {
		return authz.Credentials{}, err
	}
	if bodySecret != "" {
		return authz.Credentials{}, oauth.New(oauth.InvalidRequest, "the client authenticated with more than one method")
	}
	if bodyID != "" && bodyID != id {
		return authz.Credentials{}, oauth.New(oauth.InvalidRequest, "client_id does not match the Authorization header")
	}
	return authz.Credentials{ID: id, Secret: secret, Method: model.AuthClientSecretBasic}, nil
}

// assertionCredentials are a private_key_jwt client's (see
// authz.AssertionCredentials), sent alone.
func assertionCredentials(bodyID, raw, typ string, otherMethod bool) (authz.Credentials, error) {
	if otherMethod {
		return authz.Credentials{}, oauth.New(oauth.InvalidRequest, "the client authenticated with more than one method")
	}
	return authz.AssertionCredentials(bodyID, typ, raw)
}

// basicCredentials reads client_secret_basic credentials: HTTP Basic
// (RFC 7617), whose id and secret are form-encoded first (RFC 6749
// §2.3.1), so "+" is a space.
func basicCredentials(r *http.Request) (id, secret string, err error) {
	scheme, rest, found := strings.Cut(r.Header.Get("Authorization"), " ")
	if !found || !strings.EqualFold(scheme, "Basic") {
		return "", "", oauth.New(oauth.InvalidClient, "only the Basic authentication scheme is accepted here")
	}
	rawID, rawSecret, ok := r.BasicAuth()
	if !ok && strings.HasPrefix(rest, " ") {
		// RFC 7235 §2.1 allows more than one space after the scheme;
		// net/http reads exactly one.
		trimmed := &http.Request{Header: http.Header{"Authorization": {"Basic " + strings.TrimLeft(rest, " ")}}}
		rawID, rawSecret, ok = trimmed.BasicAuth()
	}
	if !ok {
		return "", "", oauth.New(oauth.InvalidClient, "malformed Basic credentials")
	}
	if id, err = url.QueryUnescape(rawID); err != nil {
		return "", "", oauth.New(oauth.InvalidClient, "malformed Basic credentials")
	}
	if secret, err = url.QueryUnescape(rawSecret); err != nil {
		return "", "", oauth.New(oauth.InvalidClient, "malformed Basic credentials")
	}
	return id, secret, nil
}
