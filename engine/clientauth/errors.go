package clientauth

import "time"

// The errors of an Authenticator say what the caller is to be answered;
// their reasons are for the operator (the audit log), never for the
// caller, who only learns that authentication failed, in the same words
// whatever the reason.

// Failure is a failed authentication: an unknown id, a wrong or expired
// secret, a disabled client, a wrong method or a replayed assertion, all
// alike from outside (RFC 6749 §5.2).
type Failure struct {
	// Reason says why it failed.
	Reason error
}

func (f *Failure) Error() string { return f.Reason.Error() }
func (f *Failure) Unwrap() error { return f.Reason }

// Throttled refuses an attempt from an address that failed too often, or
// a guess at a person-chosen secret past its throttle, before its key
// derivation runs.
type Throttled struct {
	// RetryAfter is how long until the throttle admits the next attempt.
	RetryAfter time.Duration
	// Reason says why.
	Reason error
}

func (t *Throttled) Error() string { return t.Reason.Error() }
func (t *Throttled) Unwrap() error { return t.Reason }

// Busy refuses an attempt whose key derivation found no slot in time:
// the derivations running at once stay within the cores.
type Busy struct {
	// Reason says why.
	Reason error
}

func (b *Busy) Error() string { return b.Reason.Error() }
func (b *Busy) Unwrap() error { return b.Reason }

// Unavailable refuses an attempt whose check needs the state and could
// not consult it: nothing is skipped in silence (SPEC §8).
type Unavailable struct {
	// What says which check could not be made.
	What string
	// Err is the state's error.
	Err error
}

func (u *Unavailable) Error() string { return u.What + ": " + u.Err.Error() }
func (u *Unavailable) Unwrap() error { return u.Err }
