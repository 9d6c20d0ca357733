package decide

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/tollgate-dev/tollgate/engine/model"
	"github.com/tollgate-dev/tollgate/engine/oauth"
	"github.com/tollgate-dev/tollgate/engine/policy"
	"github.com/tollgate-dev/tollgate/engine/text"
)

// EvalRequest is a token request's facts, after client authentication:
// what `tollgate eval` and the token endpoint both decide on.
type EvalRequest struct {
	ClientID string
	// Audience holds the audience and resource parameter values.
	Audience []string
	// Scope holds the scope tokens; tokens naming a server count as audience.
	Scope      []string
	AuthMethod string
	Time       time.Time
}

// Evaluation is a policy decision together with what tollgate makes of it.
type Evaluation struct {
	Decision *policy.Decision `json:"decision"`
	// TTL is the granted lifetime after the servers' and settings' caps.
	TTL time.Duration `json:"-"`
	// Actor is the client id when the subject is someone else (RFC 8693 act).
	Actor  string `json:"actor,omitempty"`
	Cached bool   `json:"cached"`
	// audienceLabels are the decision's audiences as metric label values
	// (see audienceLabel), worked out once with the decision.
	audienceLabels []string
}

// AudienceLabels are the decision's audiences as metric label values:
// a declared server's audience or id, the client's own id, or
// AudienceLabelOther, so that the values are bounded by the declarations.
func (e *Evaluation) AudienceLabels() []string { return e.audienceLabels }

// AudienceLabelOther is the metric label value of every granted audience
// that names no declared server and is not the client itself: a policy of
// one's own may grant any value, and each would be a new series.
const AudienceLabelOther = "other"

// resolved is a request whose names have been looked up in the snapshot.
type resolved struct {
	client     *model.Client
	account    *model.Account
	audience   []string
	scope      []string
	servers    []*model.Server
	authMethod string
	time       string
}

func (s *Decider) resolve(req *EvalRequest, client *model.Client) *resolved {
	r := &resolved{client: client, authMethod: req.AuthMethod, time: req.Time.UTC().Format(time.RFC3339)}
	seenServer := map[string]bool{}
	addAudience := func(value string) {
		if slices.Contains(r.audience, value) {
			return
		}
		r.audience = append(r.audience, value)
		if srv, ok := s.Store.ServerNamed(value); ok && !seenServer[srv.ID] {
			seenServer[srv.ID] = true
			r.servers = append(r.servers, srv)
		}
	}
	for _, a := range req.Audience {
		addAudience(a)
	}
	for _, sc := range req.Scope {
		// A scope token that names a server asks for that audience (the
		// Ubisecure style: scope=Server2).
		if _, ok := s.Store.ServerNamed(sc); ok {
			addAudience(sc)
			continue
		}
		if !slices.Contains(r.scope, sc) {
			r.scope = append(r.scope, sc)
		}
	}
	// Scope order carries no meaning (RFC 6749 §3.3); sorting makes the
	// input, and so the decision cache key, canonical.
	slices.Sort(r.scope)
	if r.audience == nil {
		r.audience = []string{}
	}
	if r.scope == nil {
		r.scope = []string{}
	}
	if client.Impersonate != "" {
		if acct, ok := s.Store.Account(client.Impersonate); ok {
			r.account = acct
		}
	}
	return r
}

// Evaluate runs the decision for a request without authenticating anyone:
// `tollgate eval` and tests use it; the token endpoint calls Decide after
// client authentication. The returned Evaluation may be shared with other
// requests: callers must not modify it.
func (s *Decider) Evaluate(ctx context.Context, req *EvalRequest) (*Evaluation, error) {
	client, ok := s.Store.Client(req.ClientID)
	if !ok {
		return nil, oauth.New(oauth.InvalidClient, "unknown client %q", req.ClientID)
	}
	if req.AuthMethod == "" {
		req.AuthMethod = client.AuthMethod
	}
	return s.Decide(ctx, req, client)
}

// Decide answers req for client, an authenticated client of this
// configuration, from the decision cache when it can. Like Evaluate's,
// the Evaluation may be shared: callers must not modify it.
// The cache is looked up twice: first by the request exactly as it came
// (a service repeating its request skips even the name lookups), then by
// its canonical form (resolved names, sorted scopes), which is what the
// policy sees. A decision about an audience that names no server is not
// kept (see namesOnlyServers).
func (s *Decider) Decide(ctx context.Context, req *EvalRequest, client *model.Client) (*Evaluation, error) {
	var asSent string
	if s.decisions != nil {
		asSent = requestKey(client.ID, req)
		if eval, ok := s.decisions.Get(asSent); ok {
			return eval, nil
		}
	}
	r := s.resolve(req, client)
	var canonical string
	if s.decisions != nil {
		canonical = resolvedKey(r)
		if eval, ok := s.decisions.Get(canonical); ok {
			s.decisions.Put(asSent, eval)
			return eval, nil
		}
	}
	eval, err := s.evaluate(ctx, r)
	if err != nil {
		return nil, err
	}
	if s.decisions != nil && s.namesOnlyServers(r) {
		cached := *eval
		cached.Cached = true
		s.decisions.Put(canonical, &cached)
		s.decisions.Put(asSent, &cached)
	}
	return eval, nil
}

