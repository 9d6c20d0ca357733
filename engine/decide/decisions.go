package decide

import (
	"strings"
	"unsafe"

	"github.com/tollgate-dev/tollgate/engine/cache"
)

// DecisionCacheBytes bounds the memoized decisions of one snapshot, keys
// and values counted in bytes (SPEC §6): a client sending large or many
// distinct values makes the cache forget older decisions, never grow.
const DecisionCacheBytes = 32 << 20

// decisionCache memoizes the evaluations of a deterministic policy within
// one snapshot; a reload starts a new one.
type decisionCache = cache.Cache[*Evaluation]

func newDecisionCache(maxBytes int64) *decisionCache {
	return cache.New(maxBytes, evaluationSize)
}

// namesOnlyServers says whether r's decision may be kept: a decision about
// an audience that names no server is an answer to whatever a caller made
// up, and keeping it would keep that value (and the denial text that
// echoes it) for every caller that tries a new one.
func (s *Decider) namesOnlyServers(r *resolved) bool {
	for _, a := range r.audience {
		if _, ok := s.Store.ServerNamed(a); !ok {
			return false
		}
	}
	return true
}

// Cache keys separate their parts with bytes that cannot occur in a
// client id, an auth method, an audience or a scope token, and start with
// a byte that tells the two kinds of key apart.
const (
	keyRaw       = 'r'
	keyCanonical = 'c'
	sepMethod    = 0
	sepAudience  = 1
	sepScope     = 2
)

func requestKey(clientID string, req *EvalRequest) string {
	return cacheKey(keyRaw, clientID, req.AuthMethod, req.Audience, req.Scope)
}

func resolvedKey(r *resolved) string {
	return cacheKey(keyCanonical, r.client.ID, r.authMethod, r.audience, r.scope)
}

func cacheKey(kind byte, clientID, authMethod string, audience, scope []string) string {
	var b strings.Builder
	b.WriteByte(kind)
	b.WriteString(clientID)
	b.WriteByte(sepMethod)
	b.WriteString(authMethod)
	for _, a := range audience {
		b.WriteByte(sepAudience)
		b.WriteString(a)
	}
	for _, sc := range scope {
		b.WriteByte(sepScope)
		b.WriteString(sc)
	}
	return b.String()
}

// Sizes of the headers an evaluation is made of, for its byte count.
const (
	sizeString = int(unsafe.Sizeof(""))
	sizeSlice  = int(unsafe.Sizeof([]string(nil)))
	sizeAny    = int(unsafe.Sizeof(any(nil)))
)

// evaluationSize is what an evaluation holds: its structs and every
// string, list and claim they point to. An evaluation kept under two keys
// is counted twice, which errs on the safe side.
func evaluationSize(evaluation *Evaluation) int {
	n := int(unsafe.Sizeof(*evaluation)) + len(evaluation.Actor) + stringsSize(evaluation.audienceLabels)
	d := evaluation.Decision
	if d == nil {
		return n
	}
	n += int(unsafe.Sizeof(*d)) + len(d.Subject) + len(d.Error) + len(d.ErrorDescription)
	for _, list := range [][]string{d.Audience, d.Scope, d.Reasons} {
		n += stringsSize(list)
	}
	if d.Claims != nil {
		n += valueSize(d.Claims)
	}
	return n
}

func stringsSize(list []string) int {
	n := sizeString * cap(list)
	for _, s := range list {
		n += len(s)
	}
	return n
}

// valueSize is the size of a JSON value as encoding/json decodes it.
func valueSize(v any) int {
	switch v := v.(type) {
	case string:
		return sizeAny + sizeString + len(v)
	case []any:
		n := sizeAny + sizeSlice
		for _, item := range v {
			n += valueSize(item)
		}
		return n
	case map[string]any:
		n := sizeAny + 48 // the map's header
		for k, item := range v {
			n += sizeString + len(k) + valueSize(item)
		}
		return n
	default: // numbers, booleans, null
		return sizeAny + 8
	}
}
