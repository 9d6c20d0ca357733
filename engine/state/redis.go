package state

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"

	"github.com/tollgate-dev/tollgate/engine/ratelimit"
)

// DefaultRedisTimeout bounds each call to Redis: a request that needs the
// state waits this long at most before it is refused, so an unreachable
// Redis costs a client a quick 503, not a hung connection.
const DefaultRedisTimeout = 250 * time.Millisecond

// RedisOptions configure a Redis.
type RedisOptions struct {
	// URL is redis://[user:password@]host:port[/db] or rediss:// (TLS),
	// with go-redis's query parameters (dial_timeout, pool_size, ...).
	// With master_name=NAME the host (and each addr=HOST:PORT) is a
	// Sentinel; with cluster=true, or addr= without master_name, they are
	// the seeds of a Redis Cluster. timeout=DURATION sets Timeout.
	URL string
	// MaxRevocationsPerClient and MaxAssertionsPerClient default to the
	// package's constants, with the same meaning as for Local.
	MaxRevocationsPerClient int
	MaxAssertionsPerClient  int
	// Timeout bounds each call; default DefaultRedisTimeout, unless the
	// URL says otherwise.
	Timeout time.Duration
	// Throttle configures the failed-authentication throttle, as for
	// Local; every replica must be given the same.
	Throttle ratelimit.ThrottleConfig
	// Now is the clock of revocations and used assertions; tests set it.
	// Every replica's clock is used as it is: they must agree to within
	// a fraction of a second (NTP), as they must for the tokens' exp.
	Now func() time.Time
}

// Redis is the state of a fleet, on a Redis (6 or later) or Valkey server
// that every replica shares: a token revoked at one is revoked at all, an
// assertion used at one is refused by all, and a client's rate limit is
// one bucket for the fleet, as are the failed-authentication throttles.
// Every change is one Lua script, atomic in
// Redis, never a read then a write. Each client's keys share a hash tag,
// so that a script's keys are in one slot of a Redis Cluster.
//
// Keys, for client C (members are jtis, or hashes of them, never a token
// or an assertion):
//
//	tollgate:{C}:revoked     sorted set: revoked jti -> exp (Unix s)
//	tollgate:{C}:before      the cut-off: tokens issued at or before it are revoked
//	tollgate:{C}:jtis        sorted set: hash of a used assertion jti -> last second it counts
//	tollgate:{C}:rate:N/P    the rate limit's theoretical arrival time (GCRA, Unix µs)
//
// and, for an address A (of ratelimit.AddressKey) and a client id I, by
// hashes of them, since either may be chosen by the caller, each a
// theoretical arrival time as for the rate limit:
//
//	tollgate:throttle:{h(A)}:pair:h(I,A)  guesses at I's secret from A
//	tollgate:throttle:{h(A)}:guess        guesses at any id's secret from A
//	tollgate:throttle:{h(A)}:fail         failed authentications from A
//
// Each key expires when nothing in it is live any more, except the
// cut-off, which is kept like Local's: one number per client that ever
// overflowed its bound.
type Redis struct {
	client         redis.UniversalClient
	where          string
	maxRevocations int
	maxAssertions  int
	timeout        time.Duration
	throttle       ratelimit.ThrottleConfig
	now            func() time.Time
}