// evaluate runs the policy for r, with no cache.
func (s *Decider) evaluate(ctx context.Context, r *resolved) (*Evaluation, error) {
	d, err := s.Policy.Decide(ctx, s.inputs.input(r))
	if err != nil {
		return nil, oauth.Internal(err)
	}
	eval, err := s.evaluation(d, r)
	if err != nil {
		return nil, oauth.Internal(err)
	}
	return eval, nil
}

// evaluation adds what tollgate makes of a decision: the actor, the capped
// lifetime and the metric labels. They depend only on the decision and
// the snapshot, so they are cached with it.
//
// It also holds SPEC §4's rule whatever the policy says: every scope of a
// token is defined by every server its aud names (by audience or id),
// since each of them reads scope as its own once it finds itself in aud
// (RFC 9068 §4). A decision that breaks it is refused (server_error, fail
// closed): it is a bug in the policy, for the operator to see, not the
// caller.
func (s *Decider) evaluation(d *policy.Decision, r *resolved) (*Evaluation, error) {
	eval := &Evaluation{Decision: d}
	if !d.Allow {
		return eval, nil
	}
	eval.audienceLabels = make([]string, len(d.Audience))
	for i, aud := range d.Audience {
		srv, ok := s.Store.ServerNamed(aud)
		if !ok {
			eval.audienceLabels[i] = audienceLabel(aud, r.client)
			continue
		}
		eval.audienceLabels[i] = aud
		for _, sc := range d.Scope {
			if !slices.Contains(srv.Scopes, sc) {
				return nil, fmt.Errorf("policy: decision refused: it grants scope %.64q with audience %.64q, but server %s does not define that scope "+
					"(every scope of a token must be defined by every server of its aud)", sc, aud, srv.ID)
			}
		}
	}
	subject := d.Subject
	if subject == "" {
		subject = r.client.ID
	}
	if subject != r.client.ID {
		eval.Actor = r.client.ID
	}
	eval.TTL = s.ttl(d, r.client)
	return eval, nil
}

// audienceLabel is the metric label value of an audience that names no
// server: the client's own id (a token for itself) as it is, anything else
// AudienceLabelOther. With the servers' audiences and ids, the series are
// bounded by the declarations, whatever a policy grants.
func audienceLabel(aud string, client *model.Client) string {
	if aud == client.ID {
		return aud
	}
	return AudienceLabelOther
}

// ttl is the policy's ttl, else the client's, else the default; capped by
// every granted server's token_ttl and by max_token_ttl.
func (s *Decider) ttl(d *policy.Decision, client *model.Client) time.Duration {
	// A policy's ttl is at most policy.MaxTTL seconds, which fits a
	// Duration; clamping again keeps a Decision made elsewhere from
	// overflowing into a negative lifetime, which would mean the default.
	ttl := time.Duration(min(max(d.TTL, 0), policy.MaxTTL)) * time.Second
	if ttl <= 0 {
		ttl = client.TokenTTL
	}
	if ttl <= 0 {
		ttl = s.Settings.DefaultTokenTTL
	}
	for _, aud := range d.Audience {
		if srv, ok := s.Store.ServerByAudience(aud); ok && srv.TokenTTL > 0 && srv.TokenTTL < ttl {
			ttl = srv.TokenTTL
		}
	}
	if s.Settings.MaxTokenTTL > 0 && ttl > s.Settings.MaxTokenTTL {
		ttl = s.Settings.MaxTokenTTL
	}
	return ttl
}

// maxReasonBytes bounds a reason that tollgate writes itself into the
// audit line and the log: a policy error may quote what the caller sent.
const maxReasonBytes = 512

// PolicyFailure says why a decision failed (the policy's error, with its
// position when OPA knows it), bounded, for the operator.
func PolicyFailure(err error) string {
	if cause := oauth.As(err).Cause; cause != nil {
		return text.Truncate(cause.Error(), maxReasonBytes)
	}
	return text.Truncate(err.Error(), maxReasonBytes)
}
