package clientauth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"hash"
	"sync"

	"github.com/tollgate-dev/tollgate/engine/cache"
	"github.com/tollgate-dev/tollgate/engine/secret"
)

// DefaultCacheBytes bounds the KDF cache a server keeps: each verification
// counts its key (sha256.Size bytes) and cache.EntryOverhead, so it holds
// some 130,000 of them, the most recently used surviving a turn.
const DefaultCacheBytes = 16 << 20

// Cache remembers successful argon2id/bcrypt verifications so that a
// client's repeated requests do not pay the key derivation every time.
// Entries are keyed by an HMAC, under a random per-process key, of the
// stored hash and the presented secret: the cache never holds a secret or
// anything an offline attack could start from. Wrong secrets are never
// cached, so they always pay the full cost. It is a cache.Cache, bounded
// in bytes like every cache of tollgate's; what it drops costs its
// client one derivation to come back.
type Cache struct {
	// macs hold HMACs under the process's random key, reset between
	// uses: keying one anew for every lookup costs more than the lookup.
	macs     sync.Pool
	verified *cache.Cache[struct{}]
}

// NewCache returns a cache of successful verifications within
// DefaultCacheBytes.
func NewCache() *Cache { return newCache(DefaultCacheBytes) }

// newCache returns a cache within maxBytes (see cache.New).
func newCache(maxBytes int64) *Cache {
	var hmacKey [32]byte
	_, _ = rand.Read(hmacKey[:])
	c := &Cache{verified: cache.New(maxBytes, func(struct{}) int { return 0 })}
	c.macs.New = func() any { return hmac.New(sha256.New, hmacKey[:]) }
	return c
}

func (c *Cache) key(h *secret.Hash, presented string) string {
	mac := c.macs.Get().(hash.Hash)
	defer c.macs.Put(mac)
	mac.Reset()
	mac.Write([]byte(h.String()))
	mac.Write([]byte{0})
	mac.Write([]byte(presented))
	var k [sha256.Size]byte
	return string(mac.Sum(k[:0]))
}

func (c *Cache) has(k string) bool {
	_, ok := c.verified.Get(k)
	return ok
}

func (c *Cache) add(k string) { c.verified.Put(k, struct{}{}) }
