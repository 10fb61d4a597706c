package disklog_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
	"github.com/backchannel/backchannel/eventlog/disklog"
	"github.com/backchannel/backchannel/eventlog/logtest"
)

// benchPost is a post of a realistic size (about 1 KB of JSON).
func benchPost(i int64) event.Entry {
	p := logtest.Post(fmt.Sprintf("https://mastodon.example/users/ada/statuses/%d", 110000000000000000+i))
	p.Post.Text = "Watching the keynote from the train: the point about local leaders owning the budget is the one I want the panel to take on. Who decides what gets cut first, and how do residents get a say before it is decided? #Leaders4Leeds"
	p.Post.HTML = "<p>" + p.Post.Text + "</p>"
	p.Post.Author = event.Author{ID: "https://mastodon.example/users/ada", Name: "Ada", Handle: "@ada@mastodon.example", Avatar: "https://mastodon.example/avatars/ada.png", URL: "https://mastodon.example/@ada"}
	p.Post.Tags = []string{"Leaders4Leeds"}
	return p
}

func benchLog(b *testing.B) (eventlog.Log, func()) {
	b.Helper()
	s, err := disklog.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	l, err := s.Log(context.Background(), "bench")
	if err != nil {
		b.Fatal(err)
	}
	return l, func() { s.Close() }
}

// BenchmarkAppend measures durable appends (each fsync'd before it returns)
// with 1 and 16 concurrent writers, each append under its own key.
func BenchmarkAppend(b *testing.B) {
	logtest.BenchmarkAppend(b, func(b *testing.B) eventlog.Log {
		l, done := benchLog(b)
		b.Cleanup(done)
		return l
	}, benchPost)
}

// BenchmarkTailLatency measures how long an appended event takes to reach a
// tail's fn: from the moment Append was called (which includes the fsync)
// and from the moment Append returned (the tail usually sees the event
// first, which counts as 0).
func BenchmarkTailLatency(b *testing.B) {
	for _, writers := range []int{1, 16} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			l, done := benchLog(b)
			defer done()
			started := make([]time.Time, b.N+1) // by position; written by the appender
			acked := make([]time.Time, b.N+1)
			seen := make([]time.Time, b.N+1) // written by the tail
			finished := errors.New("all seen")
			tailDone := make(chan error, 1)
			go func() {
				tailDone <- l.Tail(context.Background(), 0, func(evs []event.Entry) error {
					now := time.Now()
					for _, ev := range evs {
						seen[ev.Pos] = now
					}
					if evs[len(evs)-1].Pos == uint64(b.N) {
						return finished
					}
					return nil
				})
			}()
			var n atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for range writers {
				wg.Go(func() {
					for {
						i := n.Add(1)
						if i > int64(b.N) {
							return
						}
						p := benchPost(i)
						start := time.Now()
						a, err := l.Append(context.Background(), p.IdempotencyKey(), p)
						if err != nil {
							b.Error(err)
							return
						}
						started[a.Pos], acked[a.Pos] = start, time.Now()
					}
				})
			}
			wg.Wait()
			if err := <-tailDone; !errors.Is(err, finished) {
				b.Fatal(err)
			}
			b.StopTimer()
			fromStart := make([]time.Duration, 0, b.N)
			fromAck := make([]time.Duration, 0, b.N)
			for p := 1; p <= b.N; p++ {
				fromStart = append(fromStart, seen[p].Sub(started[p]))
				fromAck = append(fromAck, max(0, seen[p].Sub(acked[p])))
			}
			slices.Sort(fromStart)
			slices.Sort(fromAck)
			pct := func(d []time.Duration, q float64) float64 {
				return float64(d[int(q*float64(len(d)-1))].Microseconds())
			}
			b.ReportMetric(pct(fromStart, 0.50), "p50-from-call-µs")
			b.ReportMetric(pct(fromStart, 0.99), "p99-from-call-µs")
			b.ReportMetric(pct(fromAck, 0.50), "p50-after-ack-µs")
			b.ReportMetric(pct(fromAck, 0.99), "p99-after-ack-µs")
		})
	}
}

// BenchmarkFsync is the cost of one commit's durability on this disk: a
// small write and an fsync of the log file. Group commit pays it once per
// batch instead of once per append.
func BenchmarkFsync(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "f"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	rec := make([]byte, 1024)
	for b.Loop() {
		if _, err := f.Write(rec); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecover measures the first Log(slug) after Open: scanning the
// whole file, checking every CRC and rebuilding the offset and key indexes.
func BenchmarkRecover(b *testing.B) {
	const events = 20000
	dir := b.TempDir()
	s, err := disklog.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	l, err := s.Log(context.Background(), "recover")
	if err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := n.Add(1); i <= events; i = n.Add(1) {
				p := benchPost(i)
				if _, err := l.Append(context.Background(), p.IdempotencyKey(), p); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	s.Close()
	for b.Loop() {
		s, err := disklog.Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Log(context.Background(), "recover"); err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
	b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
