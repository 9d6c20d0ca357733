package authz

import (
	"context"
	"net/url"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/engine/decide"
	"github.com/tollgate-dev/tollgate/engine/model"
	"github.com/tollgate-dev/tollgate/engine/oauth"
	"github.com/tollgate-dev/tollgate/engine/token"
)

// TokenRequest is a token endpoint request, decoded but not yet validated.
type TokenRequest struct {
	GrantType   string
	Credentials Credentials
	// Scope is the space-delimited scope parameter (RFC 6749 §3.3).
	Scope    string
	Audience []string
	// Resource holds RFC 8707 resource indicators: absolute URIs.
	Resource   []string
	RemoteAddr string
}

// Token is a successful token response (RFC 6749 §5.1).
type Token struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope,omitempty"`
	// Claims are the minted token's claims, for callers in-process.
	Claims *token.Claims `json:"-"`
}

// Issue runs the client credentials grant (RFC 6749 §4.4): validate,
// authenticate the client, apply its rate limit, decide, mint, audit.
func (s *Service) Issue(ctx context.Context, req *TokenRequest) (*Token, error) {
	start := time.Now()
	snap := s.current.Load()
	entry := &AuditEvent{Event: "token", Client: snap.auditID(req.Credentials.ID), RemoteAddr: req.RemoteAddr}
	tok, client, err := s.issue(ctx, snap, req, entry)
	entry.Time, entry.Duration = start, time.Since(start)
	if client != nil {
		entry.Client = client.ID
	}
	var code string
	if err != nil {
		code = oauth.As(err).Code
		entry.Error = code
		if entry.Outcome == "" {
			entry.Outcome = "error"
		}
		if entry.Reasons == nil {
			entry.Reasons = authFailureReasons(err)
		}
	}
	// Only an authenticated client's id becomes a metric label: ids
	// anyone can send would let them grow the series without bound.
	clientLabel := ""
	if client != nil {
		clientLabel = client.ID
	}
	s.observer.TokenRequested(clientLabel, code)
	s.audit.Log(*entry)
	return tok, err
}

