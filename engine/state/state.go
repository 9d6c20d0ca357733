// Package state holds what tollgate remembers between requests besides its
// configuration: the tokens revoked, the client assertions already used,
// the clients' rate limits and the failed-authentication throttles. Each is a small interface, so that Redis,
// a store shared by several replicas, can stand in for Local, the one a
// single process keeps in memory and, given a folder, in files that
// survive a restart.
package state

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tollgate-dev/tollgate/engine/model"
)

// Token is what a revocation needs to know of an access token.
type Token struct {
	Client string
	// ID is the token's jti.
	ID        string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// Revocations remembers revoked tokens until they expire (RFC 7009).
type Revocations interface {
	// Revoke makes t inactive. An error means it is in effect but may not
	// be remembered (by Local: across a restart); the caller may retry.
	Revoke(ctx context.Context, t Token) error
	// Revoked reports whether t was revoked: by its own id, or with every
	// token its client was issued up to a moment (MaxRevocationsPerClient).
	Revoked(ctx context.Context, t Token) (bool, error)
}

// Replay remembers the jtis of the client assertions already used, so
// that each is accepted once (RFC 7523 §3).
type Replay interface {
	// Seen reports whether client used jti before. It only looks; Use,
	// which may race with another Use of the same jti, decides.
	Seen(ctx context.Context, client, jti string) (bool, error)
	// Use records client's jti as used until until, the last moment the
	// assertion could still be accepted. It fails with ErrReplayed when
	// the jti was used before, and with a *QuotaError when client has too
	// many unexpired assertions remembered; any other error means the jti
	// could not be recorded (the caller refuses the assertion).
	Use(ctx context.Context, client, jti string, until time.Time) error
}

// RateLimits enforce each client's rate_limit (SPEC §6). A store shared
// by replicas holds one bucket per client for the whole fleet.
type RateLimits interface {
	// Allow spends one of client's tokens under r at now; when none is
	// left, ok is false and retryAfter says when the next one is. The
	// whole period's count may be spent at once ("600/m": 600 in a burst,
	// then one every 100 ms). A changed r starts the client afresh. An
	// error means the limit could not be checked (the caller refuses).
	Allow(ctx context.Context, client string, r model.Rate, now time.Time) (ok bool, retryAfter time.Duration, err error)
}

// Throttles slow repeated failed client authentication (SPEC §6), with
// the buckets and rules of engine/ratelimit.Throttle: per client id and
// address for the guesses at a person's secret, taken before the key
// derivation runs; per address for those guesses over all ids; and per
// address for failures of any kind. A store shared by replicas holds one
// set of buckets for the whole fleet, so that a guesser spreading guesses
// over replicas gets one budget, not one per replica.
type Throttles interface {
	// Reserve takes a token for one guess at client's secret from
	// remoteAddr at now, from the pair's bucket and the address's, before
	// the key derivation runs. When either is empty it takes none: ok is
	// false and retryAfter says how long to wait. An error means the
	// throttle could not be consulted (the caller refuses the guess).
	Reserve(ctx context.Context, client, remoteAddr string, now time.Time) (r Reservation, ok bool, retryAfter time.Duration, err error)
	// Failed records a failed authentication of any kind from remoteAddr
	// and reports whether the address has failed too often, and so should
	// be answered 429 with retryAfter.
	Failed(ctx context.Context, remoteAddr string, now time.Time) (throttled bool, retryAfter time.Duration, err error)
}

// Reservation is one guess's tokens, taken by Throttles.Reserve.
type Reservation interface {
	// Refund gives the tokens back: the guess was never checked, or it
	// was the holder's secret; with forgive, the pair's earlier failures
	// are forgotten too. The address's stay, so that a client that knows
	// its own secret cannot launder guesses at others'.
	Refund(ctx context.Context, forgive bool) error
}

// Store is all of the state: what a Service is given.
type Store interface {
	Revocations
	Replay
	RateLimits
	Throttles
}

// ErrReplayed is Use's answer to a jti used before.
var ErrReplayed = errors.New("was used before")

// QuotaError is Use's answer to a client that has its quota of unexpired
// assertions remembered. It only ever stops that client.
type QuotaError struct {
	Client string
	Max    int
	// RetryAfter is when the client's oldest remembered assertion expires.
	RetryAfter time.Duration
}

func (e *QuotaError) Error() string {
	return fmt.Sprintf("client %q has %d unexpired assertions in use, its most; it may send another in %s",
		e.Client, e.Max, e.RetryAfter.Round(time.Second))
}

// Defaults of Options.
const (
	// MaxRevocationsPerClient bounds the live revocations kept per client.
	// Revocations are a record, not a cache: dropping one would make its
	// token active again. So past the bound, the client's revocation
	// revokes every token it was issued up to that second (a cut-off, one
	// number kept for good per client that ever overflowed), which stays
	// safe: nothing it revoked comes back. An entry is a jti tollgate
	// minted (22 characters: only a token whose signature verifies is
	// recorded, for the client it was issued to) and its exp, under a
	// declared client id (at most 255 bytes); it goes once the token has
	// expired.
	MaxRevocationsPerClient = 10_000
	// MaxAssertionsPerClient bounds the unexpired assertions of one client
	// remembered against replay (RFC 7523 §3). The used jtis are a record,
	// not a cache: dropping one would let its assertion be replayed. So
	// past the bound, that client's new assertions are refused
	// (QuotaError) until its old ones expire; no other client is stopped.
	// An entry is a 16-byte hash of the jti, however long the client made
	// it, and the last second the assertion could be accepted, under a
	// declared client id (at most 255 bytes, and only once the assertion's
	// signature verified); it goes once that second has passed.
	MaxAssertionsPerClient = 1 << 14
)
