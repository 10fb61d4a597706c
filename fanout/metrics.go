package fanout

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the hub's Prometheus collectors. Several hubs (one per event)
// share one set per Registerer, told apart by the "event" label.
type metrics struct {
	connections *prometheus.GaugeVec
	messages    *prometheus.CounterVec
	frames      *prometheus.CounterVec
	compressed  *prometheus.CounterVec
	slow        *prometheus.CounterVec
	bad         *prometheus.CounterVec
	snapshots   *prometheus.CounterVec
	resumes     *prometheus.CounterVec
	rebalanced  *prometheus.CounterVec
	delay       *prometheus.HistogramVec
	// pollerWakeups counts the public poller's returns from epoll_wait
	// with sockets to read (poller_linux.go).
	pollerWakeups *prometheus.CounterVec
}

// badReasons are the values of bad_client_total's "reason" label, each
// exported at 0 from the start so increase() sees its first one.
var badReasons = []string{"origin", "bad_message", "unknown_message", "flood", "oversize"}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		connections: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "backchannel", Subsystem: "fanout", Name: "connections",
			Help: "Open websocket connections.",
		}, []string{"event", "audience"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "backchannel", Subsystem: "fanout", Name: "messages_sent_total",
			Help: "Messages written to websocket clients (several may share one frame).",
		}, []string{"event", "audience"}),
		frames: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "backchannel", Subsystem: "fanout", Name: "frames_sent_total",
			Help: "Websocket data frames written to clients.",
		}, []string{"event", "audience"}),
		compressed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "backchannel", Subsystem: "fanout", Name: "compressed_frames_total",
			Help: "Websocket data frames written compressed (permessage-deflate), of frames_sent_total.",
		}, []string{"event", "audience"}),
		slow: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "backchannel", Subsystem: "fanout", Name: "slow_cutoffs_total",
			Help: "Clients cut off because their send queue was full.",
		}, []string{"event", "audience"}),
		bad: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "backchannel", Subsystem: "fanout", Name: "bad_client_total",
			Help: "Clients refused or closed for misbehaving, by reason (origin, bad_message, unknown_message, flood, oversize).",
		}, []string{"event", "audience", "reason"}),
		snapshots: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "backchannel", Subsystem: "fanout", Name: "snapshots_total",
			Help: "Connections started with a snapshot (no, stale or foreign position).",
		}, []string{"event", "audience"}),
		resumes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "backchannel", Subsystem: "fanout", Name: "resumes_total",
			Help: "Connections resumed from a position without a snapshot.",
		}, []string{"event", "audience"}),
		rebalanced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "backchannel", Subsystem: "fanout", Name: "rebalanced_total",
			Help: "Connections closed with 4002 (rebalance) at their maximum age, so that they reconnect through the load balancer and spread over the nodes.",
		}, []string{"event", "audience"}),
		delay: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "backchannel", Subsystem: "fanout", Name: "delivery_delay_seconds",
			Help:    "From an event's append time to the write of the frame carrying it (oldest event of the frame).",
			Buckets: []float64{.005, .01, .025, .05, .1, .15, .2, .3, .5, 1, 2.5, 5, 10},
		}, []string{"event", "audience"}),
		pollerWakeups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "backchannel", Subsystem: "fanout", Name: "poller_wakeups_total",
			Help: "Times the public sockets' poller woke with sockets to read (Linux; elsewhere each public socket has a reader goroutine and this stays 0).",
		}, []string{"event"}),
	}
	if reg == nil {
		return m
	}
	m.connections = register(reg, m.connections)
	m.messages = register(reg, m.messages)
	m.frames = register(reg, m.frames)
	m.compressed = register(reg, m.compressed)
	m.slow = register(reg, m.slow)
	m.bad = register(reg, m.bad)
	m.snapshots = register(reg, m.snapshots)
	m.resumes = register(reg, m.resumes)
	m.rebalanced = register(reg, m.rebalanced)
	m.delay = register(reg, m.delay)
	m.pollerWakeups = register(reg, m.pollerWakeups)
	return m
}

// register registers c, or returns the collector already registered under
// its name (a second hub on the same registry).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err) // a programming error: two different collectors under one name
	}
	return c
}

// audMetrics are one audience's collectors with labels resolved once, so
// the write path does no label lookups.
type audMetrics struct {
	connections prometheus.Gauge
	messages    prometheus.Counter
	frames      prometheus.Counter
	compressed  prometheus.Counter
	slow        prometheus.Counter
	snapshots   prometheus.Counter
	resumes     prometheus.Counter
	rebalanced  prometheus.Counter
	delay       prometheus.Observer
	bad         *prometheus.CounterVec
	event, aud  string
}

func (m *metrics) forAudience(eventSlug string, a Audience) audMetrics {
	l := prometheus.Labels{"event": eventSlug, "audience": a.String()}
	for _, r := range badReasons {
		m.bad.WithLabelValues(eventSlug, a.String(), r)
	}
	return audMetrics{
		connections: m.connections.With(l),
		messages:    m.messages.With(l),
		frames:      m.frames.With(l),
		compressed:  m.compressed.With(l),
		slow:        m.slow.With(l),
		snapshots:   m.snapshots.With(l),
		resumes:     m.resumes.With(l),
		rebalanced:  m.rebalanced.With(l),
		delay:       m.delay.With(l),
		bad:         m.bad,
		event:       eventSlug,
		aud:         a.String(),
	}
}

func (am *audMetrics) badClient(reason string) {
	am.bad.WithLabelValues(am.event, am.aud, reason).Inc()
}
