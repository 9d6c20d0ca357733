package secret

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// argon2Params is a decoded "$argon2id$v=19$m=...,t=...,p=...$salt$key" string.
type argon2Params struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

// Limits that keep a hostile or mistyped config from making one verification
// take minutes or gigabytes.
const (
	maxArgon2Memory = 1 << 20 // KiB, 1 GiB
	maxArgon2Time   = 16
)

func parseArgon2id(s string) (*argon2Params, error) {
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	if len(parts) != 6 || parts[1] != "argon2id" {
		return nil, errors.New(`argon2id hash must look like "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>"`)
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return nil, fmt.Errorf("argon2id hash: unsupported version %q (want v=%d)", parts[2], argon2.Version)
	}
	p := &argon2Params{}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.memory, &p.time, &p.threads); err != nil {
		return nil, fmt.Errorf("argon2id hash: bad parameters %q", parts[3])
	}
	if p.memory == 0 || p.time == 0 || p.threads == 0 || p.memory > maxArgon2Memory || p.time > maxArgon2Time {
		return nil, fmt.Errorf("argon2id hash: parameters %q out of range (m<=%d KiB, t<=%d)", parts[3], maxArgon2Memory, maxArgon2Time)
	}
	var err error
	if p.salt, err = base64.RawStdEncoding.Strict().DecodeString(parts[4]); err != nil || len(p.salt) < 8 {
		return nil, errors.New("argon2id hash: salt must be unpadded base64 of at least 8 bytes")
	}
	if p.key, err = base64.RawStdEncoding.Strict().DecodeString(parts[5]); err != nil || len(p.key) < 16 {
		return nil, errors.New("argon2id hash: key must be unpadded base64 of at least 16 bytes")
	}
	return p, nil
}

func verifyArgon2id(phc, presented string) bool {
	p, err := parseArgon2id(phc)
	if err != nil {
		return false
	}
	key := argon2.IDKey([]byte(presented), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(key, p.key) == 1
}

func checkBcrypt(s string) error {
	cost, err := bcrypt.Cost([]byte(s))
	if err != nil {
		return fmt.Errorf("bcrypt hash: %w", err)
	}
	if cost > 16 {
		return fmt.Errorf("bcrypt hash: cost %d is above 16", cost)
	}
	return nil
}

func verifyBcrypt(phc, presented string) bool {
	// bcrypt compares in constant time itself.
	return bcrypt.CompareHashAndPassword([]byte(phc), []byte(presented)) == nil
}
