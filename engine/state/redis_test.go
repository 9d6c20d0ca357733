package state_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/engine/model"
	"github.com/tollgate-dev/tollgate/engine/redistest"
	"github.com/tollgate-dev/tollgate/engine/state"
)

// TestRedisKeysExpireWithWhatTheyHold: every key the state writes expires
// once nothing in it is live (the cut-off aside), so Redis does not grow
// with clients that come and go; a used assertion is kept as a hash of its
// jti, never the jti.
func TestRedisKeysExpireWithWhatTheyHold(t *testing.T) {
	srv := redistest.Shared(t)
	clk := newClock()
	st := openRedis(t, srv.URL(), clk, bounds{revocations: 1})
	const jti = "the-jti-itself"
	if err := st.Use(ctx, "c", jti, clk.now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := st.Revoke(ctx, tok("c", "r", clk.now(), time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Allow(ctx, "c", model.Rate{Count: 10, Per: time.Minute}, clk.now()); err != nil {
		t.Fatal(err)
	}
	rdb := srv.Client(t)
	want := map[string]time.Duration{
		"tollgate:{c}:jtis":         time.Minute + time.Second,
		"tollgate:{c}:revoked":      time.Hour + time.Second,
		"tollgate:{c}:rate:10/1m0s": 6 * time.Second,
	}
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != len(want) {
		t.Errorf("keys %q, want %d", keys, len(want))
	}
	for key, most := range want {
		ttl, err := rdb.PTTL(ctx, key).Result()
		if err != nil || ttl <= 0 || ttl > most {
			t.Errorf("%s: TTL %s (%v), want in (0, %s]", key, ttl, err, most)
		}
	}
	members, _ := rdb.ZRange(ctx, "tollgate:{c}:jtis", 0, -1).Result()
	if len(members) != 1 || strings.Contains(members[0], jti) {
		t.Errorf("used assertions kept as %q, want one hash", members)
	}
	// Past the bound the cut-off replaces the ids, and is kept.
	if err := st.Revoke(ctx, tok("c", "r2", clk.now(), time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n, _ := rdb.Exists(ctx, "tollgate:{c}:revoked").Result(); n != 0 {
		t.Error("the revoked ids outlived the cut-off that covers them")
	}
	if ttl, _ := rdb.PTTL(ctx, "tollgate:{c}:before").Result(); ttl != -1 {
		t.Errorf("the cut-off has TTL %s, want none", ttl)
	}
}

// TestRedisThrottleKeysAreBoundedAndExpire: the throttle keeps neither
// the client id nor the address as sent, only hashes of bounded length,
// and each key expires when its bucket is full again; a forgiven pair
// and a bucket refunded to full leave nothing.
func TestRedisThrottleKeysAreBoundedAndExpire(t *testing.T) {
	srv := redistest.Shared(t)
	clk := newClock()
	st := openRedis(t, srv.URL(), clk, bounds{})
	id := strings.Repeat("caller-chosen-id-", 8)
	const addr = "203.0.113.77"
	r, ok, _, err := st.Reserve(ctx, id, addr, clk.now())
	if err != nil || !ok {
		t.Fatalf("Reserve: %v %v", ok, err)
	}
	if _, _, err := st.Failed(ctx, addr, clk.now()); err != nil {
		t.Fatal(err)
	}
	rdb := srv.Client(t)
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 3 {
		t.Errorf("keys %q, want the pair's, the address's guesses and its failures", keys)
	}
	// A bucket holds burst tokens earning one back every interval: its
	// key lives one interval after a token is taken.
	most := map[string]time.Duration{":pair:": 2 * time.Second, ":guess": 200 * time.Millisecond, ":fail": 200 * time.Millisecond}
	for _, key := range keys {
		if strings.Contains(key, "caller-chosen") || strings.Contains(key, addr) || len(key) > 96 {
			t.Errorf("key %q keeps what the caller sent, or is long", key)
		}
		for part, d := range most {
			if strings.Contains(key, part) {
				if ttl, err := rdb.PTTL(ctx, key).Result(); err != nil || ttl <= 0 || ttl > d {
					t.Errorf("%s: TTL %s (%v), want in (0, %s]", key, ttl, err, d)
				}
			}
		}
	}
	if err := r.Refund(ctx, true); err != nil {
		t.Fatal(err)
	}
	if keys, _ := rdb.Keys(ctx, "*").Result(); len(keys) != 1 || !strings.HasSuffix(keys[0], ":fail") {
		t.Errorf("after the holder's refund, keys %q, want only the failures'", keys)
	}
}

// TestRedisUnreachableFailsFast: with no Redis at the address, every call
// fails within about its timeout: a request waits no longer than that to
// be refused.
func TestRedisUnreachableFailsFast(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	url := srv.URL()
	srv.Stop()
	clk := newClock()
	const timeout = 100 * time.Millisecond
	st, err := state.OpenRedis(state.RedisOptions{URL: url, Now: clk.now, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	calls := map[string]func() error{
		"Ping":    func() error { return st.Ping(ctx) },
		"Revoke":  func() error { return st.Revoke(ctx, tok("c", "j", clk.now(), time.Hour)) },
		"Revoked": func() error { _, err := st.Revoked(ctx, tok("c", "j", clk.now(), time.Hour)); return err },
		"Seen":    func() error { _, err := st.Seen(ctx, "c", "j"); return err },
		"Use":     func() error { return st.Use(ctx, "c", "j", clk.now().Add(time.Minute)) },
		"Allow": func() error {
			_, _, err := st.Allow(ctx, "c", model.Rate{Count: 1, Per: time.Second}, clk.now())
			return err
		},
		"Reserve": func() error { _, _, _, err := st.Reserve(ctx, "c", "203.0.113.7", clk.now()); return err },
		"Failed":  func() error { _, _, err := st.Failed(ctx, "203.0.113.7", clk.now()); return err },
	}
	for name, call := range calls {
		start := time.Now()
		err := call()
		if took := time.Since(start); err == nil || took > 5*timeout {
			t.Errorf("%s with Redis away: %v after %s, want an error within about %s", name, err, took, timeout)
		}
	}
	// A caller's own deadline is kept too.
	short, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	if _, err := st.Revoked(short, tok("c", "j", clk.now(), time.Hour)); err == nil {
		t.Error("Revoked past the caller's deadline succeeded")
	}
}

// TestRedisURLs: what --state accepts, and what it says of a bad value
// (never the password).
func TestRedisURLs(t *testing.T) {
	tests := []struct {
		url, where, err string
	}{
		{url: "redis://127.0.0.1:6379", where: "redis://127.0.0.1:6379/0"},
		{url: "rediss://user:hunter2@redis.internal:6380/2?dial_timeout=1s", where: "rediss://redis.internal:6380/2"},
		{url: "redis://:hunter2@s1:26379?master_name=tollgate&addr=s2:26379", where: "redis://s1:26379,s2:26379 (Sentinel, primary tollgate)"},
		{url: "redis://n1:6379?addr=n2:6379&addr=n3:6379", where: "redis://n1:6379,n2:6379,n3:6379 (Cluster)"},
		{url: "redis://n1:6379?cluster=true", where: "redis://n1:6379 (Cluster)"},
		{url: "http://127.0.0.1:6379", err: "want memory, or redis://"},
		{url: "redis://:hunter2@h:1?no_such_option=1", err: "unexpected option"},
		{url: "redis:///no-host", err: "want memory, or redis://"},
		{url: "redis://h:1?timeout=500ms", where: "redis://h:1/0"},
		{url: "redis://h:1?timeout=soon", err: "not a positive duration"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			st, err := state.OpenRedis(state.RedisOptions{URL: tt.url})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("the error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if got := st.String(); got != tt.where {
				t.Errorf("String() = %q, want %q", got, tt.where)
			}
		})
	}
}

// TestRedisThroughSentinel: with master_name, the URL names a Sentinel
// (a real one, redis-server --sentinel), which says where the primary is;
// the state lives there.
func TestRedisThroughSentinel(t *testing.T) {
	primary := redistest.Start(t, redistest.Options{})
	sentinel := redistest.Start(t, redistest.Options{SentinelOf: primary.Addr()})
	clk := newClock()
	st := openRedis(t, "redis://"+sentinel.Addr()+"?master_name="+redistest.SentinelMaster, clk, bounds{})
	if err := st.Use(ctx, "c", "j", clk.now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := st.Use(ctx, "c", "j", clk.now().Add(time.Minute)); !errors.Is(err, state.ErrReplayed) {
		t.Errorf("a replay through the Sentinel: %v, want ErrReplayed", err)
	}
	if n, err := primary.Client(t).Exists(ctx, "tollgate:{c}:jtis").Result(); err != nil || n != 1 {
		t.Errorf("the primary holds %d keys of the client (%v), want 1", n, err)
	}
}
