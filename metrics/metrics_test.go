package metrics_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
	"github.com/backchannel/backchannel/eventlog/disklog"
	"github.com/backchannel/backchannel/eventlog/logtest"
	"github.com/backchannel/backchannel/metrics"
)

// The wrapper must keep every guarantee of the store it wraps: run the
// conformance suite through it.
func TestInstrumentedStoreConforms(t *testing.T) {
	var mu sync.Mutex
	dirs := map[eventlog.Store]string{}
	open := func(t *testing.T, dir string) eventlog.Store {
		s, err := disklog.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		w := metrics.New(prometheus.NewRegistry(), "test").Store(s)
		mu.Lock()
		dirs[w] = dir
		mu.Unlock()
		return w
	}
	logtest.Run(t, logtest.Engine{
		Open: func(t *testing.T) eventlog.Store { return open(t, t.TempDir()) },
		Reopen: func(t *testing.T, s eventlog.Store) eventlog.Store {
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			dir := dirs[s]
			mu.Unlock()
			return open(t, dir)
		},
	})
}

// value returns the value of the metric called name whose labels include
// labels: a counter's or gauge's value, a histogram's sample count.
func value(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if !hasLabels(m, labels) {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return -1
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, lp := range m.GetLabel() {
		if v, ok := want[lp.GetName()]; ok && v == lp.GetValue() {
			n++
		}
	}
	return n == len(want)
}

func post(uri string) event.Entry {
	return event.Entry{
		Kind:  event.PostReceived,
		Actor: event.Actor{Role: event.RoleSource, Name: "test"},
		Post:  &event.Post{ID: event.PostID(uri), URI: uri, Source: "rehearsal", Text: "hello"},
	}
}

func TestStoreRecordsMetrics(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, "v1.2.3")
	raw, err := disklog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := m.Store(raw)
	l, err := s.Log(ctx, "ev")
	if err != nil {
		t.Fatal(err)
	}

	// One event before the tail starts: history, not timed.
	first := event.Entry{Kind: event.StageMessage, Actor: event.Actor{Role: event.RoleModerator}, Message: "hi"}
	if _, err := l.Append(ctx, "", first); err != nil {
		t.Fatal(err)
	}
	tailCtx, stopTail := context.WithCancel(ctx)
	delivered := make(chan uint64, 16)
	tailDone := make(chan error, 1)
	go func() {
		tailDone <- l.Tail(tailCtx, 0, func(b []event.Entry) error {
			for _, e := range b {
				delivered <- e.Pos
			}
			return nil
		})
	}()
	wait := func(n int) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for got := 0; got < n; {
			select {
			case <-delivered:
				got++
			case <-deadline:
				t.Fatalf("tail did not deliver %d events", n)
			}
		}
	}
	// Once it has delivered the first, the tail has started: what is
	// appended now is delivered live and timed.
	wait(1)

	for _, uri := range []string{"urn:a", "urn:b", "urn:a"} {
		e := post(uri)
		if _, err := l.Append(ctx, e.IdempotencyKey(), e); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Append(ctx, "", event.Entry{Kind: event.PostApproved, Actor: event.Actor{Role: event.RoleModerator}}); err == nil {
		t.Fatal("invalid event appended")
	}
	wait(2)
	stopTail()
	<-tailDone

	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"backchannel_log_appends_total", map[string]string{"event": "ev", "kind": "post.received", "result": "appended"}, 2},
		{"backchannel_log_appends_total", map[string]string{"event": "ev", "kind": "post.received", "result": "duplicate"}, 1},
		{"backchannel_log_appends_total", map[string]string{"event": "ev", "kind": "post.approved", "result": "error"}, 1},
		{"backchannel_log_appends_total", map[string]string{"event": "ev", "kind": "stage.message", "result": "appended"}, 1},
		{"backchannel_log_append_seconds", nil, 5},
		{"backchannel_log_tail_delay_seconds", nil, 2},
		{"backchannel_log_length", map[string]string{"event": "ev"}, 3},
		{"backchannel_build_info", map[string]string{"version": "v1.2.3"}, 1},
	} {
		if got := value(t, reg, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}

	// After a restart the length is known before anything is appended,
	// and replaying history does not count as tail delay.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	reg2 := prometheus.NewRegistry()
	raw2, err := disklog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer raw2.Close()
	s2 := metrics.New(reg2, "v1.2.3").Store(raw2)
	l2, err := s2.Log(ctx, "ev")
	if err != nil {
		t.Fatal(err)
	}
	if got := value(t, reg2, "backchannel_log_length", map[string]string{"event": "ev"}); got != 3 {
		t.Errorf("length after restart = %v, want 3", got)
	}
	replayCtx, stopReplay := context.WithCancel(ctx)
	n := 0
	err = l2.Tail(replayCtx, 0, func(b []event.Entry) error {
		n += len(b)
		if n >= 3 {
			stopReplay()
		}
		return nil
	})
	if n != 3 {
		t.Fatalf("replayed %d events (tail returned %v), want 3", n, err)
	}
	if got := value(t, reg2, "backchannel_log_tail_delay_seconds", nil); got != 0 {
		t.Errorf("replay counted %v tail delays, want 0", got)
	}
}

func TestNewRegistersOnce(t *testing.T) {
	reg := prometheus.NewRegistry()
	metrics.New(reg, "x")
	defer func() {
		if recover() == nil {
			t.Error("registering twice on one registry did not panic")
		}
	}()
	metrics.New(reg, "x")
}
