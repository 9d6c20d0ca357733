package state

import (
	"context"
	"errors"
	"time"

	"github.com/tollgate-dev/tollgate/engine/model"
)

// Operations named to Observed's onError, and in the metric of errors.
const (
	OpRevoke    = "revoke"
	OpRevoked   = "revoked"
	OpSeen      = "seen"
	OpUse       = "use"
	OpRateLimit = "rate_limit"
	OpThrottle  = "throttle"
)

// Observed returns st with each failure of the store itself reported to
// onError with its operation, so that it is counted and logged once,
// whichever request met it. A replay and a full quota are answers, not
// failures, and a call whose caller gave up (its context ended: the
// client went away) says nothing of the store.
func Observed(st Store, onError func(op string, err error)) Store {
	return &observed{st: st, onError: onError}
}

type observed struct {
	st      Store
	onError func(op string, err error)
}

func (o *observed) check(ctx context.Context, op string, err error) error {
	var quota *QuotaError
	if err != nil && ctx.Err() == nil && !errors.Is(err, ErrReplayed) && !errors.As(err, &quota) {
		o.onError(op, err)
	}
	return err
}

func (o *observed) Revoke(ctx context.Context, t Token) error {
	return o.check(ctx, OpRevoke, o.st.Revoke(ctx, t))
}

func (o *observed) Revoked(ctx context.Context, t Token) (bool, error) {
	ok, err := o.st.Revoked(ctx, t)
	return ok, o.check(ctx, OpRevoked, err)
}

func (o *observed) Seen(ctx context.Context, client, jti string) (bool, error) {
	ok, err := o.st.Seen(ctx, client, jti)
	return ok, o.check(ctx, OpSeen, err)
}

func (o *observed) Use(ctx context.Context, client, jti string, until time.Time) error {
	return o.check(ctx, OpUse, o.st.Use(ctx, client, jti, until))
}

func (o *observed) Allow(ctx context.Context, client string, r model.Rate, now time.Time) (bool, time.Duration, error) {
	ok, retry, err := o.st.Allow(ctx, client, r, now)
	return ok, retry, o.check(ctx, OpRateLimit, err)
}

func (o *observed) Reserve(ctx context.Context, client, remoteAddr string, now time.Time) (Reservation, bool, time.Duration, error) {
	r, ok, retry, err := o.st.Reserve(ctx, client, remoteAddr, now)
	if r != nil {
		r = observedReservation{r: r, o: o}
	}
	return r, ok, retry, o.check(ctx, OpThrottle, err)
}

type observedReservation struct {
	r Reservation
	o *observed
}

func (r observedReservation) Refund(ctx context.Context, forgive bool) error {
	return r.o.check(ctx, OpThrottle, r.r.Refund(ctx, forgive))
}

func (o *observed) Failed(ctx context.Context, remoteAddr string, now time.Time) (bool, time.Duration, error) {
	throttled, retry, err := o.st.Failed(ctx, remoteAddr, now)
	return throttled, retry, o.check(ctx, OpThrottle, err)
}
