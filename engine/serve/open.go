package serve

import (
	"fmt"
	"io"
	"os"

	"github.com/tollgate-dev/tollgate/engine/audit"
	"github.com/tollgate-dev/tollgate/engine/state"
)

// openAudit opens the audit log, buffered so that concurrent requests
// share write system calls. Serve closes it (writing its last lines)
// before the file.
func (s *Server) openAudit(stderr io.Writer) (*audit.Logger, error) {
	if s.cfg.AuditLog == "" {
		l := audit.NewBuffered(stderr)
		s.closers = append(s.closers, l)
		return l, nil
	}
	f, err := os.OpenFile(s.cfg.AuditLog, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening audit log: %w", err)
	}
	l := audit.NewBuffered(f)
	s.closers = append(s.closers, l, f)
	return l, nil
}

// openState opens what must outlive a request: with --state redis://, the
// store the fleet shares; under --data-dir, read back from the files
// there; else in memory, which the log says.
func (s *Server) openState() (state.Store, error) {
	if sharedState(s.cfg.State) {
		return s.openSharedState()
	}
	st, err := state.Open(state.Options{Dir: s.cfg.DataDir})
	if err != nil {
		return nil, fmt.Errorf("opening --data-dir: %w", err)
	}
	s.closers = append(s.closers, st)
	if !st.Durable() {
		s.log.Warn("no --data-dir given: revocations and used client assertion ids are kept in memory only and do not survive a restart")
		return st, nil
	}
	loaded := st.Loaded()
	s.log.Info("revocations and used client assertion ids are kept in --data-dir", "data_dir", s.cfg.DataDir,
		"revocations", loaded.Revocations, "assertions", loaded.Assertions)
	if loaded.Skipped > 0 {
		s.log.Warn("unreadable lines in --data-dir skipped (a torn last line after a crash is expected)", "data_dir", s.cfg.DataDir, "lines", loaded.Skipped)
	}
	return st, nil
}
