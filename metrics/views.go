package metrics

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backchannel/backchannel/eventlog"
	"github.com/backchannel/backchannel/fold"
)

// EventFold is one event served here, as RegisterViews reads it.
type EventFold struct {
	Slug string
	Live *fold.Live
}

// viewCollector exports what the folds of the events served here know and
// no other package measures: the moderation queue's depth and age, and how
// far each fold has read, so an alert can tell a frozen node from a quiet
// event. It reads the folds at scrape time (a scrape every 15 s costs one
// walk of each queue) and pings the store for backchannel_ready, the same
// check as /readyz, so Prometheus sees a node that is up but cannot serve.
type viewCollector struct {
	store  eventlog.Store
	events []EventFold
	now    func() time.Time

	depth, oldest, foldPos, ready *prometheus.Desc
}

// RegisterViews registers on reg the metrics of the folds of events (the
// moderation queue's depth and age, each fold's position) and of store's
// readiness, all read at scrape time. events may be empty (an ingest
// process): backchannel_ready is still exported.
func RegisterViews(reg prometheus.Registerer, store eventlog.Store, events []EventFold) error {
	c := &viewCollector{
		store:  store,
		events: events,
		now:    time.Now,
		depth: prometheus.NewDesc("backchannel_moderation_queue_depth",
			"Posts, and edits of shown posts, waiting for a moderator's decision, as this node's fold sees them.", []string{"event"}, nil),
		oldest: prometheus.NewDesc("backchannel_moderation_queue_oldest_seconds",
			"How long the oldest post in the moderation queue has waited; 0 when the queue is empty.", []string{"event"}, nil),
		foldPos: prometheus.NewDesc("backchannel_fold_position",
			"The log position this node's fold of the event has applied; compare with backchannel_log_length.", []string{"event"}, nil),
		ready: prometheus.NewDesc("backchannel_ready",
			"1 when the log store answers a ping (the /readyz check), 0 when it does not.", nil, nil),
	}
	if err := reg.Register(c); err != nil {
		return fmt.Errorf("register view metrics: %w", err)
	}
	return nil
}

// Describe implements prometheus.Collector.
func (c *viewCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.depth
	ch <- c.oldest
	ch <- c.foldPos
	ch <- c.ready
}

// Collect implements prometheus.Collector.
func (c *viewCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.now()
	for _, e := range c.events {
		var depth int
		var oldest time.Duration
		var pos uint64
		e.Live.View(func(s *fold.State) {
			q := s.Queue()
			depth = len(q)
			if depth > 0 {
				oldest = now.Sub(q[0].QueuedAt())
			}
			pos = s.Pos()
		})
		oldest = max(oldest, 0)
		ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(depth), e.Slug)
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, oldest.Seconds(), e.Slug)
		ch <- prometheus.MustNewConstMetric(c.foldPos, prometheus.GaugeValue, float64(pos), e.Slug)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ready := 1.0
	if err := c.store.Ping(ctx); err != nil {
		ready = 0
	}
	ch <- prometheus.MustNewConstMetric(c.ready, prometheus.GaugeValue, ready)
}
