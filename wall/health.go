package wall

import (
	"context"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/backchannel/backchannel/event"
)

func (s *Server) routeHealth() {
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	if s.opts.Gatherer != nil {
		s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.opts.Gatherer, promhttp.HandlerOpts{
			ErrorLog: slogPrinter{s}, ErrorHandling: promhttp.ContinueOnError,
		}))
	}
}

// healthz answers 200 while the process can serve HTTP at all.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 only while the log store answers and can take
// appends (the embedded log reports a failed write or fsync, such as a
// full disk, until a write succeeds): a load balancer then sends no one
// to a node that cannot read or append. With ReadyWithoutStore (a fan-out
// node) a failing store answers 200 "degraded" instead.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.opts.Store == nil {
		WriteError(w, r, event.Errorf(event.EUNAVAILABLE, "no log store"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.PingTimeout)
	defer cancel()
	if err := s.opts.Store.Ping(ctx); err != nil {
		if s.opts.ReadyWithoutStore {
			s.opts.Logger.WarnContext(r.Context(), "degraded: the log store does not answer; serving the screens from the fold", "err", err)
			WriteJSON(w, http.StatusOK, map[string]string{"status": "degraded", "log": "unreachable: new decisions and posts wait until it is back"})
			return
		}
		s.opts.Logger.WarnContext(r.Context(), "not ready: the log store does not answer or cannot take appends", "err", err)
		WriteError(w, r, event.Errorf(event.EUNAVAILABLE, "the event log cannot be reached or cannot take appends"))
		return
	}
	WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// slogPrinter gives promhttp's error log to slog.
type slogPrinter struct{ s *Server }

func (p slogPrinter) Println(v ...any) { p.s.opts.Logger.Error("metrics", "err", v) }
