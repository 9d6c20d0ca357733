package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/tollgate-dev/tollgate/engine/httpapi"
)

// listenMetrics binds --metrics-addr, when it is set. The metrics
// listener speaks plain HTTP: it is meant for an address only the
// scraper reaches (localhost, a pod network), not for clients.
func (s *Server) listenMetrics() error {
	if s.cfg.MetricsAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.MetricsAddr)
	if err != nil {
		return fmt.Errorf("listen for metrics on %s: %w", s.cfg.MetricsAddr, err)
	}
	s.metricsListener = ln
	return nil
}

// MetricsURL is where the metrics listener serves /metrics, or "" when
// there is none.
func (s *Server) MetricsURL() string {
	if s.metricsListener == nil {
		return ""
	}
	return "http://" + s.metricsListener.Addr().String() + "/metrics"
}

// serveMetrics serves the metrics listener, if any, until the returned
// stop is called.
func (s *Server) serveMetrics() (stop func(context.Context)) {
	if s.metricsListener == nil {
		return func(context.Context) {}
	}
	srv := &http.Server{
		Handler:           httpapi.NewMetricsServer(s.metrics.Handler()),
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(s.metricsListener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("the metrics listener stopped", "error", err.Error())
		}
	}()
	return func(ctx context.Context) {
		_ = srv.Shutdown(ctx)
		<-done
	}
}
