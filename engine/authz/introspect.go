package authz

import (
	"context"
	"crypto/subtle"
	"crypto/x509"
	"slices"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/engine/clientauth"
	"github.com/tollgate-dev/tollgate/engine/oauth"
	"github.com/tollgate-dev/tollgate/engine/token"
)

// Introspection is an RFC 7662 §2.2 response. An inactive token carries
// nothing but Active=false.
type Introspection struct {
	Active    bool     `json:"active"`
	Scope     string   `json:"scope,omitempty"`
	ClientID  string   `json:"client_id,omitempty"`
	Subject   string   `json:"sub,omitempty"`
	Audience  Audience `json:"aud,omitempty"`
	Issuer    string   `json:"iss,omitempty"`
	ExpiresAt int64    `json:"exp,omitempty"`
	IssuedAt  int64    `json:"iat,omitempty"`
	JTI       string   `json:"jti,omitempty"`
	TokenType string   `json:"token_type,omitempty"`
	// Act is the actor when the token was issued to an impersonating client.
	Act map[string]string `json:"act,omitempty"`
	// Cnf binds the token to a client certificate (RFC 8705 §3.2).
	Cnf map[string]string `json:"cnf,omitempty"`
}

// Audience marshals as a string when single, as in the token (RFC 7519 §4.1.3).
type Audience []string

// MarshalJSON writes one audience as a string, several as an array.
func (a Audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return jsonString(a[0]), nil
	}
	return jsonStrings(a), nil
}

// TokenOpRequest is an introspection or revocation request.
type TokenOpRequest struct {
	Credentials   Credentials
	Token         string
	TokenTypeHint string
	RemoteAddr    string
}

// Introspect answers RFC 7662: the caller authenticates as a server (its
// secret) or a client; the token is active only if it is valid, unrevoked,
// issued by this issuer, and the caller is in its audience or is the client
// it was issued to. Anything else is just {"active": false}.
func (s *Service) Introspect(ctx context.Context, req *TokenOpRequest) (*Introspection, error) {
	start := time.Now()
	snap := s.current.Load()
	entry := &AuditEvent{Event: "introspect", Client: snap.auditID(req.Credentials.ID), RemoteAddr: req.RemoteAddr}
	defer func() {
		entry.Time, entry.Duration = start, time.Since(start)
		s.audit.Log(*entry)
	}()
	if req.Token == "" {
		entry.Outcome, entry.Error = "error", oauth.InvalidRequest
		return nil, oauth.New(oauth.InvalidRequest, "token is required")
	}
	principal, err := s.authenticate(ctx, snap, req.Credentials, req.RemoteAddr, true)
	if err != nil {
		entry.Outcome, entry.Error, entry.Reasons = "error", oauth.As(err).Code, authFailureReasons(err)
		return nil, err
	}
	entry.Credential = principal.Credential
	if err := s.consumeAssertion(ctx, principal); err != nil {
		entry.Client, entry.Outcome, entry.Error, entry.Reasons = principal.ID(), "error", oauth.As(err).Code, causeReasons(err)
		return nil, err
	}
	claims, reason, err := s.activeClaims(ctx, snap, req.Token)
	if err != nil {
		entry.Outcome, entry.Error, entry.Reasons = "error", oauth.As(err).Code, causeReasons(err)
		return nil, err
	}
	if claims != nil && !callerMayIntrospect(principal, claims) {
		claims, reason = nil, "caller "+principal.ID()+" is neither in the token's audience nor its client"
	}
	if claims == nil {
		entry.Outcome, entry.Reasons = "inactive", []string{reason}
		return &Introspection{Active: false}, nil
	}
	entry.Outcome, entry.Subject, entry.Audience, entry.JTI = "active", claims.Subject, claims.Audience, claims.ID
	out := &Introspection{
		Active:    true,
		Scope:     claims.Scope,
		ClientID:  claims.ClientID,
		Subject:   claims.Subject,
		Audience:  claims.Audience,
		Issuer:    claims.Issuer,
		ExpiresAt: claims.ExpiresAt.Unix(),
		IssuedAt:  claims.IssuedAt.Unix(),
		JTI:       claims.ID,
		TokenType: "Bearer",
	}
	if claims.Actor != "" {
		out.Act = map[string]string{"sub": claims.Actor}
	}
	if claims.CertThumbprint != "" {
		out.Cnf = map[string]string{"x5t#S256": claims.CertThumbprint}
	}
	return out, nil
}

// activeClaims returns the claims of a token that is signed by our keys,
// unexpired, issued by this issuer, still held by a declared client (see
// goneHolder) and not revoked; else a reason why not. An error means the
// revocations could not be looked up.
func (s *Service) activeClaims(ctx context.Context, snap *Snapshot, raw string) (*token.Claims, string, error) {
	claims, err := s.keys.Load().Verify(raw, s.now())
	if err != nil {
		return nil, "token is not valid: " + err.Error(), nil
	}
	if claims.Issuer != s.Issuer(snap) {
		return nil, "token was issued by another issuer", nil
	}
	if reason := goneHolder(snap, claims); reason != "" {
		return nil, reason, nil
	}
	revoked, err := s.revocations.Revoked(ctx, revocationOf(claims))
	if err != nil {
		return nil, "", errStateUnavailable("revocations could not be looked up", err)
	}
	if revoked {
		return nil, "token was revoked", nil
	}
	return claims, "", nil
}

