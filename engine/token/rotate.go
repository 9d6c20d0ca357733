package token

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// JWKSMaxAge is how long a resource server may cache the JWKS
// (Cache-Control: max-age), unless serve is told otherwise.
const JWKSMaxAge = 5 * time.Minute

// DefaultPublishAhead is how long a rotated-in key is published before it
// signs. It is far longer than JWKSMaxAge because many resource servers
// cache longer than max-age says: jwx's jwk.Cache refreshes at most every
// 15 minutes and checks in 15-minute windows, whatever the header.
const DefaultPublishAhead = time.Hour

// DefaultRetireAfter is how long a rotated-out key stays published after
// its successor starts to sign: the default max_token_ttl (24h), so its
// last token expires before it goes, plus an hour for clock skew between
// replicas and resource servers.
const DefaultRetireAfter = 25 * time.Hour

// RotateOptions configure Rotate.
type RotateOptions struct {
	// Alg of the new key; empty means the alg of the folder's newest key,
	// or ES256 in an empty folder.
	Alg string
	// PublishAhead is how long the new key is published before it signs;
	// it must exceed how long resource servers cache the JWKS.
	PublishAhead time.Duration
	// RetireAfter is how long the keys it replaces stay published once
	// the new key signs; at least max_token_ttl.
	RetireAfter time.Duration
	// Now is the clock; zero means time.Now().
	Now time.Time
}

// Retiring is a key that Rotate scheduled to leave the JWKS.
type Retiring struct {
	KeyID    string
	RetireAt time.Time
}

// Rotation says what Rotate did.
type Rotation struct {
	KeyID     string
	Alg       string
	Path      string
	SignsFrom time.Time
	// Retiring are the keys of the same alg now scheduled to retire.
	Retiring []Retiring
	// Removed are the files whose every key had retired.
	Removed []string
}

// Rotate adds the next signing key to dir so that it is published at once
// and signs only after PublishAhead, schedules every unscheduled key of
// the same alg to retire RetireAfter after that, and deletes the files
// whose keys have all retired. Everything is written into the key files
// (nbf, exp), so every replica serving the folder acts on the same
// schedule. In a folder with no published key the new key signs at once:
// nobody caches a JWKS that could miss it.
//
// The new key is written before any old key is scheduled to retire, so a
// failure half-way leaves an old key published longer, never a folder
// without a signer.
func Rotate(dir string, opts RotateOptions) (*Rotation, error) {
	if opts.PublishAhead < 0 || opts.RetireAfter < 0 {
		return nil, errors.New("keys rotate: --publish-ahead and --retire-after may not be negative")
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	files, err := readDir(dir)
	if err != nil {
		return nil, fmt.Errorf("%w (fix or remove the file before rotating)", err)
	}
	var newest *signingKey
	live := false
	type fileKeys struct {
		file     keyFile
		prepared []*signingKey
	}
	var all []fileKeys
	for _, f := range files {
		fk := fileKeys{file: f}
		for _, key := range f.keys {
			sk, err := prepare(key)
			if err != nil {
				return nil, err
			}
			if newest == nil || sk.newer(newest) {
				newest = sk
			}
			if !sk.retiredAt(now) {
				live = true
			}
			fk.prepared = append(fk.prepared, sk)
		}
		all = append(all, fk)
	}
	alg := opts.Alg
	if alg == "" {
		alg = "ES256"
		if newest != nil {
			alg = newest.alg
		}
	}
	key, err := GenerateKey(alg)
	if err != nil {
		return nil, err
	}
	// Key times are whole seconds: the start to sign is rounded up, so
	// the key is never published for less than PublishAhead.
	signsFrom := now.Truncate(time.Second)
	if live {
		signsFrom = now.Add(opts.PublishAhead + time.Second - 1).Truncate(time.Second)
	}
	_ = key.Set(createdParam, now.Unix())
	_ = key.Set(signFromParam, signsFrom.Unix())
	path, err := WriteKeyFile(dir, key)
	if err != nil {
		return nil, err
	}
	r := &Rotation{KeyID: key.KeyID(), Alg: alg, Path: path, SignsFrom: signsFrom}

	retireAt := signsFrom.Add(opts.RetireAfter)
	for _, fk := range all {
		changed, retired := false, true
		for i, sk := range fk.prepared {
			if sk.alg == alg && sk.retireAt.IsZero() {
				_ = fk.file.keys[i].Set(retireParam, retireAt.Unix())
				r.Retiring = append(r.Retiring, Retiring{KeyID: sk.kid, RetireAt: retireAt})
				changed = true
			}
			if !sk.retiredAt(now) {
				retired = false
			}
		}
		switch {
		case retired:
			if err := os.Remove(fk.file.path); err != nil {
				return r, err
			}
			r.Removed = append(r.Removed, fk.file.path)
		case changed:
			if err := rewriteKeyFile(fk.file); err != nil {
				return r, err
			}
		}
	}
	return r, nil
}

// rewriteKeyFile replaces f with its (changed) keys: written next to it
// under a name no loader reads, then renamed over it, so a server never
// reads half a file.
func rewriteKeyFile(f keyFile) error {
	var v any = f.keys[0]
	if f.set {
		set := jwk.NewSet()
		for _, k := range f.keys {
			if err := set.AddKey(k); err != nil {
				return err
			}
		}
		v = set
	}
	body, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(f.path), "."+filepath.Base(f.path)+".tmp")
	_ = os.Remove(tmp)
	if err := os.WriteFile(tmp, append(body, '\n'), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, f.path); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return nil
}
