package decide

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate-dev/tollgate/engine/model"
	"github.com/tollgate-dev/tollgate/engine/oauth"
	"github.com/tollgate-dev/tollgate/engine/policy"
)

// Probe is one token request a sweep decides: a client asking for no
// scope (so for everything it may get) for no audience, which is the
// token for the client itself, or for one server.
type Probe struct {
	Client *model.Client
	// Server is nil for the request with no audience.
	Server *model.Server
	// Via names the routes by which the client, and the account it acts
	// as, reach Server: "its own access", "group G", "account A through
	// group G". Empty for the request with no audience.
	Via []string
}

// ProbeResult is a probe and what the policy made of it: an evaluation,
// or the error it failed to decide with.
type ProbeResult struct {
	Probe
	Evaluation *Evaluation
	Err        error
}

// probes lists the requests a sweep makes for client: no audience, then
// every server it may reach, by id: through its own access blocks, its
// groups, and its account's groups when it impersonates one (the policy
// says whether both sides agree). A server no declaration names is left
// out: the default policies grant nothing there, and a policy of one's own
// can only take away.
func (s *Decider) probes(c *model.Client) []Probe {
	out := []Probe{{Client: c}}
	routes := reachOf(c.Access, s.Store.GroupsOf(c.ID))
	via := map[string][]string{}
	for id, r := range routes {
		via[id] = r.via
	}
	if c.Impersonate != "" {
		if acct, ok := s.Store.Account(c.Impersonate); ok {
			for id, r := range reachOf(nil, s.Store.GroupsOf(acct.ID)) {
				for _, v := range r.via {
					via[id] = append(via[id], "account "+acct.ID+" through "+v)
				}
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(via)) {
		if srv, ok := s.Store.ServerNamed(id); ok {
			out = append(out, Probe{Client: c, Server: srv, Via: via[id]})
		}
	}
	return out
}

// sweepChunk is how many clients a sweep worker takes at a time.
const sweepChunk = 64

// Sweep decides, for every declared client, the request with no audience
// and the request for each server it may reach, each with no scope, in
// parallel on workers goroutines (all cores when workers <= 0). It calls
// observe with every result, from those goroutines, so observe must be
// safe for concurrent use. It returns ctx's error when ctx ends first.
func (s *Decider) Sweep(ctx context.Context, workers int, observe func(*ProbeResult)) error {
	return s.sweep(ctx, s.Config.Clients, workers, nil, observe)
}

// sweep is Sweep over the given clients. With yield set it runs on one
// goroutine and calls yield between two chunks of clients with the time
// the first took, as a reload under load does between HCL files.
func (s *Decider) sweep(ctx context.Context, clients []*model.Client, workers int, yield func(took time.Duration), observe func(*ProbeResult)) error {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if yield != nil {
		workers = 1
	}
	workers = min(workers, (len(clients)+sweepChunk-1)/sweepChunk)
	// One instant for the whole sweep, so that a policy reading the time
	// decides every request of it alike.
	now := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var last time.Duration // what the previous chunk took
			for ctx.Err() == nil {
				first := int(next.Add(sweepChunk)) - sweepChunk
				if first >= len(clients) {
					return
				}
				if yield != nil && first > 0 {
					yield(last)
				}
				started := time.Now()
				for _, c := range clients[first:min(first+sweepChunk, len(clients))] {
					for _, p := range s.probes(c) {
						observe(s.probe(ctx, p, now))
					}
				}
				last = time.Since(started)
			}
		}()
	}
	wg.Wait()
	return ctx.Err()
}

func (s *Decider) probe(ctx context.Context, p Probe, now time.Time) *ProbeResult {
	req := &EvalRequest{ClientID: p.Client.ID, AuthMethod: p.Client.AuthMethod, Time: now}
	if p.Server != nil {
		req.Audience = []string{p.Server.Audience}
	}
	evaluation, err := s.evaluate(ctx, s.resolve(req, p.Client))
	// The policy's own error is what the operator needs, not the
	// server_error a caller would get.
	var oe *oauth.Error
	if errors.As(err, &oe) && oe.Cause != nil {
		err = oe.Cause
	}
	return &ProbeResult{Probe: p, Evaluation: evaluation, Err: err}
}

// VerifyError lists the requests of a sweep that the policy failed to
// decide, one per place and message.
type VerifyError struct {
	Problems []EvalProblem
}

