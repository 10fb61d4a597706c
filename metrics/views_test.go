package metrics_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog/disklog"
	"github.com/backchannel/backchannel/fold"
	"github.com/backchannel/backchannel/metrics"
)

// The view metrics read the folds at scrape time: the queue as the fold
// has it, the fold's position, and whether the store answers.
func TestViewsReadTheFolds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store, err := disklog.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	log, err := store.Log(ctx, "ev")
	if err != nil {
		t.Fatal(err)
	}
	live := fold.NewLive(log, fold.SettingsView{Moderation: event.ModePre})
	done := make(chan error, 1)
	go func() { done <- live.Run(ctx) }()
	defer func() { cancel(); <-done }()

	reg := prometheus.NewRegistry()
	if err := metrics.RegisterViews(reg, store, []metrics.EventFold{{Slug: "ev", Live: live}}); err != nil {
		t.Fatal(err)
	}
	ev := map[string]string{"event": "ev"}
	if d, r := value(t, reg, "backchannel_moderation_queue_depth", ev), value(t, reg, "backchannel_ready", nil); d != 0 || r != 1 {
		t.Fatalf("empty event: depth %v, ready %v", d, r)
	}

	e := post("https://a.example/1")
	e.Time = time.Now().Add(-time.Minute)
	e.PostID = e.Post.ID
	e.Verdict = &event.Verdict{Decision: event.DecisionHold, Rule: "pre-moderation"}
	a, err := log.Append(ctx, e.IdempotencyKey(), e)
	if err != nil {
		t.Fatal(err)
	}
	if err := live.WaitFor(ctx, a.Pos); err != nil {
		t.Fatal(err)
	}
	if d := value(t, reg, "backchannel_moderation_queue_depth", ev); d != 1 {
		t.Errorf("queue depth = %v, want 1", d)
	}
	if o := value(t, reg, "backchannel_moderation_queue_oldest_seconds", ev); o < 60 {
		t.Errorf("oldest = %vs, want at least 60", o)
	}
	if p := value(t, reg, "backchannel_fold_position", ev); p != float64(a.Pos) {
		t.Errorf("fold position = %v, want %d", p, a.Pos)
	}

	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	if r := value(t, reg, "backchannel_ready", nil); r != 0 {
		t.Errorf("ready after the store closed = %v, want 0", r)
	}
}
