package state

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"
)

// replaySet remembers, per client, a hash of each used jti (never the
// assertion) until the assertion expires. Its bound, max hashes a client,
// and what happens past it are MaxAssertionsPerClient's.
type replaySet struct {
	mu        sync.Mutex
	clients   map[string]map[jtiKey]int64 // -> until, Unix seconds
	max       int
	lastSweep time.Time
	journal   *journal
}

type jtiKey [16]byte

func keyOf(jti string) jtiKey {
	sum := sha256.Sum256([]byte(jti))
	return jtiKey(sum[:16])
}

func (r *replaySet) seen(client, jti string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.clients[client][keyOf(jti)]
	return ok
}

func (r *replaySet) use(client, jti string, until, now time.Time) error {
	key := keyOf(jti)
	// Kept through the whole second until falls in.
	last := until.Unix()
	if until.Nanosecond() > 0 {
		last++
	}
	r.mu.Lock()
	seen := r.clients[client]
	if seen == nil {
		seen = map[jtiKey]int64{}
		r.clients[client] = seen
	}
	if _, used := seen[key]; used {
		r.mu.Unlock()
		return ErrReplayed
	}
	if len(seen) >= r.max {
		oldest := sweepJTIs(seen, now.Unix())
		if len(seen) >= r.max {
			r.mu.Unlock()
			return &QuotaError{Client: client, Max: r.max, RetryAfter: time.Unix(oldest+1, 0).Sub(now)}
		}
	}
	if now.Sub(r.lastSweep) >= sweepEvery {
		r.lastSweep = now
		for id, s := range r.clients {
			if sweepJTIs(s, now.Unix()); len(s) == 0 && id != client {
				delete(r.clients, id)
			}
		}
	}
	seen[key] = last
	r.mu.Unlock()
	return r.journal.append(record{Client: client, JTI: hex.EncodeToString(key[:]), Exp: last}.appendLine(nil))
}

// sweepJTIs drops the expired entries and returns the earliest until of
// those left.
func sweepJTIs(seen map[jtiKey]int64, now int64) (oldest int64) {
	for k, last := range seen {
		switch {
		case last < now:
			delete(seen, k)
		case oldest == 0 || last < oldest:
			oldest = last
		}
	}
	return oldest
}

func (r *replaySet) load(rec record, now time.Time) bool {
	raw, err := hex.DecodeString(rec.JTI)
	if rec.Client == "" || err != nil || len(raw) != len(jtiKey{}) {
		return false
	}
	if rec.Exp < now.Unix() {
		return true
	}
	seen := r.clients[rec.Client]
	if seen == nil {
		seen = map[jtiKey]int64{}
		r.clients[rec.Client] = seen
	}
	seen[jtiKey(raw)] = rec.Exp
	return true
}

func (r *replaySet) records(b []byte, now int64) ([]byte, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for id, seen := range r.clients {
		for k, last := range seen {
			if last >= now {
				b = record{Client: id, JTI: hex.EncodeToString(k[:]), Exp: last}.appendLine(b)
				n++
			}
		}
	}
	return b, n
}