// OpenRedis returns the state on the Redis server of opts.URL. It does not
// connect: Redis may be away at start, and Ping says whether it answers.
func OpenRedis(opts RedisOptions) (*Redis, error) {
	if u, err := url.Parse(opts.URL); err == nil && u.Query().Has("timeout") {
		d, err := time.ParseDuration(u.Query().Get("timeout"))
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("--state %s: timeout=%q is not a positive duration", redactURL(opts.URL), u.Query().Get("timeout"))
		}
		opts.Timeout = d
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultRedisTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxRevocationsPerClient <= 0 {
		opts.MaxRevocationsPerClient = MaxRevocationsPerClient
	}
	if opts.MaxAssertionsPerClient <= 0 {
		opts.MaxAssertionsPerClient = MaxAssertionsPerClient
	}
	// go-redis would log a line for every failed dial, one per request
	// while Redis is away; each failure reaches the caller as an error
	// instead, which the server counts and logs at a bounded rate.
	logging.Disable()
	client, where, err := redisClient(opts.URL, opts.Timeout)
	if err != nil {
		return nil, err
	}
	return &Redis{
		client:         client,
		where:          where,
		maxRevocations: opts.MaxRevocationsPerClient,
		maxAssertions:  opts.MaxAssertionsPerClient,
		timeout:        opts.Timeout,
		throttle:       opts.Throttle.WithDefaults(),
		now:            opts.Now,
	}, nil
}

// redisClient makes the client a URL names: a server, a Sentinel-watched
// primary or a Cluster. Timeouts the URL does not set are short (the
// caller waits at most timeout for any call anyway), a dial is tried
// once, and one retry covers a connection that Redis closed. where names the servers, without
// credentials, for the log.
func redisClient(raw string, timeout time.Duration) (client redis.UniversalClient, where string, err error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
		return nil, "", fmt.Errorf("--state %q: want memory, or redis://HOST:PORT or rediss://HOST:PORT", redactURL(raw))
	}
	q := u.Query()
	cluster := q.Get("cluster") == "true" || (q.Has("addr") && !q.Has("master_name"))
	q.Del("cluster")
	q.Del("timeout")
	for name, value := range map[string]string{
		"dial_timeout":      timeout.String(),
		"read_timeout":      timeout.String(),
		"write_timeout":     timeout.String(),
		"pool_timeout":      timeout.String(),
		"max_retries":       "1",
		"min_retry_backoff": "5ms",
		"max_retry_backoff": "50ms",
	} {
		if !q.Has(name) {
			q.Set(name, value)
		}
	}
	u.RawQuery = q.Encode()
	hosts := strings.Join(append([]string{u.Host}, q["addr"]...), ",")
	switch {
	case q.Has("master_name"):
		opt, err := redis.ParseFailoverURL(u.String())
		if err != nil {
			return nil, "", fmt.Errorf("--state %s: %w", redactURL(raw), err)
		}
		opt.ContextTimeoutEnabled = true
		if !q.Has("dialer_retries") {
			opt.DialerRetries = 1
		}
		return redis.NewFailoverClient(opt), fmt.Sprintf("%s://%s (Sentinel, primary %s)", u.Scheme, hosts, opt.MasterName), nil
	case cluster:
		opt, err := redis.ParseClusterURL(u.String())
		if err != nil {
			return nil, "", fmt.Errorf("--state %s: %w", redactURL(raw), err)
		}
		opt.ContextTimeoutEnabled = true
		if !q.Has("dialer_retries") {
			opt.DialerRetries = 1
		}
		return redis.NewClusterClient(opt), fmt.Sprintf("%s://%s (Cluster)", u.Scheme, hosts), nil
	default:
		opt, err := redis.ParseURL(u.String())
		if err != nil {
			return nil, "", fmt.Errorf("--state %s: %w", redactURL(raw), err)
		}
		opt.ContextTimeoutEnabled = true
		if !q.Has("dialer_retries") {
			opt.DialerRetries = 1
		}
		return redis.NewClient(opt), fmt.Sprintf("%s://%s/%d", u.Scheme, opt.Addr, opt.DB), nil
	}
}

// redactURL drops the password of a URL, for messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// String names the Redis servers, without credentials.
func (r *Redis) String() string { return r.where }

// Ping reports whether Redis answers, within the call timeout.
func (r *Redis) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	return r.client.Ping(ctx).Err()
}

// Close closes the connections.
func (r *Redis) Close() error { return r.client.Close() }

func (r *Redis) key(client, kind string) string { return "tollgate:{" + client + "}:" + kind }

