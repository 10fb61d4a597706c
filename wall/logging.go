package wall

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/metrics"
)

// recorder remembers the status and size of a response for the log. It
// passes Hijack and Flush through, so websocket and streaming handlers
// mounted on the server work behind it.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := r.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("wall: response cannot be hijacked")
	}
	if r.status == 0 {
		r.status = http.StatusSwitchingProtocols
	}
	return h.Hijack()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// quiet paths are polled by machines; logged at debug so they do not bury
// the requests people make.
var quiet = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// logRequests logs each request once it is answered, and turns a panic
// in a handler into a logged 500 instead of a dropped connection.
// When m is not nil it also counts and times the request by route.
func logRequests(log *slog.Logger, m *metrics.HTTP, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.ErrorContext(r.Context(), "handler panic", slog.String("path", r.URL.Path), slog.Any("panic", p))
				if rec.status == 0 {
					WriteError(rec, r, fmt.Errorf("panic: %v", p))
				}
			}
			d := time.Since(start)
			if rec.status == 0 { // the handler wrote nothing: net/http sends 200
				rec.status = http.StatusOK
			}
			if m != nil {
				m.Observe(r.Pattern, r.Method, rec.status, d)
			}
			level := slog.LevelInfo
			// A websocket upgrade is one line per wall, 10,000 for 10,000
			// walls: the hub logs a summary of them at info instead.
			if (quiet[r.URL.Path] && rec.status < 500) || rec.status == http.StatusSwitchingProtocols {
				level = slog.LevelDebug
			}
			log.LogAttrs(r.Context(), level, "http request",
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.String("route", r.Pattern),
				slog.Int("status", rec.status),
				slog.Int64("bytes", rec.bytes),
				slog.Duration("duration", d),
				slog.String("remote", r.RemoteAddr),
			)
		}()
		next.ServeHTTP(rec, r)
	})
}

// errNotFound is the JSON 404 of unknown API paths.
var errNotFound = event.Errorf(event.ENOTFOUND, "no such endpoint")
