// Package clientauth authenticates clients and servers: secrets (RFC 6749
// §2.3.1), the assertions of private_key_jwt clients (RFC 7523) and the
// certificates of tls_client_auth clients (RFC 8705). An Index keeps the
// parsed hashes and keys of one configuration, so a request never parses
// either, and makes an unknown id cost the same as a wrong secret; the
// Authenticator, which outlives reloads, decides the method, throttles
// guesses before their key derivation, and uses up assertions once.
package clientauth

import (
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tollgate-dev/tollgate/engine/assertion"
	"github.com/tollgate-dev/tollgate/engine/model"
	"github.com/tollgate-dev/tollgate/engine/secret"
)

// credential is one stored secret, as declared and parsed.
type credential struct {
	model.Secret
	hash *secret.Hash
	// name is how logs call it: "secret " and its fingerprint.
	name string
}

// Principal is who an id and secret authenticate: a client or, for
// introspection, a resource server. Exactly one of the two is set.
type Principal struct {
	Client *model.Client
	Server *model.Server
	// Assertion is the private_key_jwt assertion the client authenticated
	// with, its jti not yet used up: the caller does that (see
	// Authenticator.Consume) once its own checks have passed.
	Assertion *assertion.Verified
	// Credential names what authenticated, for the audit log: "secret "
	// and the fingerprint of its stored hash (secret.Fingerprint), "key "
	// and the key's kid, or "certificate " and the first 8 hex digits of
	// the certificate's SHA-256. Never the credential itself.
	Credential string
}

// ID is the client_id or the server id.
func (p Principal) ID() string {
	if p.Client != nil {
		return p.Client.ID
	}
	return p.Server.ID
}

// Result is what an authentication found.
type Result struct {
	// Declared is who the id names, whether or not the credential was
	// theirs: zero for an unknown id. It is authenticated only when OK.
	Declared Principal
	OK       bool
	// Reason says why it failed, for the operator: never for the caller,
	// who only learns that authentication failed.
	Reason string
	// Err is the refusal of Admit, when the attempt was refused before
	// its secret was checked.
	Err error
}

// Admit is asked before a key derivation (argon2id, bcrypt) runs for a
// presented secret that is not already known to be right. It returns an
// error to refuse the attempt before any work, or done, to be called with
// whether the secret was one of the id's (a holder's attempt is not a
// guess). Nil admits everything.
type Admit func() (done func(matched bool), err error)

type entry struct {
	who   Principal
	creds []credential
	keys  []*assertion.Key
}

// Index holds the parsed secrets of every client and server of one
// configuration, with the declaration each belongs to, so authenticating
// needs no other lookup. It is immutable once built.
type Index struct {
	byID map[string]entry
	// decoy stands in for the hash of an id that has none: it costs what
	// the configuration's most common person-chosen secret costs, so that
	// an unknown id takes as long as a wrong secret of the ids a guesser
	// would aim at (a generated secret cannot be guessed; knowing its id
	// exists gains nothing).
	decoy *secret.Hash
	// decoys stand in for the keys of an id that has none; nil when no
	// client has a key, as then every id is one without.
	decoys *assertion.Decoys
	cache  *Cache
	// longestID is the length of the longest declared client or server
	// id: a longer one is refused unread.
	longestID int
	// derivations and signatures count the key derivations and signature
	// checks done, for tests that the unknown paths do the known ones'
	// work.
	derivations, signatures atomic.Int64
}

// NewIndex parses the secrets of clients and servers. Hashes were checked at
// load, so an error here means the configuration was built around
// validation; it is returned rather than ignored.
func NewIndex(clients []*model.Client, servers []*model.Server, cache *Cache) (*Index, error) {
	idx := &Index{byID: make(map[string]entry, len(clients)+len(servers)), cache: cache}
	costs := map[string]int{}
	var common *secret.Hash
	add := func(id string, who Principal, secrets []model.Secret) error {
		creds := make([]credential, 0, len(secrets))
		for _, s := range secrets {
			h, err := secret.Parse(s.Hash)
			if err != nil {
				return err
			}
			creds = append(creds, credential{Secret: s, hash: h, name: "secret " + secret.Fingerprint(s.Hash)})
			if h.Slow() {
				cost := h.Cost()
				costs[cost]++
				if common == nil || costs[cost] > costs[common.Cost()] {
					common = h
				}
			}
		}
		idx.byID[id] = entry{who: who, creds: creds}
		return nil
	}
	var allKeys []*assertion.Key
	for _, c := range clients {
		idx.longestID = max(idx.longestID, len(c.ID))
		if err := add(c.ID, Principal{Client: c}, c.Secrets); err != nil {
			return nil, err
		}
		if len(c.PublicKeys) == 0 {
			continue
		}
		e := idx.byID[c.ID]
		for _, pk := range c.PublicKeys {
			k, err := assertion.ParseKey(pk.Key)
			if err != nil {
				return nil, fmt.Errorf("client %s: %w", c.ID, err)
			}
			k.NotAfter = pk.NotAfter
			e.keys = append(e.keys, k)
		}
		allKeys = append(allKeys, e.keys...)
		idx.byID[c.ID] = e
	}
	for _, s := range servers {
		idx.longestID = max(idx.longestID, len(s.ID))
		if len(s.Secrets) > 0 {
			if err := add(s.ID, Principal{Server: s}, s.Secrets); err != nil {
				return nil, err
			}
		}
	}
	if common == nil {
		common, _ = secret.Parse(secret.SHA256Hash(""))
	}
	idx.decoy = common.Decoy()
	if len(allKeys) > 0 {
		idx.decoys = assertion.NewDecoys(allKeys)
	}
	return idx, nil
}

