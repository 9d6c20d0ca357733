// Package clientauth verifies what clients and servers authenticate with:
// secrets (RFC 6749 §2.3.1), the assertions of private_key_jwt clients (RFC
// 7523) and the certificates of tls_client_auth clients (RFC 8705). It
// keeps the parsed hashes and keys of one configuration, so a request never
// parses either, and it makes an unknown id cost the same as a wrong
// secret.
package clientauth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/engine/assertion"
	"github.com/tollgate-dev/tollgate/engine/model"
	"github.com/tollgate-dev/tollgate/engine/secret"
)

// credential is one stored secret, as declared and parsed.
type credential struct {
	model.Secret
	hash *secret.Hash
}

// Principal is who an id and secret authenticate: a client or, for
// introspection, a resource server. Exactly one of the two is set.
type Principal struct {
	Client *model.Client
	Server *model.Server
	// Assertion is the private_key_jwt assertion the client authenticated
	// with, its jti not yet used up: the caller does that (see
	// assertion.Verifier.Use) once its own checks have passed.
	Assertion *assertion.Verified
}

// ID is the client_id or the server id.
func (p Principal) ID() string {
	if p.Client != nil {
		return p.Client.ID
	}
	return p.Server.ID
}

type entry struct {
	who   Principal
	creds []credential
	keys  []*assertion.Key
}

// Index holds the parsed secrets of every client and server of one
// configuration, with the declaration each belongs to, so authenticating
// needs no other lookup. It is immutable once built.
type Index struct {
	byID  map[string]entry
	dummy *secret.Hash
	cache *Cache
}

// NewIndex parses the secrets of clients and servers. Hashes were checked at
// load, so an error here means the configuration was built around
// validation; it is returned rather than ignored.
func NewIndex(clients []*model.Client, servers []*model.Server, cache *Cache) (*Index, error) {
	idx := &Index{byID: make(map[string]entry, len(clients)+len(servers)), cache: cache}
	add := func(id string, who Principal, secrets []model.Secret) error {
		creds := make([]credential, 0, len(secrets))
		for _, s := range secrets {
			h, err := secret.Parse(s.Hash)
			if err != nil {
				return err
			}
			creds = append(creds, credential{Secret: s, hash: h})
		}
		idx.byID[id] = entry{who: who, creds: creds}
		return nil
	}
	for _, c := range clients {
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
		idx.byID[c.ID] = e
	}
	for _, s := range servers {
		if len(s.Secrets) > 0 {
			if err := add(s.ID, Principal{Server: s}, s.Secrets); err != nil {
				return nil, err
			}
		}
	}
	// The dummy hash has the cost of the common case (sha256) so that an
	// unknown id takes as long as a known one with a wrong secret.
	var random [32]byte
	_, _ = rand.Read(random[:])
	idx.dummy, _ = secret.Parse(secret.SHA256Hash(string(random[:])))
	return idx, nil
}

// Authenticate returns who id is when presented is one of its currently
// valid secrets. An unknown id, an expired secret and a wrong secret all
// fail after comparable work.
func (idx *Index) Authenticate(id, presented string, now time.Time) (Principal, bool) {
	e, known := idx.byID[id]
	if !known || len(e.creds) == 0 {
		idx.dummy.Verify(presented)
		return Principal{}, false
	}
	ok := false
	// Check every secret, even after a match, so the time taken does not
	// tell which of several overlapping secrets matched.
	for _, c := range e.creds {
		valid := c.ValidAt(now)
		if idx.verifyOne(c.hash, presented) && valid {
			ok = true
		}
	}
	if !ok {
		return Principal{}, false
	}
	return e.who, true
}

// AuthenticateAssertion returns the client id is when raw is a valid
// assertion of it (see assertion.Verifier.Check), signed by one of its
// current public keys; its jti is the caller's to use up. Servers never
// authenticate this way.
func (idx *Index) AuthenticateAssertion(id, raw string, v *assertion.Verifier, audiences []string) (Principal, error) {
	e, known := idx.byID[id]
	if !known || len(e.keys) == 0 {
		return Principal{}, fmt.Errorf("%w: client %q has no public key", assertion.ErrInvalid, id)
	}
	verified, err := v.Check(raw, id, e.keys, audiences)
	if err != nil {
		return Principal{}, err
	}
	who := e.who
	who.Assertion = verified
	return who, nil
}

func (idx *Index) verifyOne(h *secret.Hash, presented string) bool {
	if !h.Slow() || idx.cache == nil {
		return h.Verify(presented)
	}
	key := idx.cache.key(h, presented)
	if idx.cache.has(key) {
		return true
	}
	if !h.Verify(presented) {
		return false
	}
	idx.cache.add(key)
	return true
}

// Cache remembers successful argon2id/bcrypt verifications so that a
// client's repeated requests do not pay the key derivation every time.
// Entries are keyed by an HMAC, under a random per-process key, of the
// stored hash and the presented secret: the cache never holds a secret or
// anything an offline attack could start from. Wrong secrets are never
// cached, so they always pay the full cost.
type Cache struct {
	mu      sync.Mutex
	hmacKey [32]byte
	entries map[[sha256.Size]byte]struct{}
	max     int
}

// NewCache returns a cache of at most max successful verifications.
func NewCache(max int) *Cache {
	c := &Cache{entries: make(map[[sha256.Size]byte]struct{}), max: max}
	_, _ = rand.Read(c.hmacKey[:])
	return c
}

func (c *Cache) key(h *secret.Hash, presented string) [sha256.Size]byte {
	mac := hmac.New(sha256.New, c.hmacKey[:])
	mac.Write([]byte(h.String()))
	mac.Write([]byte{0})
	mac.Write([]byte(presented))
	var k [sha256.Size]byte
	mac.Sum(k[:0])
	return k
}

func (c *Cache) has(k [sha256.Size]byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.entries[k]
	return ok
}

func (c *Cache) add(k [sha256.Size]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		// Dropping everything is crude but bounded; legitimate clients
		// pay one derivation each to come back.
		clear(c.entries)
	}
	c.entries[k] = struct{}{}
}
