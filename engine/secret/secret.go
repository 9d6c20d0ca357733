// Package secret parses and verifies stored client secret hashes:
// "sha256:<hex>" for generated secrets of at least 256 bits, argon2id PHC
// strings and bcrypt hashes for secrets chosen by a person. Every comparison
// is constant time.
package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Kind names a hash scheme.
type Kind int

// The supported schemes.
const (
	SHA256 Kind = iota + 1
	Argon2id
	Bcrypt
)

func (k Kind) String() string {
	switch k {
	case SHA256:
		return "sha256"
	case Argon2id:
		return "argon2id"
	case Bcrypt:
		return "bcrypt"
	}
	return "unknown"
}

// ErrPlainSecret is returned for a value that is not a recognised hash: in
// HCL that means somebody pasted the secret itself.
var ErrPlainSecret = errors.New(`not a secret hash: store "sha256:<hex>" (run "tollgate secret" to make a secret and its hash), "$argon2id$..." or a bcrypt "$2b$..." hash, never the secret itself`)

// Hash is a parsed stored secret hash, ready to verify presented secrets.
type Hash struct {
	kind Kind
	sum  [sha256.Size]byte // SHA256 only
	phc  string            // Argon2id and Bcrypt
}

// Kind reports the hash scheme.
func (h *Hash) Kind() Kind { return h.kind }

// Slow reports whether verifying costs a key derivation (argon2id, bcrypt).
func (h *Hash) Slow() bool { return h.kind != SHA256 }

// Parse parses a stored hash.
func Parse(s string) (*Hash, error) {
	switch {
	case strings.HasPrefix(s, "sha256:"):
		hexSum := strings.TrimPrefix(s, "sha256:")
		if len(hexSum) != 2*sha256.Size {
			return nil, fmt.Errorf("sha256 hash must be 64 hex digits, got %d characters", len(hexSum))
		}
		h := &Hash{kind: SHA256}
		if _, err := hex.Decode(h.sum[:], []byte(hexSum)); err != nil {
			return nil, fmt.Errorf("sha256 hash is not hex: %w", err)
		}
		return h, nil
	case strings.HasPrefix(s, "$argon2id$"):
		if _, err := parseArgon2id(s); err != nil {
			return nil, err
		}
		return &Hash{kind: Argon2id, phc: s}, nil
	case strings.HasPrefix(s, "$2a$"), strings.HasPrefix(s, "$2b$"), strings.HasPrefix(s, "$2y$"):
		if err := checkBcrypt(s); err != nil {
			return nil, err
		}
		return &Hash{kind: Bcrypt, phc: s}, nil
	}
	return nil, ErrPlainSecret
}

// Verify reports whether presented matches the hash, in constant time with
// respect to the stored value.
func (h *Hash) Verify(presented string) bool {
	switch h.kind {
	case SHA256:
		sum := sha256.Sum256([]byte(presented))
		return subtle.ConstantTimeCompare(sum[:], h.sum[:]) == 1
	case Argon2id:
		return verifyArgon2id(h.phc, presented)
	case Bcrypt:
		return verifyBcrypt(h.phc, presented)
	}
	return false
}

// SHA256Hash returns the stored form of a generated secret.
func SHA256Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// String returns the stored form of the hash.
func (h *Hash) String() string {
	if h.kind == SHA256 {
		return "sha256:" + hex.EncodeToString(h.sum[:])
	}
	return h.phc
}

// Generate returns a new random secret of 256 bits, base64url encoded, and
// its stored form.
func Generate() (plain, stored string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", err
	}
	plain = base64.RawURLEncoding.EncodeToString(b[:])
	return plain, SHA256Hash(plain), nil
}

// Argon2idHash hashes a secret chosen by a person with argon2id, using the
// OWASP-recommended parameters (m=19 MiB, t=2, p=1).
func Argon2idHash(plain string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	const memory, time, threads, keyLen = 19456, 2, 1, 32
	key := argon2.IDKey([]byte(plain), salt, time, memory, threads, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, memory, time, threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// BcryptHash hashes a secret chosen by a person with bcrypt at cost 12.
func BcryptHash(plain string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(plain), 12)
	return string(h), err
}

// Fingerprint names a stored hash in logs and warnings: the first 8 hex
// digits of the SHA-256 of its stored form. It tells an operator which of
// a client's secrets was used without giving an offline attack anything
// the configuration does not already hold (a hash of a hash, cut short).
// Compute it with: printf %s 'STORED' | sha256sum | cut -c1-8
func Fingerprint(stored string) string {
	sum := sha256.Sum256([]byte(stored))
	return hex.EncodeToString(sum[:4])
}

// Cost names what verifying against h costs: the scheme and its
// parameters. Two hashes of the same Cost take the same time to check.
func (h *Hash) Cost() string {
	switch h.kind {
	case Argon2id:
		p, _ := parseArgon2id(h.phc)
		return fmt.Sprintf("argon2id m=%d,t=%d,p=%d,k=%d", p.memory, p.time, p.threads, len(p.key))
	case Bcrypt:
		cost, _ := bcrypt.Cost([]byte(h.phc))
		return fmt.Sprintf("bcrypt %d", cost)
	}
	return h.kind.String()
}

// Decoy returns a hash of the same scheme and parameters as h whose
// secret nobody knows: verifying against it costs what verifying against
// h does, and never succeeds. It stands in for the hash of an id that has
// none, so that an unknown id cannot be told from a wrong secret by time.
func (h *Hash) Decoy() *Hash {
	switch h.kind {
	case Argon2id:
		p, _ := parseArgon2id(h.phc)
		salt, key := make([]byte, len(p.salt)), make([]byte, len(p.key))
		_, _ = rand.Read(salt)
		_, _ = rand.Read(key)
		return &Hash{kind: Argon2id, phc: fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.memory, p.time, p.threads,
			base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))}
	case Bcrypt:
		// A random salt and digest in bcrypt's own alphabet, at the same
		// cost: generating a real hash would pay the cost at every load.
		const alphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
		var b [53]byte
		_, _ = rand.Read(b[:])
		for i := range b {
			b[i] = alphabet[int(b[i])%len(alphabet)]
		}
		// The salt's last character carries 2 bits that decode to
		// nothing; keep them zero, as bcrypt writes them.
		b[21] = alphabet[(strings.IndexByte(alphabet, b[21])>>4)<<4]
		return &Hash{kind: Bcrypt, phc: h.phc[:7] + string(b[:])}
	}
	d := &Hash{kind: SHA256}
	_, _ = rand.Read(d.sum[:])
	return d
}
