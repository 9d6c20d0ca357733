package state_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/engine/model"
	"github.com/tollgate-dev/tollgate/engine/redistest"
	"github.com/tollgate-dev/tollgate/engine/state"
)

// BenchmarkUse is the cost of spending one assertion's jti, in memory and
// under a data dir (a write and an fsync, shared by concurrent calls),
// from one goroutine and from many.
func BenchmarkUse(b *testing.B) {
	for _, where := range []string{"memory", "data-dir"} {
		for _, parallel := range []bool{false, true} {
			name := where + "/serial"
			if parallel {
				name = where + "/parallel"
			}
			b.Run(name, func(b *testing.B) {
				opts := state.Options{MaxAssertionsPerClient: 1 << 30}
				if where == "data-dir" {
					opts.Dir = b.TempDir()
				}
				l, err := state.Open(opts)
				if err != nil {
					b.Fatal(err)
				}
				defer l.Close()
				until := time.Now().Add(time.Minute)
				var n atomic.Int64
				use := func() {
					i := n.Add(1)
					if err := l.Use(ctx, fmt.Sprint("client-", i%64), fmt.Sprint(i), until); err != nil {
						b.Fatal(err)
					}
				}
				if !parallel {
					for b.Loop() {
						use()
					}
					return
				}
				b.SetParallelism(16)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						use()
					}
				})
			})
		}
	}
}

// BenchmarkRevoked is the revocation look-up of every introspection.
func BenchmarkRevoked(b *testing.B) {
	l, err := state.Open(state.Options{})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	for i := range 10_000 {
		_ = l.Revoke(ctx, tok(fmt.Sprint("client-", i%100), fmt.Sprint(i), now, time.Hour))
	}
	t := tok("client-7", "not-revoked", now, time.Hour)
	for b.Loop() {
		if ok, _ := l.Revoked(ctx, t); ok {
			b.Fatal("revoked")
		}
	}
}

// BenchmarkRedis is the cost of each state operation on a real
// redis-server on loopback: the round trip and the script, from one
// goroutine (latency) and from many (throughput, the pool shared).
func BenchmarkRedis(b *testing.B) {
	srv := redistest.Shared(b)
	st, err := state.OpenRedis(state.RedisOptions{URL: srv.URL(), MaxAssertionsPerClient: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	for i := range 1000 {
		_ = st.Revoke(ctx, tok(fmt.Sprint("client-", i%100), fmt.Sprint(i), now, time.Hour))
	}
	var n atomic.Int64
	ops := map[string]func() error{
		"Use": func() error {
			i := n.Add(1)
			return st.Use(ctx, fmt.Sprint("client-", i%64), fmt.Sprint(i), now.Add(time.Minute))
		},
		"Revoked": func() error {
			_, err := st.Revoked(ctx, tok("client-7", "not-revoked", now, time.Hour))
			return err
		},
		"Allow": func() error {
			i := n.Add(1)
			_, _, err := st.Allow(ctx, fmt.Sprint("client-", i%64), model.Rate{Count: 1 << 30, Per: time.Second}, time.Now())
			return err
		},
	}
	for _, name := range []string{"Use", "Revoked", "Allow"} {
		op := ops[name]
		b.Run(name+"/serial", func(b *testing.B) {
			for b.Loop() {
				if err := op(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/parallel", func(b *testing.B) {
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := op(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
