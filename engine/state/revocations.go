package state

import (
	"sync"
	"time"
)

// revocationSet holds revoked token ids per client until the tokens
// expire, and per client a cut-off: tokens issued at or before it are all
// revoked. Its bound, max ids a client, and what happens past it are
// MaxRevocationsPerClient's.
type revocationSet struct {
	mu        sync.RWMutex
	clients   map[string]*clientRevocations
	max       int
	lastSweep time.Time
	journal   *journal // nil in memory only
}

type clientRevocations struct {
	ids map[string]int64 // jti -> exp, Unix seconds
	// before is a Unix second; zero when none. It is kept for good: one
	// number per client that ever overflowed, and no token it covers may
	// come back.
	before int64
}

func (r *revocationSet) revoke(t Token, now time.Time) error {
	r.mu.Lock()
	c := r.clients[t.Client]
	if c == nil {
		c = &clientRevocations{ids: map[string]int64{}}
		r.clients[t.Client] = c
	}
	if _, done := c.ids[t.ID]; done || t.IssuedAt.Unix() <= c.before {
		r.mu.Unlock()
		// A retry after a failed write must not pass for stored.
		return r.journal.retry()
	}
	if len(c.ids) >= r.max {
		c.sweep(now.Unix())
	}
	var line []byte
	if len(c.ids) < r.max {
		c.ids[t.ID] = t.ExpiresAt.Unix()
		line = record{Client: t.Client, JTI: t.ID, Exp: t.ExpiresAt.Unix()}.appendLine(nil)
	} else {
		// Every token in ids was issued before now: the cut-off covers
		// them all, and this one.
		c.before = max(c.before, now.Unix(), t.IssuedAt.Unix())
		clear(c.ids)
		line = record{Client: t.Client, Before: c.before}.appendLine(nil)
	}
	if now.Sub(r.lastSweep) >= sweepEvery {
		r.lastSweep = now
		for id, c := range r.clients {
			if c.sweep(now.Unix()); len(c.ids) == 0 && c.before == 0 {
				delete(r.clients, id)
			}
		}
	}
	r.mu.Unlock()
	return r.journal.append(line)
}

func (c *clientRevocations) sweep(now int64) {
	for id, exp := range c.ids {
		if exp < now {
			delete(c.ids, id)
		}
	}
}

func (r *revocationSet) revoked(t Token) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c := r.clients[t.Client]
	if c == nil {
		return false
	}
	if t.IssuedAt.Unix() <= c.before {
		return true
	}
	_, ok := c.ids[t.ID]
	return ok
}

// load takes one record read back from the file.
func (r *revocationSet) load(rec record, now time.Time) bool {
	switch {
	case rec.Client == "":
		return false
	case rec.Before > 0:
		c := r.clientOf(rec.Client)
		c.before = max(c.before, rec.Before)
		clear(c.ids)
		return true
	case rec.JTI == "" || rec.Exp < now.Unix():
		return rec.JTI != ""
	}
	c := r.clientOf(rec.Client)
	if len(c.ids) >= r.max {
		// More than the bound allows now: fail safe, as revoke would.
		c.before = max(c.before, now.Unix())
		clear(c.ids)
		return true
	}
	c.ids[rec.JTI] = rec.Exp
	return true
}

func (r *revocationSet) clientOf(id string) *clientRevocations {
	c := r.clients[id]
	if c == nil {
		c = &clientRevocations{ids: map[string]int64{}}
		r.clients[id] = c
	}
	return c
}

// records appends every live record, one a line, for a rewrite.
func (r *revocationSet) records(b []byte, now int64) ([]byte, int) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	n := 0
	for id, c := range r.clients {
		if c.before > 0 {
			b = record{Client: id, Before: c.before}.appendLine(b)
			n++
		}
		for jti, exp := range c.ids {
			if exp >= now {
				b = record{Client: id, JTI: jti, Exp: exp}.appendLine(b)
				n++
			}
		}
	}
	return b, n
}
