package report_test

import (
	"testing"
	"time"

	"github.com/backchannel/backchannel/report"
	"github.com/backchannel/backchannel/report/reporttest"
)

// BenchmarkReport10k folds a 10,000-post event (three hours at ten
// times the recorded hour's rates) and draws every chart, as the page
// does on its first request.
func BenchmarkReport10k(b *testing.B) {
	entries, l := reporttest.Event(1, 180, 10)
	if l.Received < 9500 || l.Received > 11000 {
		b.Fatalf("%d posts; want about 10,000", l.Received)
	}
	b.ReportMetric(float64(l.Received), "posts")
	b.ReportMetric(float64(len(entries)), "entries")
	b.ResetTimer()
	for b.Loop() {
		r := report.FoldLog(settings(), entries).Report()
		n := len(report.PostsChart(&r, time.UTC)) + len(report.OutagesChart(&r, time.UTC)) +
			len(report.ModerationChart(&r, time.UTC)) + len(report.DecisionsChart(&r)) +
			len(report.QuestionsChart(&r, time.UTC)) + len(report.ContributorsChart(&r)) +
			len(report.LanguagesChart(&r)) + len(report.ScreensChart(&r, time.UTC))
		if n == 0 {
			b.Fatal("no charts")
		}
	}
}
