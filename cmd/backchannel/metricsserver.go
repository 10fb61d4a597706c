package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/backchannel/backchannel/config"
)

// metricsServer serves /metrics alone on an address of its own
// (metrics_listen, --metrics-listen), so that it can be bound to loopback
// or an internal interface while the main listener faces the audience.
type metricsServer struct {
	ln  net.Listener
	srv *http.Server
}

// mainGatherer is what the main listener serves on /metrics: the registry,
// or nothing (a 404) when the metrics have a listener of their own.
func mainGatherer(cfg *config.Config, reg *prometheus.Registry) prometheus.Gatherer {
	if cfg.MetricsListen != "" {
		return nil
	}
	return reg
}

// listenMetrics listens on cfg.MetricsListen, or returns nil when it is
// not set.
func listenMetrics(cfg *config.Config, reg prometheus.Gatherer, logger *slog.Logger) (*metricsServer, error) {
	if cfg.MetricsListen == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", cfg.MetricsListen)
	if err != nil {
		return nil, fmt.Errorf("metrics listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(logger.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
	}))
	// Go's profiles, on this private listener only (never the main one):
	// what an operator or a benchmark needs to see where a node's CPU and
	// memory go (docs/OPERATIONS.md "Profiling a node").
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return &metricsServer{ln: ln, srv: &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}}, nil
}

// serve serves until close, reporting a failure to fail.
func (m *metricsServer) serve(logger *slog.Logger, fail func(error)) {
	go func() {
		if err := m.srv.Serve(m.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fail(fmt.Errorf("metrics http: %w", err))
		}
	}()
	logger.Info("metrics listening", "addr", m.ln.Addr().String())
}

// close stops the server, or the listener if it never served.
func (m *metricsServer) close(ctx context.Context, served bool) error {
	if !served {
		return m.ln.Close()
	}
	if err := m.srv.Shutdown(ctx); err != nil {
		_ = m.srv.Close()
		return fmt.Errorf("metrics http shutdown: %w", err)
	}
	return nil
}
