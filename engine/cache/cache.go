// Package cache holds Cache, tollgate's one idiom for remembering what
// requests computed: a concurrent map from strings to values that counts
// its keys and values in bytes and never holds more than its budget,
// whatever callers send (SPEC §6: caches are bounded in bytes).
//
// A Cache keeps two generations. New entries go into the young one; when
// it has no room for the next entry, it becomes the old one and the old
// one is dropped whole. A hit in the old generation moves the entry back
// into the young one, so what is asked for again and again survives a
// flood of one-off entries, and the cache needs no list, no lock and no
// clock on a hit: reads are as cheap as a sync.Map's.
package cache

import (
	"sync"
	"sync/atomic"
)

// EntryOverhead is what an entry is counted at beyond its key and its
// value's size: an estimate of the map's own node and pointers, so that
// many tiny entries are bounded too.
const EntryOverhead = 96

// Cache maps strings to values within a byte budget. It is safe for
// concurrent use; the zero value is not usable, call New.
type Cache[V any] struct {
	// half is each generation's share of the budget.
	half  int64
	size  func(V) int
	young atomic.Pointer[generation[V]]
	turn  sync.Mutex // one goroutine turns a full generation
}

type generation[V any] struct {
	entries sync.Map // string -> *entry[V]
	// bytes counts the entries stored and those being stored: room is
	// reserved before an entry goes in, so the count never falls behind
	// what the generation holds.
	bytes atomic.Int64
	old   atomic.Pointer[generation[V]]
}

type entry[V any] struct {
	value V
	bytes int64
}

// New returns a cache that holds at most maxBytes of keys, values (as
// size counts them) and EntryOverhead per entry. size must be cheap and
// must not change for a value once it is stored.
func New[V any](maxBytes int64, size func(V) int) *Cache[V] {
	c := &Cache[V]{half: maxBytes / 2, size: size}
	c.young.Store(&generation[V]{})
	return c
}

// Get returns the value stored under key.
func (c *Cache[V]) Get(key string) (V, bool) {
	g := c.young.Load()
	if e, ok := g.entries.Load(key); ok {
		return e.(*entry[V]).value, true
	}
	if old := g.old.Load(); old != nil {
		if e, ok := old.entries.Load(key); ok {
			c.store(key, e.(*entry[V]))
			return e.(*entry[V]).value, true
		}
	}
	var zero V
	return zero, false
}

// Put stores value under key unless a value is stored there already (a
// cache of deterministic answers has only one per key). An entry larger
// than half the budget is not stored at all.
func (c *Cache[V]) Put(key string, value V) {
	n := int64(len(key)) + int64(c.size(value)) + EntryOverhead
	if n > c.half {
		return
	}
	c.store(key, &entry[V]{value: value, bytes: n})
}

func (c *Cache[V]) store(key string, e *entry[V]) {
	for {
		g := c.young.Load()
		if !g.reserve(e.bytes, c.half) {
			c.turnFrom(g)
			continue
		}
		if _, loaded := g.entries.LoadOrStore(key, e); loaded {
			g.bytes.Add(-e.bytes)
		}
		return
	}
}

// reserve counts n more bytes if the generation has room for them.
func (g *generation[V]) reserve(n, limit int64) bool {
	for {
		held := g.bytes.Load()
		if held+n > limit {
			return false
		}
		if g.bytes.CompareAndSwap(held, held+n) {
			return true
		}
	}
}

// turnFrom makes full, if it is still the young generation, the old one,
// and drops the generation before it.
func (c *Cache[V]) turnFrom(full *generation[V]) {
	c.turn.Lock()
	defer c.turn.Unlock()
	if c.young.Load() != full {
		return // another goroutine turned it
	}
	full.old.Store(nil)
	next := &generation[V]{}
	next.old.Store(full)
	c.young.Store(next)
}

// Bytes is what the cache counts itself at: never more than its budget.
// An entry moved from the old generation to the young one is counted in
// both until the old one is dropped.
func (c *Cache[V]) Bytes() int64 {
	g := c.young.Load()
	n := g.bytes.Load()
	if old := g.old.Load(); old != nil {
		n += old.bytes.Load()
	}
	return n
}

// Range calls f for each key and value until f returns false, the young
// generation's first. It is for tests and diagnostics: it walks every
// entry.
func (c *Cache[V]) Range(f func(key string, value V) bool) {
	g := c.young.Load()
	more := true
	g.entries.Range(func(k, e any) bool {
		more = f(k.(string), e.(*entry[V]).value)
		return more
	})
	old := g.old.Load()
	if !more || old == nil {
		return
	}
	old.entries.Range(func(k, e any) bool {
		if _, young := g.entries.Load(k); young {
			return true
		}
		return f(k.(string), e.(*entry[V]).value)
	})
}
