package serve

import (
	"fmt"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/engine/model"
	"github.com/tollgate-dev/tollgate/engine/token"
)

// loadKeys reads --keys for the settings' signing_alg, or makes an
// ephemeral key without it, and logs what signs and what is published.
func (s *Server) loadKeys(settings model.Settings) (*token.KeySet, error) {
	alg := settings.SigningAlg
	if s.cfg.KeysDir == "" {
		s.log.Warn("no --keys given: signing with an ephemeral key; tokens stop verifying when the process restarts", "alg", alg)
		return token.Ephemeral(alg)
	}
	now := time.Now()
	keys, err := token.LoadDir(s.cfg.KeysDir, alg, now)
	if err != nil {
		return nil, fmt.Errorf("loading keys: %w", err)
	}
	attrs := []any{"dir", s.cfg.KeysDir, "alg", alg, "signing", keys.SigningKeyID(now), "published", strings.Join(keys.Published(now), ",")}
	at, next := keys.NextChange(now)
	if !at.IsZero() {
		attrs = append(attrs, "next_change", at.UTC().Format(time.RFC3339), "signing_then", next)
	}
	s.log.Info("signing keys loaded", attrs...)
	if !at.IsZero() && next == "" {
		s.log.Warn("no key can sign once the next key retires: run `tollgate keys rotate` before then", "at", at.UTC().Format(time.RFC3339))
	}
	s.warnEarlyRetirement(keys, settings)
	return keys, nil
}

// warnEarlyRetirement names the keys that leave the JWKS before tokens
// of max_token_ttl they signed expire: those tokens would stop verifying.
func (s *Server) warnEarlyRetirement(keys *token.KeySet, settings model.Settings) {
	if early := keys.RetiredEarly(settings.MaxTokenTTL); len(early) > 0 {
		s.log.Warn("these keys retire before the last tokens they sign expire: rotate with a --retire-after of at least max_token_ttl",
			"keys", strings.Join(early, ","), "max_token_ttl", settings.MaxTokenTTL)
	}
}

// ReloadKeys re-reads --keys and swaps the new key set in. A folder that
// does not load, or in which no key can sign, keeps the last good keys:
// logged, and counted as a failed reload.
func (s *Server) ReloadKeys() error {
	if s.cfg.KeysDir == "" {
		return nil
	}
	// A reload may swap keys too (a new signing_alg): the two never
	// interleave.
	var err error
	s.reloader.Hold(func() {
		start := time.Now()
		var keys *token.KeySet
		keys, err = s.loadKeys(s.svc.Snapshot().Settings)
		s.metrics.Reloaded(err == nil, time.Since(start), nil)
		if err != nil {
			s.log.Error("keys reload failed; still signing with the last good keys", "error", err.Error())
			return
		}
		s.svc.SwapKeys(keys)
	})
	return err
}
