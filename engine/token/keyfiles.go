package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// GenerateKey makes a new private key for alg: P-256 for ES256, Ed25519 for
// EdDSA, RSA 3072 for RS256 and PS256. It sets kid (the RFC 7638
// thumbprint), alg, use=sig and the creation time.
func GenerateKey(alg string) (jwk.Key, error) {
	if _, ok := Algorithms[alg]; !ok {
		return nil, fmt.Errorf("unsupported signing algorithm %q: want ES256, EdDSA, RS256 or PS256", alg)
	}
	var raw any
	var err error
	switch alg {
	case "ES256":
		raw, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "EdDSA":
		_, raw, err = ed25519.GenerateKey(rand.Reader)
	default:
		raw, err = rsa.GenerateKey(rand.Reader, 3072)
	}
	if err != nil {
		return nil, err
	}
	key, err := jwk.FromRaw(raw)
	if err != nil {
		return nil, err
	}
	thumb, err := key.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, err
	}
	for name, value := range map[string]any{
		jwk.KeyIDKey:     base64.RawURLEncoding.EncodeToString(thumb),
		jwk.AlgorithmKey: Algorithms[alg],
		jwk.KeyUsageKey:  "sig",
		createdParam:     time.Now().Unix(),
	} {
		if err := key.Set(name, value); err != nil {
			return nil, err
		}
	}
	return key, nil
}

// WriteKeyFile writes key as DIR/<kid>.jwk.json, readable by its owner
// only. It never overwrites a file, and the file appears whole: it is
// written under a hidden name that no loader reads, then linked into
// place, so a server watching the folder never reads half a key.
func WriteKeyFile(dir string, key jwk.Key) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	body, err := json.MarshalIndent(key, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, key.KeyID()+".jwk.json")
	if _, err := os.Lstat(path); err == nil {
		return "", fmt.Errorf("keys: %s exists", path)
	}
	tmp, err := os.CreateTemp(dir, ".new-key-*.tmp")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(body, '\n')); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		return "", err
	}
	return path, nil
}

// LoadDir reads every *.json file of dir, each a private JWK or a JWK Set,
// and schedules the keys (see KeySet). The signer is the newest key of alg
// whose sign-from time has passed; an empty alg means the alg of the
// newest key. It refuses a folder in which no key of alg can sign at now.
func LoadDir(dir, alg string, now time.Time) (*KeySet, error) {
	files, err := readDir(dir)
	if err != nil {
		return nil, err
	}
	var keys []jwk.Key
	for _, f := range files {
		keys = append(keys, f.keys...)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("keys: no JWK files (*.json) in %s: make one with `tollgate keys rotate --keys %s`", dir, dir)
	}
	return newKeySet(keys, alg, now, dir)
}

// keyFile is one parsed file of a keys folder.
type keyFile struct {
	path string
	// set is true when the file holds a JWK Set rather than one JWK.
	set  bool
	keys []jwk.Key
}

// readDir parses every *.json file of dir. A key without a creation time
// gets its file's modification time.
func readDir(dir string) ([]keyFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	var files []keyFile
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("keys: %w", err)
		}
		set, err := jwk.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("keys: %s: %w", path, err)
		}
		var probe struct {
			Keys json.RawMessage `json:"keys"`
		}
		_ = json.Unmarshal(raw, &probe)
		f := keyFile{path: path, set: probe.Keys != nil}
		info, _ := e.Info()
		for i := 0; i < set.Len(); i++ {
			key, _ := set.Key(i)
			if _, ok := key.Get(createdParam); !ok && info != nil {
				_ = key.Set(createdParam, info.ModTime().Unix())
			}
			if key.KeyID() == "" {
				return nil, fmt.Errorf("keys: %s: a key has no kid", path)
			}
			f.keys = append(f.keys, key)
		}
		files = append(files, f)
	}
	return files, nil
}
