package wall

import (
	"context"
	"testing"
	"time"

	"github.com/backchannel/backchannel/config"
	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog/disklog"
	"github.com/backchannel/backchannel/report/reporttest"
)

// BenchmarkReportPage10k renders the report page of a 10,000-post event
// from its log on disk: cold (the node's first request: the whole log
// read and folded, every chart drawn) and warm (a later request, with
// nothing new in the log).
func BenchmarkReportPage10k(b *testing.B) {
	store, err := disklog.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	log, err := store.Log(ctx, "big")
	if err != nil {
		b.Fatal(err)
	}
	entries, l := reporttest.Event(1, 180, 10)
	for _, e := range entries {
		e.Pos = 0
		if _, err := log.Append(ctx, e.IdempotencyKey(), e); err != nil {
			b.Fatal(err)
		}
	}
	e := &Event{Config: &config.Event{Slug: "big", Title: "A big event", Moderation: config.Moderation{Mode: event.ModePre}}, Log: log}
	st := &staffAPI{now: time.Now}
	render := func(b *testing.B) {
		rep, err := e.Report(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if rep.Totals.Received != l.Received {
			b.Fatalf("%d posts; want %d", rep.Totals.Received, l.Received)
		}
		page, err := st.renderReport(e, rep, false)
		if err != nil || len(page) == 0 {
			b.Fatal(err)
		}
	}
	b.Run("cold", func(b *testing.B) {
		b.ReportMetric(float64(l.Received), "posts")
		for b.Loop() {
			reportFolds.Delete(e)
			render(b)
		}
	})
	b.Run("warm", func(b *testing.B) {
		render(b)
		for b.Loop() {
			render(b)
		}
	})
}
