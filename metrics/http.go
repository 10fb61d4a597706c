package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// HTTP are the HTTP server's metrics, labelled by route (the ServeMux
// pattern that matched, never the raw path, so a scan of random URLs
// cannot blow up the number of series).
type HTTP struct {
	// Requests counts answered requests by route, method and status code.
	Requests *prometheus.CounterVec
	// Seconds is how long requests took, by route; websocket upgrades,
	// which last as long as the client stays, are left out.
	Seconds *prometheus.HistogramVec
	// BodyTimeouts counts request bodies cut off for not arriving within
	// the body timeout (a trickled body).
	BodyTimeouts prometheus.Counter
}

// NewHTTP defines the HTTP metrics and registers them on reg.
func NewHTTP(reg prometheus.Registerer) *HTTP {
	h := &HTTP{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "http", Name: "requests_total",
			Help: "HTTP requests answered, by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		Seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "http", Name: "request_seconds",
			Help:    "Time to answer an HTTP request, by route pattern (websockets excluded).",
			Buckets: latencyBuckets,
		}, []string{"route"}),
		BodyTimeouts: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "http", Name: "body_timeouts_total",
			Help: "Request bodies cut off for not arriving within the body timeout.",
		}),
	}
	reg.MustRegister(h.Requests, h.Seconds, h.BodyTimeouts)
	return h
}

// BodyTimedOut counts one body cut off by the body timeout. A nil *HTTP
// counts nothing.
func (h *HTTP) BodyTimedOut() {
	if h != nil {
		h.BodyTimeouts.Inc()
	}
}

// Observe records one answered request. route is the pattern that matched
// ("" when none did: counted as "unmatched").
func (h *HTTP) Observe(route, method string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
	default:
		method = "other" // methods are client-chosen strings: bound them
	}
	h.Requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	if status != http.StatusSwitchingProtocols {
		h.Seconds.WithLabelValues(route).Observe(d.Seconds())
	}
}
