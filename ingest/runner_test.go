package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
)

// counterSource posts urn:test:<name>:1, :2, ... every pace, keeping the
// last number as its cursor, like a real source keeping its since_id.
type counterSource struct {
	name   string
	pace   time.Duration
	active atomic.Int32 // runs in progress
	starts atomic.Int32
}

func (c *counterSource) Name() string { return c.name }
func (c *counterSource) Kind() string { return "test" }

func (c *counterSource) Run(ctx context.Context, sink Sink) error {
	if c.active.Add(1) > 1 {
		panic("counterSource run twice at once in one process")
	}
	defer c.active.Add(-1)
	c.starts.Add(1)
	cur, err := sink.Cursor(ctx, "seq")
	if err != nil {
		return nil // the ctx is done, or the store is down: Run is asked again
	}
	n, _ := strconv.Atoi(cur)
	t := time.NewTicker(c.pace)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		n++
		uri := fmt.Sprintf("urn:test:%s:%d", c.name, n)
		p := event.Post{ID: event.PostID(uri), URI: uri, Source: "test", Text: "n=" + strconv.Itoa(n), CreatedAt: time.Now()}
		if _, err := sink.Post(ctx, p); err != nil {
			sink.Health().Failed(time.Now(), err, time.Now())
			return nil
		}
		if err := sink.SetCursor(ctx, "seq", strconv.Itoa(n)); err != nil {
			return nil
		}
		sink.Health().Succeeded(time.Now())
	}
}

// brokenSource fails at once on every run: with an error, or a panic.
type brokenSource struct {
	name   string
	panics bool
	starts atomic.Int32
}

func (b *brokenSource) Name() string { return b.name }
func (b *brokenSource) Kind() string { return "test" }
func (b *brokenSource) Run(ctx context.Context, sink Sink) error {
	b.starts.Add(1)
	if b.panics {
		panic("boom")
	}
	return errors.New("bad configuration")
}

// value reads a counter's or gauge's current value.
func value(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(2 * time.Millisecond) // polling interval, not synchronisation
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// started runs r in the background and returns a stop that cancels it and
// waits for Run to return.
func started(t *testing.T, r *Runner) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run returned %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return within 10s of its context ending")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func snapshotOf(t *testing.T, r *Runner, slug, source string) HealthSnapshot {
	t.Helper()
	for _, s := range r.Health(slug) {
		if s.Source == source {
			return s
		}
	}
	t.Fatalf("no health for %s/%s", slug, source)
	return HealthSnapshot{}
}

// checkSequence asserts that the log holds exactly urn:test:<name>:1..n
// once each, in order, and returns n.
func checkSequence(t *testing.T, l eventlog.Log, name string) int {
	t.Helper()
	evs, err := l.Read(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Post == nil || !strings.HasPrefix(e.Post.URI, "urn:test:"+name+":") {
			continue
		}
		n++
		if want := fmt.Sprintf("urn:test:%s:%d", name, n); e.Post.URI != want {
			t.Fatalf("post %d of %s is %s, want %s (lost or doubled)", n, name, e.Post.URI, want)
		}
	}
	return n
}

func fastConfig(st eventlog.Store, holder string, reg prometheus.Registerer) RunnerConfig {
	return RunnerConfig{
		Store: st, Holder: holder, Registerer: reg, Logger: quietLogger(),
		LeaseTTL: 400 * time.Millisecond, LeaseRenew: 100 * time.Millisecond,
		BackoffMin: 5 * time.Millisecond, BackoffMax: 40 * time.Millisecond,
	}
}