// goneHolder says why a token no longer has anyone to stand for under
// snap, or "" when it does. A token dies with its client (SPEC §6): the
// client it was issued to, and the account it impersonates (act), must
// still be declared and enabled. One of its audiences must still name a
// server or a client: a token all of whose audiences were removed is for
// nothing tollgate knows. A rotated secret or key, or changed access,
// leave tokens alone: they expire by their exp.
func goneHolder(snap *Snapshot, claims *token.Claims) string {
	client, ok := snap.Store.Client(claims.ClientID)
	switch {
	case !ok:
		return "the token's client " + claims.ClientID + " is no longer declared"
	case client.Disabled:
		return "the token's client " + claims.ClientID + " is disabled"
	}
	if claims.Actor != "" {
		acct, ok := snap.Store.Account(claims.Subject)
		switch {
		case !ok:
			return "the account " + claims.Subject + " the token impersonates is no longer declared"
		case acct.Disabled:
			return "the account " + claims.Subject + " the token impersonates is disabled"
		}
	}
	if len(claims.Audience) == 0 {
		return ""
	}
	for _, aud := range claims.Audience {
		if _, ok := snap.Store.ServerByAudience(aud); ok {
			return ""
		}
		if _, ok := snap.Store.Client(aud); ok {
			return ""
		}
	}
	return "none of the token's audiences is declared any more"
}

func callerMayIntrospect(caller clientauth.Principal, claims *token.Claims) bool {
	if caller.Client != nil && caller.Client.ID == claims.ClientID {
		return true
	}
	if caller.Server != nil {
		return slices.Contains(claims.Audience, caller.Server.Audience)
	}
	// A client may introspect a token whose audience is itself (the single
	// application case) as well as its own tokens.
	return caller.Client != nil && slices.Contains(claims.Audience, caller.Client.ID)
}

// Revoke answers RFC 7009: the token's own client may revoke it; an
// unknown, invalid or expired token is answered with success (§2.2).
func (s *Service) Revoke(ctx context.Context, req *TokenOpRequest) error {
	start := time.Now()
	snap := s.current.Load()
	entry := &AuditEvent{Event: "revoke", Client: snap.auditID(req.Credentials.ID), RemoteAddr: req.RemoteAddr}
	defer func() {
		entry.Time, entry.Duration = start, time.Since(start)
		s.audit.Log(*entry)
	}()
	if req.Token == "" {
		entry.Outcome, entry.Error = "error", oauth.InvalidRequest
		return oauth.New(oauth.InvalidRequest, "token is required")
	}
	if hint := req.TokenTypeHint; hint != "" && hint != "access_token" && hint != "refresh_token" {
		entry.Outcome, entry.Error = "error", "unsupported_token_type"
		return &oauth.Error{Code: "unsupported_token_type", Description: "only access tokens exist here"}
	}
	principal, err := s.authenticate(ctx, snap, req.Credentials, req.RemoteAddr, false)
	if err != nil {
		entry.Outcome, entry.Error, entry.Reasons = "error", oauth.As(err).Code, authFailureReasons(err)
		return err
	}
	entry.Credential = principal.Credential
	if err := s.consumeAssertion(ctx, principal); err != nil {
		entry.Client, entry.Outcome, entry.Error, entry.Reasons = principal.ID(), "error", oauth.As(err).Code, causeReasons(err)
		return err
	}
	claims, err := s.keys.Load().Verify(req.Token, s.now())
	if err != nil {
		// Unknown or already expired: nothing to do (RFC 7009 §2.2).
		entry.Outcome, entry.Reasons = "ignored", []string{"token is not a valid token of this server"}
		return nil
	}
	entry.Subject, entry.Audience, entry.JTI = claims.Subject, claims.Audience, claims.ID
	if claims.ClientID != principal.Client.ID {
		// RFC 7009 §2.1: the server verifies the token was issued to the
		// requesting client and refuses otherwise.
		entry.Outcome, entry.Error = "deny", oauth.UnauthorizedClient
		return oauth.New(oauth.UnauthorizedClient, "the token was not issued to this client")
	}
	if err := s.revocations.Revoke(ctx, revocationOf(claims)); err != nil {
		// In effect in this process, perhaps not after a restart: the
		// client is told to retry, which stores it again.
		err = errStateUnavailable("the revocation could not be stored", err)
		entry.Outcome, entry.Error, entry.Reasons = "error", oauth.As(err).Code, causeReasons(err)
		return err
	}
	entry.Outcome = "revoked"
	return nil
}

// UserInfo returns the claims of a bearer token's subject: sub, client_id,
// aud, and the impersonated account's attributes (which never override
// those three). A certificate-bound token is accepted only with cert, the
// client certificate of the request, being the one it is bound to (RFC
// 8705 §3).
func (s *Service) UserInfo(ctx context.Context, bearer string, cert *x509.Certificate, remoteAddr string) (map[string]any, error) {
	snap := s.current.Load()
	claims, reason, err := s.activeClaims(ctx, snap, bearer)
	if err != nil {
		return nil, err
	}
	if claims == nil {
		return nil, oauth.New(oauth.InvalidToken, "%s", strings.TrimPrefix(reason, "token is not valid: "))
	}
	if claims.CertThumbprint != "" && (cert == nil ||
		subtle.ConstantTimeCompare([]byte(token.CertThumbprint(cert)), []byte(claims.CertThumbprint)) != 1) {
		return nil, oauth.New(oauth.InvalidToken, "the token is bound to a client certificate this request did not present")
	}
	info := map[string]any{}
	if acct, ok := snap.Store.Account(claims.Subject); ok {
		for k, v := range acct.Attributes {
			info[k] = v
		}
	}
	info["sub"] = claims.Subject
	info["client_id"] = claims.ClientID
	if len(claims.Audience) == 1 {
		info["aud"] = claims.Audience[0]
	} else {
		info["aud"] = claims.Audience
	}
	if claims.Actor != "" {
		info["act"] = map[string]string{"sub": claims.Actor}
	}
	return info, nil
}
