package clientauth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/engine/model"
	"github.com/tollgate-dev/tollgate/engine/ratelimit"
	"github.com/tollgate-dev/tollgate/engine/state"
)

func testAuthenticator(t *testing.T, throttle ratelimit.ThrottleConfig, slots *ratelimit.Slots) *Authenticator {
	t.Helper()
	st, err := state.Open(state.Options{Throttle: throttle, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return NewAuthenticator(Options{State: st, KDFSlots: slots, Now: func() time.Time { return now }})
}

func basic(id, secret string) Attempt {
	return Attempt{Credentials: Credentials{ID: id, Secret: secret, Method: model.AuthClientSecretBasic}, RemoteAddr: "192.0.2.1:1234"}
}

// TestAuthenticatorAnswers: each way an attempt ends has its own error
// type, which says what the caller is answered, and a reason for the
// audit log; a right credential is a Principal.
func TestAuthenticatorAnswers(t *testing.T) {
	idx, _ := testIndex(t)
	for _, e := range idx.byID {
		if e.who.Client != nil {
			e.who.Client.AuthMethod = model.AuthClientSecretBasic
		}
	}
	a := testAuthenticator(t, ratelimit.ThrottleConfig{}, nil)
	ctx := context.Background()
	server := basic("api", "api-secret")
	introspecting := server
	introspecting.AllowServers = true
	tests := []struct {
		name       string
		at         Attempt
		wantID     string
		wantReason string
	}{
		{name: "right secret", at: basic("fast", "fast-secret"), wantID: "fast"},
		{name: "right argon2id secret", at: basic("person", "a person's passphrase"), wantID: "person"},
		{name: "server at introspection", at: introspecting, wantID: "api"},
		{name: "server elsewhere", at: server, wantReason: "a server authenticates only to introspection"},
		{name: "wrong secret", at: basic("fast", "guess"), wantReason: "wrong secret"},
		{name: "right secret, wrong method", at: Attempt{Credentials: Credentials{ID: "fast", Secret: "fast-secret", Method: model.AuthClientSecretPost}}, wantReason: "wrong auth method"},
		{name: "unknown id", at: basic("nobody", "guess"), wantReason: "unknown client id"},
		{name: "no credentials", at: Attempt{RemoteAddr: "192.0.2.1:1234"}, wantReason: errNoCredentials.Error()},
		{name: "id longer than any declared", at: basic(strings.Repeat("x", 100), "guess"), wantReason: "client_id of 100 bytes is longer"},
		{name: "unreadable assertion", at: Attempt{Credentials: Credentials{Assertion: "not a jwt", Method: model.AuthPrivateKeyJWT}}, wantReason: "assertion"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			who, err := a.Authenticate(ctx, idx, tt.at)
			if tt.wantID != "" {
				if err != nil || who.ID() != tt.wantID {
					t.Fatalf("Authenticate = %+v, %v; want %s", who, err, tt.wantID)
				}
				return
			}
			var failure *Failure
			if !errors.As(err, &failure) || !strings.Contains(failure.Reason.Error(), tt.wantReason) {
				t.Fatalf("Authenticate error %v (%T), want a *Failure saying %q", err, err, tt.wantReason)
			}
		})
	}
}

// TestAuthenticatorThrottlesGuessesBeforeTheirDerivation: past the pair's
// burst, a guess at a person-chosen secret is *Throttled before any key
// derivation, with a retry-after; with every slot busy it is *Busy.
func TestAuthenticatorThrottlesGuessesBeforeTheirDerivation(t *testing.T) {
	idx, _ := testIndex(t)
	ctx := context.Background()
	a := testAuthenticator(t, ratelimit.ThrottleConfig{Burst: 2, Every: time.Minute}, nil)
	for range 2 {
		if _, err := a.Authenticate(ctx, idx, basic("person", "guess")); !errors.As(err, new(*Failure)) {
			t.Fatalf("a guess within the burst: %v, want a *Failure", err)
		}
	}
	derived := idx.derivations.Load()
	_, err := a.Authenticate(ctx, idx, basic("person", "guess"))
	var throttled *Throttled
	if !errors.As(err, &throttled) || throttled.RetryAfter <= 0 || !errors.Is(err, errGuessesThrottled) {
		t.Fatalf("a guess past the burst: %v (%T), want *Throttled with a retry-after", err, err)
	}
	if idx.derivations.Load() != derived {
		t.Error("a throttled guess ran its key derivation")
	}

	slots := ratelimit.NewSlots(1, 0, time.Millisecond)
	busy := testAuthenticator(t, ratelimit.ThrottleConfig{}, slots)
	if !slots.Acquire() {
		t.Fatal("the one slot is taken")
	}
	defer slots.Release()
	if _, err := busy.Authenticate(ctx, idx, basic("person", "guess")); !errors.As(err, new(*Busy)) {
		t.Fatalf("a guess with every slot busy: %v (%T), want *Busy", err, err)
	}
}

// BenchmarkAuthenticator is BenchmarkAuthenticate's right credentials
// through the Authenticator, as a request authenticates: the method and
// the declaration's checks around the Index.
func BenchmarkAuthenticator(b *testing.B) {
	idx, _ := testIndex(b)
	for _, e := range idx.byID {
		if e.who.Client != nil {
			e.who.Client.AuthMethod = model.AuthClientSecretBasic
		}
	}
	st, err := state.Open(state.Options{})
	if err != nil {
		b.Fatal(err)
	}
	a := NewAuthenticator(Options{State: st})
	ctx := context.Background()
	for _, bc := range []struct{ name, id, secret string }{
		{"sha256", "fast", "fast-secret"},
		{"argon2id-cached", "person", "a person's passphrase"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			at := basic(bc.id, bc.secret)
			if _, err := a.Authenticate(ctx, idx, at); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				_, _ = a.Authenticate(ctx, idx, at)
			}
		})
	}
}
