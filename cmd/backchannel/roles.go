package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backchannel/backchannel/eventlog"
	"github.com/backchannel/backchannel/fold"
	"github.com/backchannel/backchannel/wall"
)

// ingestHandler is what an ingest-only process serves: health, readiness
// and metrics, nothing an audience could use, so a misrouted client gets a
// 404 rather than an empty wall.
func ingestHandler(srv http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz", "/readyz", "/metrics":
			srv.ServeHTTP(w, r)
		default:
			http.Error(w, "this is an ingest process: it serves /healthz, /readyz and /metrics only", http.StatusNotFound)
		}
	})
}

// roleHandler is the HTTP handler of a process in role: everything for the
// roles that serve screens, health and metrics only for ingest.
func roleHandler(role string, srv http.Handler) http.Handler {
	if role == roleIngest {
		return ingestHandler(srv)
	}
	return srv
}

// viewCollector exports what the folds of the events served here know and
// no other package measures: the moderation queue's depth and age, and how
// far each fold has read, so an alert can tell a frozen node from a quiet
// event. It reads the folds at scrape time (a scrape every 15 s costs one
// walk of each queue) and pings the store for backchannel_ready, the same
// check as /readyz, so Prometheus sees a node that is up but cannot serve.
type viewCollector struct {
	store  eventlog.Store
	events []*wall.Event
	now    func() time.Time

	depth, oldest, foldPos, ready *prometheus.Desc
}

// registerViewMetrics registers a viewCollector over the events on reg.
// events may be empty (an ingest process): backchannel_ready is still
// exported.
func registerViewMetrics(reg prometheus.Registerer, store eventlog.Store, events []*wall.Event) error {
	c := &viewCollector{
		store:  store,
		events: events,
		now:    time.Now,
		depth: prometheus.NewDesc("backchannel_moderation_queue_depth",
			"Posts waiting for a moderator's decision, as this node's fold sees them.", []string{"event"}, nil),
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
				oldest = now.Sub(q[0].ReceivedAt)
			}
			pos = s.Pos()
		})
		oldest = max(oldest, 0)
		ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(depth), e.Slug())
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, oldest.Seconds(), e.Slug())
		ch <- prometheus.MustNewConstMetric(c.foldPos, prometheus.GaugeValue, float64(pos), e.Slug())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ready := 1.0
	if err := c.store.Ping(ctx); err != nil {
		ready = 0
	}
	ch <- prometheus.MustNewConstMetric(c.ready, prometheus.GaugeValue, ready)
}

const healthcheckUsage = `Usage: backchannel healthcheck [URL]

Asks URL (default http://127.0.0.1:8080/healthz) and exits 0 on a 2xx
answer within 3 seconds, 1 otherwise: the container image's HEALTHCHECK,
since the minimal image has no curl.
`

// healthcheck asks a health URL and returns the process's exit code.
func healthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	target := "http://127.0.0.1:8080/healthz"
	switch {
	case len(args) > 1:
		fmt.Fprint(stderr, healthcheckUsage)
		return 2
	case len(args) == 1 && (args[0] == "-h" || args[0] == "--help"):
		fmt.Fprint(stdout, healthcheckUsage)
		return 0
	case len(args) == 1:
		target = args[0]
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fmt.Fprintf(stderr, "backchannel healthcheck: %q is not an http(s) URL\n", target)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		fmt.Fprintf(stderr, "backchannel healthcheck: %v\n", err)
		return 2
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "backchannel healthcheck: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		fmt.Fprintf(stderr, "backchannel healthcheck: %s answered %s\n", u.Redacted(), resp.Status)
		return 1
	}
	return 0
}
