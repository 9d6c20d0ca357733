package secret_test

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/tollgate-dev/tollgate/engine/secret"
)

func TestHashesVerifyTheirSecretOnly(t *testing.T) {
	argon, err := secret.Argon2idHash("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	bcryptHash, err := secret.BcryptHash("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		stored string
		kind   secret.Kind
	}{
		{"sha256", secret.SHA256Hash("correct horse"), secret.SHA256},
		{"argon2id", argon, secret.Argon2id},
		{"bcrypt", bcryptHash, secret.Bcrypt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := secret.Parse(tt.stored)
			if err != nil {
				t.Fatal(err)
			}
			if h.Kind() != tt.kind {
				t.Errorf("kind = %v, want %v", h.Kind(), tt.kind)
			}
			if h.String() != tt.stored {
				t.Errorf("String() = %q, want the stored form %q", h.String(), tt.stored)
			}
			if !h.Verify("correct horse") {
				t.Error("the right secret did not verify")
			}
			for _, wrong := range []string{"", "correct horse ", "Correct horse", "correct hors"} {
				if h.Verify(wrong) {
					t.Errorf("wrong secret %q verified", wrong)
				}
			}
		})
	}
}

func TestParseRejectsWhatIsNotAHash(t *testing.T) {
	tests := []struct {
		name, stored, wantErr string
	}{
		{"plain secret", "hunter2-my-secret", "not a secret hash"},
		{"empty", "", "not a secret hash"},
		{"short sha256", "sha256:abcd", "64 hex digits"},
		{"non-hex sha256", "sha256:" + strings.Repeat("zz", 32), "not hex"},
		{"argon2i not id", "$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw", "not a secret hash"},
		{"argon2id bad version", "$argon2id$v=16$m=19456,t=2,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw", "unsupported version"},
		{"argon2id huge memory", "$argon2id$v=19$m=99999999,t=2,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw", "out of range"},
		{"argon2id missing key", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ", "must look like"},
		{"bcrypt garbage", "$2b$10$tooshort", "bcrypt hash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := secret.Parse(tt.stored)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Parse(%q) error = %v, want one containing %q", tt.stored, err, tt.wantErr)
			}
		})
	}
	if _, err := secret.Parse("plain"); !errors.Is(err, secret.ErrPlainSecret) {
		t.Errorf("a plain secret should be ErrPlainSecret, got %v", err)
	}
}

func TestGenerateMakesDistinct256BitSecrets(t *testing.T) {
	a, storedA, err := secret.Generate()
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := secret.Generate()
	if a == b || len(a) != 43 {
		t.Fatalf("Generate() = %q, %q: want two distinct 43-character secrets", a, b)
	}
	h, err := secret.Parse(storedA)
	if err != nil || !h.Verify(a) {
		t.Fatalf("stored form %q does not verify its secret (err %v)", storedA, err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("sha256:" + strings.Repeat("ab", 32))
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw")
	f.Add("$2b$10$abcdefghijklmnopqrstuu")
	f.Fuzz(func(t *testing.T, stored string) {
		h, err := secret.Parse(stored)
		if err == nil && h.Kind() == secret.SHA256 {
			h.Verify(stored)
		}
	})
}

func BenchmarkVerifySHA256(b *testing.B) {
	h, _ := secret.Parse(secret.SHA256Hash("a-generated-secret-of-43-characters-xxxxxxx"))
	for b.Loop() {
		h.Verify("a-generated-secret-of-43-characters-xxxxxxx")
	}
}

// TestDecoyCostsWhatTheHashCosts: a decoy has the scheme and parameters
// of its hash, is well formed (its check runs the whole derivation rather
// than failing to parse), and verifies nothing.
func TestDecoyCostsWhatTheHashCosts(t *testing.T) {
	argon, err := secret.Argon2idHash("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	bcryptHash, err := bcrypt.GenerateFromPassword([]byte("correct horse"), 4)
	if err != nil {
		t.Fatal(err)
	}
	for _, stored := range []string{secret.SHA256Hash("correct horse"), argon, string(bcryptHash)} {
		h, err := secret.Parse(stored)
		if err != nil {
			t.Fatal(err)
		}
		d := h.Decoy()
		if d.Cost() != h.Cost() || d.String() == h.String() {
			t.Errorf("decoy of %s costs %s, %q", h.Cost(), d.Cost(), d.String())
		}
		if _, err := secret.Parse(d.String()); err != nil {
			t.Errorf("decoy %q does not parse: %v", d.String(), err)
		}
		if h.Kind() == secret.Bcrypt {
			if err := bcrypt.CompareHashAndPassword([]byte(d.String()), []byte("x")); !errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
				t.Errorf("bcrypt decoy: %v, want a mismatch after the derivation", err)
			}
		}
		if d.Verify("correct horse") || d.Verify("") {
			t.Error("a decoy verified a secret")
		}
	}
}

func TestFingerprintIsShortAndStable(t *testing.T) {
	stored := secret.SHA256Hash("x")
	if fp := secret.Fingerprint(stored); len(fp) != 8 || fp != secret.Fingerprint(stored) || strings.Contains(stored, fp) {
		t.Errorf("fingerprint %q of %q", fp, stored)
	}
}
