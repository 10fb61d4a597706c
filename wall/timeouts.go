package wall

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/backchannel/backchannel/metrics"
)

// DefaultBodyTimeout bounds reading a request's body when Options say nothing.
const DefaultBodyTimeout = 15 * time.Second

// BodyTimeoutError is what reading a request body returns once the body
// timeout has passed: the client sent too slowly (a trickle, one byte
// every few seconds, would otherwise hold the connection for as long as
// it likes). It wraps os.ErrDeadlineExceeded.
type BodyTimeoutError struct {
	Timeout time.Duration
}

func (e *BodyTimeoutError) Error() string {
	return fmt.Sprintf("the request body did not arrive within %s", e.Timeout)
}

// Unwrap makes errors.Is(err, os.ErrDeadlineExceeded) hold.
func (e *BodyTimeoutError) Unwrap() error { return os.ErrDeadlineExceeded }

// bodyDeadline gives every request with a body timeout to send it, from
// when its headers were read (http.Server's ReadHeaderTimeout bounds
// those): past it, reading the body fails with a *BodyTimeoutError, the
// handler answers, and the server closes the connection. Once the body
// has been read to its end, net/http lifts the deadline itself (before it
// reads ahead to see the client leave), so a handler that works long
// after (an export, a wait) is not cut short. Websocket
// upgrades are let through untouched: fanout sets their deadlines (a wall
// stays connected for hours), and http.Server has no ReadTimeout, which
// would apply to them too.
func bodyDeadline(timeout time.Duration, m *metrics.HTTP, log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || isUpgrade(r) {
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		if err := rc.SetReadDeadline(time.Now().Add(timeout)); err != nil {
			// Not a net/http connection (a test's recorder): nothing to bound.
			next.ServeHTTP(w, r)
			return
		}
		b := &deadlineBody{ReadCloser: r.Body, timeout: timeout}
		r.Body = b
		next.ServeHTTP(w, r)
		if b.timedOut.Load() {
			m.BodyTimedOut()
			log.DebugContext(r.Context(), "request body timed out",
				slog.String("path", r.URL.Path), slog.String("remote", r.RemoteAddr), slog.Duration("timeout", timeout))
		}
	})
}

// isUpgrade reports whether r asks to switch protocols (a websocket).
func isUpgrade(r *http.Request) bool {
	return r.Header.Get("Upgrade") != "" && headerHasToken(r.Header, "Connection", "upgrade")
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// deadlineBody is a request body read under a deadline: it names a
// timeout as such, for the handler's answer and the metric.
type deadlineBody struct {
	io.ReadCloser
	timeout  time.Duration
	timedOut atomic.Bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		b.timedOut.Store(true)
		err = &BodyTimeoutError{Timeout: b.timeout}
	}
	return n, err
}