// Authenticate checks presented against id's currently valid secrets.
// Generated secrets and person-chosen ones verified before (see Cache)
// are checked first, at no cost worth throttling; only when none matches
// does admit decide whether the key derivations may run. An unknown id
// does the work of a wrong secret (see Index.decoy), admitted the same
// way.
func (idx *Index) Authenticate(id, presented string, now time.Time, admit Admit) Result {
	e, known := idx.byID[id]
	if !known || len(e.creds) == 0 {
		res := Result{Declared: e.who, Reason: "unknown client id"}
		if known {
			res.Reason = "the client has no secret: it authenticates with " + e.who.Client.AuthMethod
		}
		if idx.decoy.Slow() {
			done, err := admitted(admit)
			if err != nil {
				res.Err = err
				return res
			}
			idx.derive(idx.decoy, presented)
			done(false)
		} else {
			idx.decoy.Verify(presented)
		}
		return res
	}
	match, expired, slow := -1, -1, false
	note := func(i int, ok bool) {
		switch {
		case !ok:
		case e.creds[i].ValidAt(now):
			if match < 0 {
				match = i
			}
		case expired < 0:
			expired = i
		}
	}
	// Every cheap secret is checked, even after a match, so the time
	// taken does not tell which of several overlapping secrets matched.
	for i := range e.creds {
		c := &e.creds[i]
		switch {
		case !c.hash.Slow():
			note(i, c.hash.Verify(presented))
		case idx.cache != nil && idx.cache.has(idx.cache.key(c.hash, presented)):
			note(i, true)
		default:
			slow = true
		}
	}
	if match < 0 && slow {
		done, err := admitted(admit)
		if err != nil {
			return Result{Declared: e.who, Err: err}
		}
		for i := range e.creds {
			if c := &e.creds[i]; c.hash.Slow() && (idx.cache == nil || !idx.cache.has(idx.cache.key(c.hash, presented))) {
				ok := idx.derive(c.hash, presented)
				if ok && idx.cache != nil {
					idx.cache.add(idx.cache.key(c.hash, presented))
				}
				note(i, ok)
			}
		}
		done(match >= 0 || expired >= 0)
	}
	switch {
	case match >= 0:
		who := e.who
		who.Credential = e.creds[match].name
		return Result{Declared: who, OK: true}
	case expired >= 0:
		c := e.creds[expired]
		return Result{Declared: e.who, Reason: fmt.Sprintf("secret expired: %s is past its not_after %s", strings.TrimPrefix(c.name, "secret "), c.NotAfter.UTC().Format(time.RFC3339))}
	}
	return Result{Declared: e.who, Reason: "wrong secret"}
}

func admitted(admit Admit) (func(bool), error) {
	if admit == nil {
		return func(bool) {}, nil
	}
	return admit()
}

// derive runs one key derivation.
func (idx *Index) derive(h *secret.Hash, presented string) bool {
	idx.derivations.Add(1)
	return h.Verify(presented)
}

// AuthenticateAssertion checks raw as an assertion of id (see
// assertion.Verifier.Check), signed by one of its current public keys;
// its jti is the caller's to use up. Servers never authenticate this way. When no key of id may have signed it (an
// unknown id, a client without keys, another alg or kid), a decoy key of
// the header's alg is checked instead, so that every path checks one
// signature.
func (idx *Index) AuthenticateAssertion(id, raw string, v *assertion.Verifier, audiences []string, now time.Time) Result {
	e, known := idx.byID[id]
	res := Result{Declared: e.who}
	alg, kid, candidates := assertion.Candidates(raw, e.keys, now)
	if len(candidates) == 0 {
		if idx.decoys != nil {
			if d := idx.decoys.For(alg, kid); d != nil {
				idx.signatures.Add(1)
				_, _ = v.Check(raw, id, []*assertion.Key{d}, audiences)
			}
		}
		switch {
		case !known:
			res.Reason = "unknown client id"
		case len(e.keys) == 0:
			res.Reason = "the client has no public key: it authenticates with " + authMethodOf(e.who)
		default:
			res.Reason = fmt.Sprintf("%v: no current key of the client signs with %q (kid %q)", assertion.ErrInvalid, shorten(alg), shorten(kid))
		}
		return res
	}
	key := candidates[0]
	if len(candidates) > 1 {
		idx.signatures.Add(int64(len(candidates)))
		if key = assertion.SignedBy(raw, alg, candidates); key == nil {
			res.Reason = fmt.Sprintf("%v: the signature matches no current key of client %s", assertion.ErrInvalid, id)
			return res
		}
	}
	idx.signatures.Add(1)
	verified, err := v.Check(raw, id, []*assertion.Key{key}, audiences)
	if err != nil {
		res.Reason = err.Error()
		return res
	}
	res.OK = true
	res.Declared.Assertion = verified
	res.Declared.Credential = "key " + shorten(key.KeyID())
	return res
}

func authMethodOf(p Principal) string {
	if p.Client != nil {
		return p.Client.AuthMethod
	}
	return "a secret (it is a server)"
}

// shorten bounds a value of the caller's before it is logged.
func shorten(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
