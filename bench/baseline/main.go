// Command baseline is the yardstick of `make bench`: the least a token
// endpoint can do. It checks an HTTP Basic SHA-256 secret in constant time
// and signs an ES256 JWT with jwx, nothing else: no policy, no store, no
// audit, no metrics. tollgate's figures are reported as a ratio to it.
package main

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
)

// The one client the baseline knows.
const (
	ClientID = "bench-client"
	Secret   = "bench-client-secret-0123456789abcdef0123456789abcdef"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Parse()

	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	key, err := jwk.FromRaw(priv)
	if err != nil {
		log.Fatal(err)
	}
	_ = key.Set(jwk.KeyIDKey, "baseline")
	want := sha256.Sum256([]byte(Secret))

	http.HandleFunc("POST /oauth2/token", func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		got := sha256.Sum256([]byte(secret))
		if !ok || id != ClientID || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		now := time.Now()
		tok, err := jwt.NewBuilder().
			Issuer("http://baseline").Subject(id).Audience([]string{"https://api.example"}).
			IssuedAt(now).Expiration(now.Add(time.Hour)).JwtID(strconv.FormatInt(now.UnixNano(), 36)).
			Claim("client_id", id).Claim("scope", "read").Build()
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		signed, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256, key))
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"access_token": string(signed), "token_type": "Bearer", "expires_in": 3600, "scope": "read",
		})
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "listening on http://%s\n", ln.Addr())
	log.Fatal(http.Serve(ln, nil))
}
