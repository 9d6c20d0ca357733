package token

import (
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// BenchmarkSignerAt is what choosing the key by time adds to Mint: one
// key, and a rotation in progress (the old key, the signer, the next).
func BenchmarkSignerAt(b *testing.B) {
	now := time.Now()
	for _, n := range []int{1, 3} {
		var keys []jwk.Key
		for i := range n {
			key, err := GenerateKey("EdDSA")
			if err != nil {
				b.Fatal(err)
			}
			_ = key.Set(signFromParam, now.Add(time.Duration(i-1)*time.Hour).Unix())
			if i == 0 && n > 1 {
				_ = key.Set(retireParam, now.Add(time.Hour).Unix())
			}
			keys = append(keys, key)
		}
		ks, err := newKeySet(keys, "EdDSA", now, "")
		if err != nil {
			b.Fatal(err)
		}
		b.Run(map[int]string{1: "one key", 3: "rotating"}[n], func(b *testing.B) {
			for b.Loop() {
				if ks.signerAt(now) == nil {
					b.Fatal("no signer")
				}
			}
		})
	}
}
