package ingest

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// scriptSource reports a fixed story on its health, then waits for ctx.
type scriptSource struct {
	told chan struct{}
	when time.Time
}

func (s *scriptSource) Name() string { return "mastodon:script.example" }
func (s *scriptSource) Kind() string { return "mastodon" }
func (s *scriptSource) Run(ctx context.Context, sink Sink) error {
	h := sink.Health()
	for range 50 { // fifty good polls: one state change, not fifty log lines
		h.Succeeded(s.when)
	}
	h.RateLimit(42, s.when.Add(time.Minute))
	h.RateLimited(s.when, "429 Too Many Requests", s.when.Add(time.Minute))
	h.Failed(s.when.Add(time.Second), errors.New("503 Service Unavailable"), s.when.Add(2*time.Second))
	h.Failed(s.when.Add(2*time.Second), errors.New("503 Service Unavailable"), s.when.Add(4*time.Second))
	h.Counted(false, s.when.Add(-5*time.Second), s.when)
	h.Succeeded(s.when.Add(3 * time.Second))
	close(s.told)
	<-ctx.Done()
	return nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestRunnerMetricsAndStateLogs(t *testing.T) {
	var logs syncBuffer
	cfg := fastConfig(newMemStore(), "node-a", prometheus.NewRegistry())
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	src := &scriptSource{told: make(chan struct{}), when: time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)}
	r, err := NewRunner(cfg, EventSources{Slug: "ev", Sources: []Source{src}})
	if err != nil {
		t.Fatal(err)
	}
	stop := started(t, r)
	select {
	case <-src.told:
	case <-time.After(10 * time.Second):
		t.Fatal("the source did not run")
	}
	m, name := r.metrics, src.Name()
	for what, c := range map[string]struct {
		got, want float64
	}{
		"rate_limited_total":   {value(t, m.rateLimited.WithLabelValues("ev", name)), 1},
		"errors_total{fetch}":  {value(t, m.errors.WithLabelValues("ev", name, ErrorKindFetch)), 2},
		"rate_limit_remaining": {value(t, m.remaining.WithLabelValues("ev", name)), 42},
		"lag_seconds":          {value(t, m.lag.WithLabelValues("ev", name)), 5},
		"last_success":         {value(t, m.lastSuccess.WithLabelValues("ev", name)), float64(src.when.Add(3 * time.Second).Unix())},
		"up":                   {value(t, m.up.WithLabelValues("ev", name)), 1},
		"leader":               {value(t, m.leader.WithLabelValues("ev", name)), 1},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", what, c.got, c.want)
		}
	}
	stop()

	// starting→ok, ok→rate_limited, rate_limited→backing_off, backing_off→ok, ok→stopped.
	out := logs.String()
	if n := strings.Count(out, `msg="source state"`); n != 5 {
		t.Errorf("%d state-change log lines, want 5:\n%s", n, out)
	}
	for _, want := range []string{"to=rate_limited", `error="503 Service Unavailable"`, "event=ev", "source=mastodon:script.example", "to=stopped"} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %s:\n%s", want, out)
		}
	}
}
