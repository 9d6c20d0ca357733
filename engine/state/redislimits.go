package state

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tollgate-dev/tollgate/engine/model"
	"github.com/tollgate-dev/tollgate/engine/ratelimit"
)

// allowScript is GCRA (the generic cell rate algorithm): one number per
// client, the theoretical arrival time tat of its next token. A request
// at now is allowed when tat, pushed one interval on, is no more than a
// whole period (count intervals) ahead of now: a full bucket's count may
// go at once, then one per interval. Refused, it says how long until it
// would be allowed. The key lives only as long as tat is ahead: a client
// whose bucket is full again has nothing stored.
// KEYS: rate. ARGV: now, interval (µs), count.
var allowScript = redis.NewScript(`
local now, interval, count = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or ARGV[1])
if tat < now then
  tat = now
end
local nxt = tat + interval
local limit = now + interval * count
if nxt > limit then
  return {0, nxt - limit}
end
redis.call('SET', KEYS[1], string.format('%d', nxt), 'PX', string.format('%d', math.ceil((nxt - now) / 1000)))
return {1, 0}
`)

// Allow implements RateLimits.
func (r *Redis) Allow(ctx context.Context, client string, rate model.Rate, now time.Time) (bool, time.Duration, error) {
	if rate.Count <= 0 || rate.Per <= 0 {
		return true, 0, nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	interval := max(rate.Per.Microseconds()/int64(rate.Count), 1)
	res, err := allowScript.Run(ctx, r.client, []string{r.key(client, fmt.Sprintf("rate:%d/%s", rate.Count, rate.Per))},
		now.UnixMicro(), interval, rate.Count).Int64Slice()
	if err != nil {
		return false, 0, fmt.Errorf("redis: checking the rate limit: %w", err)
	}
	if res[0] == 1 {
		return true, 0, nil
	}
	return false, time.Duration(res[1]) * time.Microsecond, nil
}

// reserveScript takes one token from a guess's pair bucket and its
// address's, both or neither: GCRA, as allowScript, on two keys at once.
// Refused, it says how long until the emptier bucket has a token.
// KEYS: pair, guess. ARGV: now, pair interval, pair burst, address
// interval, address burst (µs, counts).
var reserveScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local function after(key, interval, burst)
  local tat = tonumber(redis.call('GET', key) or ARGV[1])
  if tat < now then
    tat = now
  end
  return tat + interval, now + interval * burst
end
local pair, pairLimit = after(KEYS[1], tonumber(ARGV[2]), tonumber(ARGV[3]))
if pair > pairLimit then
  return {0, pair - pairLimit}
end
local guess, guessLimit = after(KEYS[2], tonumber(ARGV[4]), tonumber(ARGV[5]))
if guess > guessLimit then
  return {0, guess - guessLimit}
end
redis.call('SET', KEYS[1], string.format('%d', pair), 'PX', string.format('%d', math.ceil((pair - now) / 1000)))
redis.call('SET', KEYS[2], string.format('%d', guess), 'PX', string.format('%d', math.ceil((guess - now) / 1000)))
return {1, 0}
`)

// refundScript gives a reservation's tokens back: each arrival time moves
// one interval back, and a bucket full again is deleted; forgive deletes
// the pair's outright.
// KEYS: pair, guess. ARGV: now, pair interval, address interval (µs),
// forgive (1 or 0).
var refundScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local function give(key, interval)
  local tat = tonumber(redis.call('GET', key) or '0') - interval
  if tat <= now then
    redis.call('DEL', key)
  else
    redis.call('SET', key, string.format('%d', tat), 'PX', string.format('%d', math.ceil((tat - now) / 1000)))
  end
end
if ARGV[4] == '1' then
  redis.call('DEL', KEYS[1])
else
  give(KEYS[1], tonumber(ARGV[2]))
end
give(KEYS[2], tonumber(ARGV[3]))
return 1
`)

// throttleKeys name an address's buckets, and a pair's when client is
// not empty. The address and the id are hashed: both may be the
// caller's choice, and neither is kept as sent. The address's hash is
// the hash tag, so that a reservation's two keys are in one slot.
func throttleKeys(client, remoteAddr string) (pair, guess, fail string) {
	addr := ratelimit.AddressKey(remoteAddr)
	a := sha256.Sum256([]byte(addr))
	prefix := "tollgate:throttle:{" + hex.EncodeToString(a[:12]) + "}:"
	p := sha256.Sum256([]byte(addr + "\x00" + client))
	return prefix + "pair:" + hex.EncodeToString(p[:16]), prefix + "guess", prefix + "fail"
}

// minThrottleWait is the shortest Retry-After of a throttle, as
// ratelimit.Throttle's.
const minThrottleWait = time.Second

// Reserve implements Throttles.
func (r *Redis) Reserve(ctx context.Context, client, remoteAddr string, now time.Time) (Reservation, bool, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	pair, guess, _ := throttleKeys(client, remoteAddr)
	c := r.throttle
	res, err := reserveScript.Run(ctx, r.client, []string{pair, guess},
		now.UnixMicro(), c.Every.Microseconds(), c.Burst, c.AddrEvery.Microseconds(), c.AddrBurst).Int64Slice()
	if err != nil {
		return nil, false, 0, fmt.Errorf("redis: taking a failed-authentication throttle token: %w", err)
	}
	if res[0] != 1 {
		return nil, false, max(time.Duration(res[1])*time.Microsecond, minThrottleWait), nil
	}
	return &redisReservation{r: r, pair: pair, guess: guess, at: now}, true, 0, nil
}

type redisReservation struct {
	r           *Redis
	pair, guess string
	at          time.Time
}

func (res *redisReservation) Refund(ctx context.Context, forgive bool) error {
	r := res.r
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	f := 0
	if forgive {
		f = 1
	}
	err := refundScript.Run(ctx, r.client, []string{res.pair, res.guess},
		res.at.UnixMicro(), r.throttle.Every.Microseconds(), r.throttle.AddrEvery.Microseconds(), f).Err()
	if err != nil {
		return fmt.Errorf("redis: giving a failed-authentication throttle token back: %w", err)
	}
	return nil
}

// Failed implements Throttles: allowScript on the address's failures.
func (r *Redis) Failed(ctx context.Context, remoteAddr string, now time.Time) (bool, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	_, _, fail := throttleKeys("", remoteAddr)
	res, err := allowScript.Run(ctx, r.client, []string{fail},
		now.UnixMicro(), r.throttle.FailEvery.Microseconds(), r.throttle.FailBurst).Int64Slice()
	if err != nil {
		return false, 0, fmt.Errorf("redis: counting a failed authentication: %w", err)
	}
	if res[0] == 1 {
		return false, 0, nil
	}
	return true, max(time.Duration(res[1])*time.Microsecond, minThrottleWait), nil
}
