package feed

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"
)

// BenchmarkParseConvert measures parsing the real Mastodon hashtag feed
// (4 statuses, 8.7 KB) with gofeed and turning every item into a sanitised
// event.Post: the CPU one poll of a changed feed costs, without the network
// and the log.
func BenchmarkParseConvert(b *testing.B) {
	doc := []byte(fixtureB(b, "mastodon_tag_kubernetes.rss"))
	s, err := New(Config{URL: "https://hachyderm.io/tags/kubernetes.rss"})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	items := 0
	for b.Loop() {
		f, err := gofeed.NewParser().Parse(bytes.NewReader(doc))
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range s.candidates(f, true, time.Time{}) {
			if _, ok := s.convert(f, c.item, true, time.Time{}); ok {
				items++
			}
		}
	}
	b.ReportMetric(float64(items)/b.Elapsed().Seconds(), "items/s")
}

// BenchmarkPollUnchanged measures a poll of a server that ignores the
// validators and sends the same document again (the costly polite-failure
// case): a loopback GET, the parse, and the seen-set skipping every item
// without a call to the sink.
func BenchmarkPollUnchanged(b *testing.B) {
	fs := &feedServer{doc: fixtureB(b, "mastodon_tag_kubernetes.rss"), etag: `"v1"`, ignore: true}
	srv := newBenchServer(b, fs)
	s, err := New(Config{URL: srv + "/tags/kubernetes.rss", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	sink := newMemSink()
	ctx := context.Background()
	if err := s.poll(ctx, sink); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.poll(ctx, sink); err != nil {
			b.Fatal(err)
		}
	}
	if n := len(sink.Log.Entries()); n != 4 {
		b.Fatalf("log has %d events, want 4", n)
	}
}
