package serve

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/engine/authz"
	"github.com/tollgate-dev/tollgate/engine/bundle"
	"github.com/tollgate-dev/tollgate/engine/model"
	"github.com/tollgate-dev/tollgate/engine/reload"
)

// sources says what a (re)load reads: the bundle file, read anew each
// time, the last bundle fetched from a URL, or the folders. The revision
// is the bundle's, as logs show it (marked unverified unless it is the
// content hash), empty for folders. With --verification-key, a bundle
// whose signature does not verify is an error like any other.
func (s *Server) sources() (reload.Sources, error) {
	if s.cfg.Bundle == "" {
		return reload.Sources{ConfigDir: s.cfg.ConfigDir, PoliciesDir: s.cfg.PoliciesDir}, nil
	}
	var b *bundle.Bundle
	var err error
	if s.remote != nil {
		if b, err = bundle.ParseVerified(s.remote.current(), s.verifier); err != nil {
			err = fmt.Errorf("from %s: %w", s.remote, err)
		}
	} else {
		b, err = bundle.ReadVerified(s.cfg.Bundle, s.verifier)
	}
	if err != nil {
		return reload.Sources{}, err
	}
	if b.Signed && !b.SignatureVerified {
		s.log.Warn("the bundle is signed, but without --verification-key its signature is not checked", "bundle", s.bundleName())
	}
	return reload.Sources{ConfigFiles: b.Files.Config, PolicyFiles: b.Files.Policies, Data: b.Files.Data, Revision: b.RevisionLabel()}, nil
}

func sizes(snap *authz.Snapshot) map[string]int {
	if snap == nil {
		return nil
	}
	c := snap.Store.Counts()
	return map[string]int{"clients": c.Clients, "servers": c.Servers, "accounts": c.Accounts, "groups": c.Groups}
}

// Reload builds a whole new snapshot from the sources and swaps it in
// (reload.Reloader.Reload). On any error the running snapshot stays, the
// problems are logged, and the failure is counted; nothing is
// half-applied.
func (s *Server) Reload(ctx context.Context) error {
	start := time.Now()
	snap, revision, err := s.reloader.Reload(ctx)
	s.metrics.Reloaded(err == nil, time.Since(start), sizes(snap))
	if err != nil {
		s.log.Error("reload failed; still serving the last good configuration", "error", err.Error())
		return err
	}
	c := snap.Store.Counts()
	attrs := []any{"clients", c.Clients, "servers", c.Servers, "accounts", c.Accounts, "groups", c.Groups, "took", time.Since(start).Round(time.Millisecond)}
	if s.cfg.Bundle != "" {
		attrs = append(attrs, "bundle", s.bundleName(), "revision", revision)
	}
	s.log.Info("configuration reloaded", attrs...)
	s.warnUnreachableClients(snap)
	s.logWarnings(snap)
	return nil
}

// acceptReload is the last step of a reload before next replaces
// current: a changed signing_alg needs keys of that algorithm, swapped in
// first; a changed max_token_ttl may make keys retire too early.
func (s *Server) acceptReload(next, current *authz.Snapshot) error {
	if next.Settings.SigningAlg != current.Settings.SigningAlg {
		if s.cfg.KeysDir == "" {
			return errors.New("signing_alg changed: restart to sign with a new ephemeral key")
		}
		keys, err := s.loadKeys(next.Settings)
		if err != nil {
			return err
		}
		s.svc.SwapKeys(keys)
	} else if next.Settings.MaxTokenTTL != current.Settings.MaxTokenTTL {
		s.warnEarlyRetirement(s.svc.Keys(), next.Settings)
	}
	return nil
}

// warnUnreachableClients names the tls_client_auth clients of snap when
// the server verifies no client certificate: they could never
// authenticate. The configuration is valid on its own (check cannot know
// how it will be served), so this is a warning.
func (s *Server) warnUnreachableClients(snap *authz.Snapshot) {
	if s.mutualTLS() {
		return
	}
	var ids []string
	for _, c := range snap.Config.Clients {
		if c.AuthMethod == model.AuthTLSClientAuth {
			ids = append(ids, c.ID)
		}
	}
	if len(ids) > 0 {
		s.log.Warn("these clients use tls_client_auth, but the server verifies no client certificates (serve with --tls-cert, --tls-key and --client-ca): they cannot authenticate",
			"clients", strings.Join(ids, ","))
	}
}

// logWarnings logs each warning of the configuration's load, one line
// each, with where it is declared: at every load, a credential that
// expired or expires soon is named again until it is rotated.
func (s *Server) logWarnings(snap *authz.Snapshot) {
	for _, d := range snap.Warnings {
		attrs := []any{"detail", d.Detail}
		if d.Subject != nil {
			attrs = append([]any{"at", fmt.Sprintf("%s:%d:%d", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)}, attrs...)
		}
		s.log.Warn(d.Summary, attrs...)
	}
}
