package authz

import (
	"sync"
	"time"
)

// revocations remembers revoked token ids until the tokens would have
// expired anyway; after that a token is inactive for its exp alone, so the
// set never outgrows the tokens still alive.
type revocations struct {
	mu        sync.RWMutex
	until     map[string]time.Time // jti -> exp
	lastPrune time.Time
}

func newRevocations() *revocations {
	return &revocations{until: make(map[string]time.Time)}
}

func (r *revocations) revoke(jti string, exp, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.until[jti] = exp
	if now.Sub(r.lastPrune) > time.Minute {
		for id, e := range r.until {
			if !now.Before(e) {
				delete(r.until, id)
			}
		}
		r.lastPrune = now
	}
}

func (r *revocations) isRevoked(jti string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ok := r.until[jti]
	return ok
}