// issue does the work of Issue; it also returns the client once it has
// authenticated.
func (s *Service) issue(ctx context.Context, snap *Snapshot, req *TokenRequest, entry *AuditEvent) (*Token, *model.Client, error) {
	switch req.GrantType {
	case "":
		return nil, nil, oauth.New(oauth.InvalidRequest, "grant_type is required")
	case oauth.GrantTypeClientCredentials:
	default:
		return nil, nil, oauth.New(oauth.UnsupportedGrantType, "only grant_type=client_credentials is supported")
	}
	scopes, err := parseScope(req.Scope)
	if err != nil {
		return nil, nil, err
	}
	if err := checkResources(req.Resource); err != nil {
		return nil, nil, err
	}
	principal, err := s.authenticate(ctx, snap, req.Credentials, req.RemoteAddr, false)
	if err != nil {
		return nil, nil, err
	}
	client := principal.Client
	entry.Credential = principal.Credential
	if err := s.assertionUnused(ctx, principal); err != nil {
		entry.Client, entry.Reasons = client.ID, causeReasons(err)
		return nil, nil, err
	}
	now := s.now()
	if err := s.rateLimited(ctx, client, now); err != nil {
		entry.Reasons = causeReasons(err)
		return nil, client, err
	}
	if err := s.consumeAssertion(ctx, principal); err != nil {
		entry.Client, entry.Reasons = client.ID, causeReasons(err)
		return nil, nil, err
	}

	evalReq := &decide.EvalRequest{
		ClientID:   client.ID,
		Audience:   append(append([]string(nil), req.Audience...), req.Resource...),
		Scope:      scopes,
		AuthMethod: req.Credentials.Method,
		Time:       now,
	}
	decideStart := time.Now()
	eval, err := snap.Decide(ctx, evalReq, client)
	s.observer.Decided(time.Since(decideStart), eval != nil && eval.Cached)
	if err != nil {
		// The policy failed (fail closed): the operator learns why, in the
		// log and the audit line; the caller only gets server_error.
		reason := decide.PolicyFailure(err)
		entry.Reasons = []string{reason}
		s.log.Error("policy failed; the request was denied with server_error", "client", client.ID, "error", reason)
		return nil, client, err
	}
	d := eval.Decision
	entry.Reasons = d.Reasons
	if !d.Allow {
		entry.Outcome = "deny"
		return nil, client, &oauth.Error{Code: d.Error, Description: d.ErrorDescription}
	}

	claims := &token.Claims{
		Issuer:    s.Issuer(snap),
		Subject:   client.ID,
		Audience:  d.Audience,
		IssuedAt:  now,
		ExpiresAt: now.Add(eval.TTL),
		ID:        newTokenID(),
		ClientID:  client.ID,
		Scope:     strings.Join(d.Scope, " "),
		Actor:     eval.Actor,
		Extra:     d.Claims,
	}
	if d.Subject != "" {
		claims.Subject = d.Subject
	}
	if cert := req.Credentials.Certificate; cert != nil && req.Credentials.Method == model.AuthTLSClientAuth {
		// Bound to the certificate the client authenticated with (RFC
		// 8705 §3): a resource server that checks cnf accepts the token
		// only over a connection that presents that certificate.
		claims.CertThumbprint = token.CertThumbprint(cert)
	}
	signStart := time.Now()
	jwt, err := s.keys.Load().Mint(claims)
	s.observer.Signed(time.Since(signStart))
	if err != nil {
		return nil, client, oauth.Internal(err)
	}
	entry.Outcome, entry.Subject, entry.Audience, entry.Scope, entry.JTI = "allow", claims.Subject, d.Audience, d.Scope, claims.ID
	s.observer.TokenIssued(client.ID, eval.AudienceLabels())
	return &Token{
		AccessToken: jwt,
		TokenType:   "Bearer",
		ExpiresIn:   int64(eval.TTL / time.Second),
		Scope:       claims.Scope,
		Claims:      claims,
	}, client, nil
}

// rateLimited spends one of client's tokens under its rate_limit. A client
// without one asks the state nothing: its token path makes no round trip
// to a shared store (SPEC §8). A limit that cannot be checked refuses the
// request: a shared limit skipped during an outage would not hold.
func (s *Service) rateLimited(ctx context.Context, client *model.Client, now time.Time) error {
	if client.RateLimit == nil {
		return nil
	}
	ok, retry, err := s.rateLimits.Allow(ctx, client.ID, *client.RateLimit, now)
	switch {
	case err != nil:
		return errStateUnavailable("the client's rate limit could not be checked", err)
	case !ok:
		e := oauth.New(oauth.SlowDown, "rate limit of client %q exceeded", client.ID)
		e.RetryAfter = retryAfterSeconds(retry)
		return e
	}
	return nil
}

// parseScope splits the scope parameter and checks its characters
// (RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )).
func parseScope(scope string) ([]string, error) {
	if scope == "" {
		return nil, nil
	}
	tokens := strings.Split(scope, " ")
	out := tokens[:0]
	for _, t := range tokens {
		if t == "" {
			continue // tolerate doubled spaces, as most servers do
		}
		for i := 0; i < len(t); i++ {
			c := t[i]
			if c < 0x21 || c == 0x22 || c == 0x5C || c > 0x7E {
				return nil, oauth.New(oauth.InvalidScope, "scope contains a character RFC 6749 §3.3 does not allow")
			}
		}
		out = append(out, t)
	}
	return out, nil
}

// checkResources applies RFC 8707 §2: a resource is an absolute URI with
// no fragment.
func checkResources(resources []string) error {
	for _, r := range resources {
		u, err := url.Parse(r)
		if err != nil || !u.IsAbs() || u.Fragment != "" || strings.Contains(r, "#") {
			return oauth.New(oauth.InvalidTarget, "resource %q is not an absolute URI without a fragment (RFC 8707 §2)", r)
		}
	}
	return nil
}
