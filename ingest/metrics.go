package ingest

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Error kinds, the kind label of backchannel_source_errors_total.
const (
	ErrorKindFetch = "fetch" // the source reported a failed attempt (Health.Failed)
	ErrorKindExit  = "exit"  // Run returned an error, or returned before it was stopped
	ErrorKindPanic = "panic" // Run panicked
	ErrorKindLease = "lease" // the store could not be asked for the source's lease
)

// metrics are the sources' Prometheus series. One set serves every event
// and source of a runner; the event and source labels tell them apart.
type metrics struct {
	appended    *prometheus.CounterVec
	duplicates  *prometheus.CounterVec
	errors      *prometheus.CounterVec
	rateLimited *prometheus.CounterVec
	up          *prometheus.GaugeVec
	remaining   *prometheus.GaugeVec
	lag         *prometheus.GaugeVec
	lastSuccess *prometheus.GaugeVec
	leader      *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	src := []string{"event", "source"}
	m := &metrics{
		appended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "backchannel_source_posts_appended_total",
			Help: "Events a source appended to its event's log, by kind (post.received, post.edited, post.deleted); duplicates not counted.",
		}, []string{"event", "source", "kind"}),
		duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "backchannel_source_duplicates_total",
			Help: "Posts, edits and deletes a source found that the log already had.",
		}, src),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "backchannel_source_errors_total",
			Help: "Failures of a source, by kind: fetch (a failed attempt), exit (Run returned), panic, lease (the store was unreachable).",
		}, []string{"event", "source", "kind"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "backchannel_source_rate_limited_total",
			Help: "Times a source's server asked it to wait (429, 503 with Retry-After, an exhausted rate limit).",
		}, src),
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "backchannel_source_up",
			Help: "1 when the source is not failing (running, rate limited, waiting for its window, or standing by), 0 when it is backing off or stopped.",
		}, src),
		remaining: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "backchannel_source_rate_limit_remaining",
			Help: "The server's X-RateLimit-Remaining as the source last saw it; -1 when unknown.",
		}, src),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "backchannel_source_lag_seconds",
			Help: "How long ago the newest post the source appended was published, when it was appended.",
		}, src),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "backchannel_source_last_success_timestamp_seconds",
			Help: "Unix time of the source's last successful request.",
		}, src),
		leader: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "backchannel_source_leader",
			Help: "1 when this process holds the source's lease and runs it.",
		}, src),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	m.appended = register(reg, m.appended, &err)
	m.duplicates = register(reg, m.duplicates, &err)
	m.errors = register(reg, m.errors, &err)
	m.rateLimited = register(reg, m.rateLimited, &err)
	m.up = register(reg, m.up, &err)
	m.remaining = register(reg, m.remaining, &err)
	m.lag = register(reg, m.lag, &err)
	m.lastSuccess = register(reg, m.lastSuccess, &err)
	m.leader = register(reg, m.leader, &err)
	return m, err
}

// register registers c, or returns the collector already registered under
// its name (two runners in one process, such as tests, share the series).
func register[C prometheus.Collector](reg prometheus.Registerer, c C, errp *error) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		if *errp == nil {
			*errp = err
		}
	}
	return c
}