func (e *VerifyError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// EvalProblem is a request of a sweep that the policy failed to decide:
// where in the policy it failed, for which client and server, and how many
// other requests failed at the same place in the same way.
type EvalProblem struct {
	policy.Problem
	Client string
	// Server is empty for the request with no audience.
	Server string
	// More counts the other requests that failed the same way.
	More int
}

// String prints the problem as FILE:LINE:COL: error: message, with the
// client and request it failed for.
func (p EvalProblem) String() string {
	target := "no audience"
	if p.Server != "" {
		target = "server " + p.Server
	}
	s := fmt.Sprintf("%s:%d:%d: error: %s (client %s, %s", p.File, p.Line, p.Col, p.Message, p.Client, target)
	if p.More > 0 {
		s += fmt.Sprintf("; and %d more requests", p.More)
	}
	return s + ")"
}

// problemSet gathers a sweep's failures, one EvalProblem per place and
// message, naming the first client in id order, so that a policy broken
// for every client is one line, the same on every run.
type problemSet struct {
	policy  *policy.Policy
	mu      sync.Mutex
	byPlace map[policy.Problem]*EvalProblem
}

func newProblemSet(pol *policy.Policy) *problemSet {
	return &problemSet{policy: pol, byPlace: map[policy.Problem]*EvalProblem{}}
}

func (ps *problemSet) add(r *ProbeResult) {
	if r.Err == nil {
		return
	}
	at := ps.policy.Locate(r.Err)
	server := ""
	if r.Server != nil {
		server = r.Server.ID
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	p := ps.byPlace[at]
	if p == nil {
		ps.byPlace[at] = &EvalProblem{Problem: at, Client: r.Client.ID, Server: server}
		return
	}
	p.More++
	if cmp.Or(cmp.Compare(r.Client.ID, p.Client), cmp.Compare(server, p.Server)) < 0 {
		p.Client, p.Server = r.Client.ID, server
	}
}

func (ps *problemSet) sorted() []EvalProblem {
	out := make([]EvalProblem, 0, len(ps.byPlace))
	for _, p := range ps.byPlace {
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b EvalProblem) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col), cmp.Compare(a.Message, b.Message))
	})
	return out
}

// Verify is the check that every load (check, serve, each reload) runs
// before a snapshot may answer: it sweeps every client, and a policy that
// fails to decide any request of the sweep (a conflict, a type or built-in
// error, an undefined or malformed decision) is refused with the place of
// each failure, as a *VerifyError. observe, when set, sees every result
// too; with yield set the sweep runs on one goroutine and calls yield
// between two chunks of clients with the time the first took.
//
// A reload that kept the compiled policy decides again only the clients
// whose input may differ from previous, the verified decider it replaces.
func (s *Decider) Verify(ctx context.Context, previous *Decider, yield func(time.Duration), observe func(*ProbeResult)) error {
	clients := s.Config.Clients
	if observe == nil && previous != nil && previous.verified && previous.Policy == s.Policy && s.Policy.Deterministic() {
		clients = s.changedClients(previous)
	}
	problems := newProblemSet(s.Policy)
	err := s.sweep(ctx, clients, 0, yield, func(r *ProbeResult) {
		problems.add(r)
		if observe != nil {
			observe(r)
		}
	})
	if err != nil {
		return err
	}
	if found := problems.sorted(); len(found) > 0 {
		return &VerifyError{Problems: found}
	}
	s.verified = true
	return nil
}

// changedClients are the clients whose requests' policy input may differ
// in s from previous, so that a deterministic policy, already found to
// decide previous's, may decide theirs differently: new or changed
// clients, members (before or after) of a changed group, clients acting
// as a changed account or one such member; every client when a server or
// the settings changed. Declarations are compared by pointer: store.Next
// hands a reload previous's object for every declaration that did not
// change, and declarations are never modified.
func (s *Decider) changedClients(previous *Decider) []*model.Client {
	old := previous.Config
	if s.Settings != old.Settings || !samePointers(s.Config.Servers, old.Servers) {
		return s.Config.Clients
	}
	affected := map[string]bool{} // members of changed groups, changed accounts
	groups := pointerSet(old.Groups)
	for _, g := range s.Config.Groups {
		if !groups[g] {
			markMembers(affected, g)
		}
		delete(groups, g)
	}
	for g := range groups { // dropped or replaced
		markMembers(affected, g)
	}
	accounts := pointerSet(old.Accounts)
	for _, a := range s.Config.Accounts {
		if !accounts[a] {
			affected[a.ID] = true
		}
		delete(accounts, a)
	}
	for a := range accounts {
		affected[a.ID] = true
	}
	clients := pointerSet(old.Clients)
	var out []*model.Client
	for _, c := range s.Config.Clients {
		if !clients[c] || affected[c.ID] || (c.Impersonate != "" && affected[c.Impersonate]) {
			out = append(out, c)
		}
	}
	return out
}

func markMembers(affected map[string]bool, g *model.Group) {
	for _, m := range g.Members {
		affected[m] = true
	}
}

func pointerSet[T any](items []*T) map[*T]bool {
	set := make(map[*T]bool, len(items))
	for _, item := range items {
		set[item] = true
	}
	return set
}

// samePointers reports whether a and b hold the same objects, in any order.
func samePointers[T any](a, b []*T) bool {
	if len(a) != len(b) {
		return false
	}
	set := pointerSet(b)
	for _, item := range a {
		if !set[item] {
			return false
		}
	}
	return true
}
