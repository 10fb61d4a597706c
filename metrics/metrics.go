// Package metrics defines backchannel's own Prometheus metrics in one
// place: the log's (recorded by an eventlog.Store wrapper), the HTTP
// server's, and those read from the folds at scrape time (the moderation
// queue, each fold's position, the store's readiness). Other packages
// (ingest sources, fan-out) register theirs on the same
// prometheus.Registerer, which /metrics serves.
package metrics

import (
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
)

// Namespace prefixes every backchannel metric.
const Namespace = "backchannel"

// Results of an append, the values of the "result" label.
const (
	ResultAppended  = "appended"
	ResultDuplicate = "duplicate"
	ResultError     = "error"
)

// Metrics are the log metrics of one process.
type Metrics struct {
	// Appends counts appends by event slug, event kind and result.
	Appends *prometheus.CounterVec
	// AppendSeconds is how long Append took, errors included.
	AppendSeconds prometheus.Histogram
	// TailDelay is the time from an event's Time (when it was appended)
	// to its delivery to a tail in this process.
	TailDelay prometheus.Histogram
	// LogLength is the last position of each event's log known here.
	LogLength *prometheus.GaugeVec
	// BuildInfo is 1, labelled with the version and the Go version.
	BuildInfo *prometheus.GaugeVec
}

// latencyBuckets run from 50µs to about 3.3s: a durable append on a good
// disk or loopback Redis lands in the first few, a stalled disk at the top.
var latencyBuckets = prometheus.ExponentialBuckets(0.00005, 2, 17)

// New defines the metrics, registers them on reg and sets build info.
// It panics if they are already registered on reg (a wiring bug).
func New(reg prometheus.Registerer, version string) *Metrics {
	m := &Metrics{
		Appends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "log", Name: "appends_total",
			Help: "Appends to event logs, by event slug, event kind and result (appended, duplicate, error).",
		}, []string{"event", "kind", "result"}),
		AppendSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "log", Name: "append_seconds",
			Help:    "Time taken by an append to an event log, until it is durable.",
			Buckets: latencyBuckets,
		}),
		TailDelay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "log", Name: "tail_delay_seconds",
			Help:    "Time from an event's append to its delivery to a tail in this process (events appended while the tail runs).",
			Buckets: latencyBuckets,
		}),
		LogLength: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Subsystem: "log", Name: "length",
			Help: "Events in each event's log, as last seen by this process.",
		}, []string{"event"}),
		BuildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "build_info",
			Help: "Always 1; the labels say which build is running.",
		}, []string{"version", "goversion"}),
	}
	reg.MustRegister(m.Appends, m.AppendSeconds, m.TailDelay, m.LogLength, m.BuildInfo)
	m.BuildInfo.WithLabelValues(version, runtime.Version()).Set(1)
	return m
}