// revokeScript adds a jti to its client's revocations, or, past the bound
// once the expired ones are gone, moves the client's cut-off to now and
// forgets the ids it covers: the same rule as Local's.
// KEYS: revoked, before. ARGV: jti, iat, exp, now (Unix s), bound.
var revokeScript = redis.NewScript(`
local before = tonumber(redis.call('GET', KEYS[2]) or '0')
local iat, exp, now, bound = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
if iat <= before or redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return 0
end
if redis.call('ZCARD', KEYS[1]) >= bound then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[4])
end
if redis.call('ZCARD', KEYS[1]) < bound then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  local ttl = (exp - now + 1) * 1000
  if redis.call('PTTL', KEYS[1]) < ttl then
    redis.call('PEXPIRE', KEYS[1], string.format('%d', ttl))
  end
  return 1
end
redis.call('SET', KEYS[2], string.format('%d', math.max(before, now, iat)))
redis.call('DEL', KEYS[1])
return 2
`)

// revokedScript looks a token up: under the cut-off, or by its id.
// KEYS: revoked, before. ARGV: jti, iat (Unix s).
var revokedScript = redis.NewScript(`
local before = tonumber(redis.call('GET', KEYS[2]) or '0')
if tonumber(ARGV[2]) <= before or redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return 1
end
return 0
`)

// Revoke implements Revocations.
func (r *Redis) Revoke(ctx context.Context, t Token) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	err := revokeScript.Run(ctx, r.client, []string{r.key(t.Client, "revoked"), r.key(t.Client, "before")},
		t.ID, t.IssuedAt.Unix(), t.ExpiresAt.Unix(), r.now().Unix(), r.maxRevocations).Err()
	if err != nil {
		return fmt.Errorf("redis: storing a revocation: %w", err)
	}
	return nil
}

// Revoked implements Revocations.
func (r *Redis) Revoked(ctx context.Context, t Token) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	n, err := revokedScript.Run(ctx, r.client, []string{r.key(t.Client, "revoked"), r.key(t.Client, "before")},
		t.ID, t.IssuedAt.Unix()).Int()
	if err != nil {
		return false, fmt.Errorf("redis: looking up revocations: %w", err)
	}
	return n == 1, nil
}

// useScript records a used jti once: refused when it is there already, or
// when the client has its quota of unexpired ones (then it returns the
// earliest last second among them). Expired ones go first.
// KEYS: jtis. ARGV: member, last, now (Unix s), quota.
var useScript = redis.NewScript(`
local last, now, quota = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return {1, 0}
end
if redis.call('ZCARD', KEYS[1]) >= quota then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {2, tonumber(oldest[2])}
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
local ttl = (last - now + 1) * 1000
if redis.call('PTTL', KEYS[1]) < ttl then
  redis.call('PEXPIRE', KEYS[1], string.format('%d', ttl))
end
return {0, 0}
`)

// Seen implements Replay.
func (r *Redis) Seen(ctx context.Context, client, jti string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	key := keyOf(jti)
	last, err := r.client.ZScore(ctx, r.key(client, "jtis"), hex.EncodeToString(key[:])).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("redis: looking up a used assertion: %w", err)
	}
	return int64(last) >= r.now().Unix(), nil
}

// Use implements Replay.
func (r *Redis) Use(ctx context.Context, client, jti string, until time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	key := keyOf(jti)
	// Kept through the whole second until falls in, as by Local.
	last := until.Unix()
	if until.Nanosecond() > 0 {
		last++
	}
	now := r.now()
	res, err := useScript.Run(ctx, r.client, []string{r.key(client, "jtis")},
		hex.EncodeToString(key[:]), last, now.Unix(), r.maxAssertions).Int64Slice()
	if err != nil {
		return fmt.Errorf("redis: recording a used assertion: %w", err)
	}
	switch res[0] {
	case 1:
		return ErrReplayed
	case 2:
		return &QuotaError{Client: client, Max: r.maxAssertions, RetryAfter: time.Unix(res[1]+1, 0).Sub(now)}
	}
	return nil
}
