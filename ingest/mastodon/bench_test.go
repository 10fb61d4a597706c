package mastodon

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	gomastodon "github.com/mattn/go-mastodon"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
	"github.com/backchannel/backchannel/ingest/ingesttest"
	"github.com/backchannel/backchannel/moderation"
)

// BenchmarkParseSanitiseConvert measures statuses per second from the
// recorded tag timeline page (JSON) to event.Post: decode, resolve, sanitise,
// convert.
func BenchmarkParseSanitiseConvert(b *testing.B) {
	body := readFixture(b, "mastodon_tag_timeline_page1_limit10.body.json")
	var n int
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var page []*gomastodon.Status
		if err := json.Unmarshal(body, &page); err != nil {
			b.Fatal(err)
		}
		for _, st := range page {
			if o := original(st); keep(o) {
				p := Convert(o, "localhost:3000")
				if p.HTML == "" {
					b.Fatal("empty HTML")
				}
				n++
			}
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "statuses/s")
}

// latencySink records when Post was called for each URI.
type latencySink struct {
	*ingesttest.Sink
	at chan time.Time
}

func (s *latencySink) Post(ctx context.Context, p event.Post) (eventlog.Appended, error) {
	a, err := s.Sink.Post(ctx, p)
	s.at <- time.Now()
	return a, err
}

// benchStreamLatency measures the time from a status frame being written
// by a local streaming server to the source's Sink.Post call, one status at
// a time, and reports p50/p99.
func benchStreamLatency(b *testing.B) {
	f := newFakeServer(b)
	f.token = "tok"
	cfg := fastConfig(f.srv.URL, "OurDay")
	cfg.Token, cfg.Stream, cfg.PollInterval = "tok", true, time.Hour
	src, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	sink := &latencySink{Sink: newMemSink(ingesttest.NewLog(), src.Name()), at: make(chan time.Time, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, sink) }()
	defer func() {
		cancel()
		<-done
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !sink.Health().Snapshot().Streaming || len(f.subscriptions()) == 0 {
		if time.Now().After(deadline) {
			b.Fatal("no stream")
		}
		time.Sleep(time.Millisecond)
	}
	tmpl := numbered(b, 0, "OurDay", time.Now())
	var lat []time.Duration
	i := 0
	for b.Loop() {
		i++
		st := clone(b, tmpl)
		st["id"] = fmt.Sprint(200000000000000000 + i)
		st["uri"] = fmt.Sprintf("https://origin.example/users/ada/statuses/bench-%d", i)
		msg := envelope(b, "update", st)
		start := time.Now()
		if err := f.push(msg); err != nil {
			b.Fatal(err)
		}
		select {
		case at := <-sink.at:
			lat = append(lat, at.Sub(start))
		case <-time.After(5 * time.Second):
			b.Fatal("status not delivered")
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkStreamToWall measures what a participant sees: the time from a
// tagged public status being written on a local server's user stream (the
// token's account follows the tag; the hashtag stream is silent, as on
// GoToSocial) to the public wall API (GET /api/events/{slug}/wall, read
// every millisecond) showing it, through the real LogSink with auto-mode
// rules, the embedded log on disk, the fold and the wall server. One status
// at a time; run it with -benchtime=100x for 100 posts. Reports p50, p99
// and the worst.
func BenchmarkStreamToWall(b *testing.B) {
	f := newFakeServer(b)
	f.token = "tok"
	f.domain = "a.example"
	w := newTestWall(b, event.ModeAuto)
	cfg := fastConfig(f.srv.URL, "OurDay")
	cfg.Token, cfg.Stream, cfg.PollInterval = "tok", true, time.Hour
	src, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, w.sink(src.Name(), &moderation.Rules{Mode: event.ModeAuto})) }()
	defer func() {
		cancel()
		<-done
	}()
	deadline := time.Now().Add(10 * time.Second)
	for f.userStreams() == 0 || !slices.Contains(f.followed(), "OurDay") {
		if time.Now().After(deadline) {
			b.Fatal("no user stream")
		}
		time.Sleep(time.Millisecond)
	}
	tmpl := asAda(numbered(b, 0, "OurDay", time.Now()), true, false)
	var lat []time.Duration
	i := 0
	for b.Loop() {
		i++
		st := clone(b, tmpl)
		st["id"] = fmt.Sprint(300000000000000000 + i)
		uri := fmt.Sprintf("https://origin.example/users/ada/statuses/wall-%d", i)
		st["uri"] = uri
		msg := userEnvelope(b, "update", st)
		start := time.Now()
		if err := f.push(msg); err != nil {
			b.Fatal(err)
		}
		for {
			if _, ok := w.shows(uri); ok {
				break
			}
			if time.Since(start) > 10*time.Second {
				b.Fatal("status not on the wall")
			}
			time.Sleep(time.Millisecond)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[(len(lat)*99+99)/100-1].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
}