func TestRunnerIsolatesFailingSources(t *testing.T) {
	st := newMemStore()
	reg := prometheus.NewRegistry()
	good := &counterSource{name: "good", pace: 2 * time.Millisecond}
	failing := &brokenSource{name: "failing"}
	panicking := &brokenSource{name: "panicking", panics: true}
	r, err := NewRunner(fastConfig(st, "node-a", reg), EventSources{
		Slug: "ev", Rules: wordRules{}, Sources: []Source{good, failing, panicking},
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := started(t, r)
	waitFor(t, 10*time.Second, "the good source appends while the others fail and restart", func() bool {
		return snapshotOf(t, r, "ev", "good").Appended >= 30 && failing.starts.Load() >= 3 && panicking.starts.Load() >= 3
	})
	for _, name := range []string{"failing", "panicking"} {
		s := snapshotOf(t, r, "ev", name)
		if s.State != StateBackingOff || s.LastError == "" || s.RetryAt.IsZero() {
			t.Errorf("%s: health %+v, want backing_off with an error and a retry time", name, s)
		}
	}
	if s := snapshotOf(t, r, "ev", "panicking"); !strings.Contains(s.LastError, "panicked") {
		t.Errorf("panicking source's last error = %q", s.LastError)
	}
	if v := value(t, r.metrics.up.WithLabelValues("ev", "failing")); v != 0 {
		t.Errorf("up{failing} = %v, want 0", v)
	}
	if v := value(t, r.metrics.up.WithLabelValues("ev", "good")); v != 1 {
		t.Errorf("up{good} = %v, want 1", v)
	}
	if v := value(t, r.metrics.leader.WithLabelValues("ev", "good")); v != 1 {
		t.Errorf("leader{good} = %v, want 1", v)
	}
	stop()

	if good.active.Load() != 0 {
		t.Error("the good source still runs after Run returned")
	}
	for _, s := range r.Health("ev") {
		if s.State != StateStopped {
			t.Errorf("%s is %s after Run returned, want stopped", s.Source, s.State)
		}
	}
	l, _ := st.Log(context.Background(), "ev")
	n := checkSequence(t, l, "good")
	if got := value(t, r.metrics.appended.WithLabelValues("ev", "good", "received")); int(got) != n {
		t.Errorf("posts_appended_total{good,received} = %v, log holds %d", got, n)
	}
	if got := value(t, r.metrics.errors.WithLabelValues("ev", "failing", ErrorKindExit)); got < 2 {
		t.Errorf("errors_total{failing,exit} = %v, want >= 2", got)
	}
	if got := value(t, r.metrics.errors.WithLabelValues("ev", "panicking", ErrorKindPanic)); got < 2 {
		t.Errorf("errors_total{panicking,panic} = %v, want >= 2", got)
	}
	if got := value(t, r.metrics.errors.WithLabelValues("ev", "panicking", ErrorKindExit)); got != 0 {
		t.Errorf("a panic was also counted as an exit (%v)", got)
	}
	if v := value(t, r.metrics.leader.WithLabelValues("ev", "good")); v != 0 {
		t.Errorf("leader{good} = %v after stop, want 0", v)
	}
	// The leases were given back: another process gets them at once.
	// (released leases run out a millisecond later).
	for _, name := range []string{"good", "failing", "panicking"} {
		waitFor(t, time.Second, "lease of "+name+" released", func() bool {
			ok, _ := st.Lease(context.Background(), "source:ev:"+name, "node-b", time.Minute)
			return ok
		})
	}

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, mf := range mfs {
		have[mf.GetName()] = true
	}
	for _, name := range []string{
		"backchannel_source_posts_appended_total", "backchannel_source_errors_total",
		"backchannel_source_up", "backchannel_source_rate_limit_remaining", "backchannel_source_lag_seconds",
		"backchannel_source_last_success_timestamp_seconds", "backchannel_source_leader",
	} {
		if !have[name] {
			t.Errorf("metric %s not registered", name)
		}
	}
}

func TestRunnerStandbyAndTakeover(t *testing.T) {
	st := newMemStore()
	a := &counterSource{name: "src", pace: 2 * time.Millisecond}
	b := &counterSource{name: "src", pace: 2 * time.Millisecond}
	ra, err := NewRunner(fastConfig(st, "node-a", prometheus.NewRegistry()), EventSources{Slug: "ev", Sources: []Source{a}})
	if err != nil {
		t.Fatal(err)
	}
	rb, err := NewRunner(fastConfig(st, "node-b", prometheus.NewRegistry()), EventSources{Slug: "ev", Sources: []Source{b}})
	if err != nil {
		t.Fatal(err)
	}
	stopA := started(t, ra)
	waitFor(t, 5*time.Second, "node-a runs the source", func() bool { return snapshotOf(t, ra, "ev", "src").Appended >= 10 })
	stopB := started(t, rb)
	waitFor(t, 5*time.Second, "node-b stands by", func() bool { return snapshotOf(t, rb, "ev", "src").State == StateStandby })
	if b.starts.Load() != 0 {
		t.Fatal("node-b ran the source while node-a held the lease")
	}
	if v := value(t, rb.metrics.leader.WithLabelValues("ev", "src")); v != 0 {
		t.Errorf("leader{node-b} = %v while standing by", v)
	}

	stopA()
	took := time.Now()
	waitFor(t, 15*time.Second, "node-b takes the source over", func() bool { return snapshotOf(t, rb, "ev", "src").Appended >= 10 })
	t.Logf("takeover after a graceful stop: %v", time.Since(took))
	if a.active.Load() != 0 {
		t.Error("node-a's source still runs")
	}
	stopB()
	l, _ := st.Log(context.Background(), "ev")
	n := checkSequence(t, l, "src")
	na, nb := snapshotOf(t, ra, "ev", "src").Appended, snapshotOf(t, rb, "ev", "src").Appended
	if int64(n) != na+nb {
		t.Errorf("log holds %d posts, the two nodes appended %d + %d", n, na, nb)
	}
}

// flakyStore passes through to a memStore until it is cut off, then fails
// every lease call: a process whose store connection died.
type flakyStore struct {
	*memStore
	cut atomic.Bool
}

func (f *flakyStore) Lease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if f.cut.Load() {
		return false, errors.New("connection refused")
	}
	return f.memStore.Lease(ctx, name, holder, ttl)
}

func TestRunnerStopsSourceWhenRenewalFails(t *testing.T) {
	st := newMemStore()
	fa := &flakyStore{memStore: st}
	a := &counterSource{name: "src", pace: 2 * time.Millisecond}
	b := &counterSource{name: "src", pace: 2 * time.Millisecond}
	ra, _ := NewRunner(fastConfig(fa, "node-a", prometheus.NewRegistry()), EventSources{Slug: "ev", Sources: []Source{a}})
	rb, _ := NewRunner(fastConfig(st, "node-b", prometheus.NewRegistry()), EventSources{Slug: "ev", Sources: []Source{b}})
	started(t, ra)
	waitFor(t, 5*time.Second, "node-a runs the source", func() bool { return snapshotOf(t, ra, "ev", "src").Appended >= 10 })
	started(t, rb)
	waitFor(t, 5*time.Second, "node-b stands by", func() bool { return snapshotOf(t, rb, "ev", "src").State == StateStandby })

	cut := time.Now()
	fa.cut.Store(true)
	// node-a must stop before its lease (400ms) runs out, so the two never
	// run the source at once.
	waitFor(t, 5*time.Second, "node-a stops its source when renewal fails", func() bool { return a.active.Load() == 0 })
	if d := time.Since(cut); d > 400*time.Millisecond {
		t.Logf("node-a stopped %v after the cut, later than the lease ttl (slow machine?)", d)
	}
	waitFor(t, 15*time.Second, "node-b takes over after node-a's lease ran out", func() bool { return b.starts.Load() > 0 && snapshotOf(t, rb, "ev", "src").Appended > 0 })
	if d := time.Since(cut); d > 15*time.Second {
		t.Errorf("takeover took %v", d)
	}
	waitFor(t, 5*time.Second, "node-a reports the store failure", func() bool {
		s := snapshotOf(t, ra, "ev", "src")
		return s.State == StateBackingOff && strings.Contains(s.LastError, "connection refused")
	})
	if got := value(t, ra.metrics.errors.WithLabelValues("ev", "src", ErrorKindLease)); got < 1 {
		t.Errorf("errors_total{lease} = %v, want >= 1", got)
	}
	if a.active.Load()+b.active.Load() > 1 {
		t.Error("both nodes run the source")
	}
	waitFor(t, 5*time.Second, "node-b appends on", func() bool { return snapshotOf(t, rb, "ev", "src").Appended >= 10 })
	l, _ := st.Log(context.Background(), "ev")
	checkSequence(t, l, "src")
}

func TestRunnerTimeWindow(t *testing.T) {
	st := newMemStore()
	src := &counterSource{name: "src", pace: 2 * time.Millisecond}
	now := time.Now()
	w := Window{Start: now.Add(500 * time.Millisecond), LeadIn: 200 * time.Millisecond, End: now.Add(1200 * time.Millisecond)}
	r, _ := NewRunner(fastConfig(st, "node-a", nil), EventSources{Slug: "ev", Window: w, Sources: []Source{src}})
	started(t, r)
	waitFor(t, 5*time.Second, "waiting before the window", func() bool { return snapshotOf(t, r, "ev", "src").State == StateWaiting })
	if time.Now().Before(w.Opens()) && src.starts.Load() != 0 {
		t.Fatal("the source ran before its window opened")
	}
	waitFor(t, 5*time.Second, "runs inside the window", func() bool { return snapshotOf(t, r, "ev", "src").Appended > 0 })
	if first := time.Now(); first.Before(w.Opens()) {
		t.Errorf("appended at %v, before the window opened at %v", first, w.Opens())
	}
	waitFor(t, 5*time.Second, "stops at the end", func() bool {
		return time.Now().After(w.End) && src.active.Load() == 0 && snapshotOf(t, r, "ev", "src").State == StateWaiting
	})
	l, _ := st.Log(context.Background(), "ev")
	evs, _ := l.Read(context.Background(), 0, 0)
	for _, e := range evs {
		if e.Time.Before(w.Opens()) || e.Time.After(w.End.Add(500*time.Millisecond)) {
			t.Errorf("post appended at %v, outside the window %v..%v", e.Time, w.Opens(), w.End)
		}
	}
	waitFor(t, time.Second, "the lease is released when the window closes", func() bool {
		ok, _ := st.Lease(context.Background(), "source:ev:src", "node-b", time.Minute)
		return ok
	})
}

func TestWindow(t *testing.T) {
	start := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	end := start.Add(2 * time.Hour)
	w := Window{Start: start, End: end, LeadIn: 30 * time.Minute}
	for _, c := range []struct {
		at         time.Time
		open, over bool
	}{
		{start.Add(-31 * time.Minute), false, false},
		{start.Add(-30 * time.Minute), true, false},
		{start, true, false},
		{end.Add(-time.Nanosecond), true, false},
		{end, false, true},
	} {
		if got := w.Open(c.at); got != c.open {
			t.Errorf("Open(%v) = %v, want %v", c.at, got, c.open)
		}
		if got := w.Over(c.at); got != c.over {
			t.Errorf("Over(%v) = %v, want %v", c.at, got, c.over)
		}
	}
	if !(Window{}).Open(start) || (Window{}).Over(end) {
		t.Error("the zero window is not always open")
	}
}

func TestNewRunnerRejects(t *testing.T) {
	st := newMemStore()
	a, a2 := &counterSource{name: "a"}, &counterSource{name: "a"}
	for name, c := range map[string]struct {
		cfg RunnerConfig
		evs []EventSources
	}{
		"no store":        {RunnerConfig{}, nil},
		"renew after ttl": {RunnerConfig{Store: st, LeaseTTL: time.Second, LeaseRenew: 2 * time.Second}, nil},
		"two slugs":       {RunnerConfig{Store: st}, []EventSources{{Slug: "x"}, {Slug: "x"}}},
		"no slug":         {RunnerConfig{Store: st}, []EventSources{{}}},
		"two names":       {RunnerConfig{Store: st}, []EventSources{{Slug: "x", Sources: []Source{a, a2}}}},
	} {
		_, err := NewRunner(c.cfg, c.evs...)
		if event.ErrorCode(err) != event.EINVALID {
			t.Errorf("%s: err = %v, want EINVALID", name, err)
		}
	}
	r, err := NewRunner(RunnerConfig{Store: st, Logger: quietLogger()}, EventSources{Slug: "x", Sources: []Source{a}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Health("nope") != nil {
		t.Error("health of an unknown event is not nil")
	}
	if h := r.Health("x"); len(h) != 1 || h[0].State != StateStarting || h[0].Kind != "test" {
		t.Errorf("health before Run = %+v", h)
	}
	stop := started(t, r)
	waitFor(t, 5*time.Second, "the runner runs", func() bool { return a.starts.Load() > 0 })
	if err := r.Run(context.Background()); event.ErrorCode(err) != event.ECONFLICT {
		t.Errorf("a second Run = %v, want ECONFLICT", err)
	}
	stop()
}
