package ingest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
	"github.com/backchannel/backchannel/eventlog/disklog"
	"github.com/backchannel/backchannel/eventlog/redislog"
	"github.com/backchannel/backchannel/internal/redistest"
	"github.com/backchannel/backchannel/moderation"
)

// benchPost is a typical status: a paragraph, a hashtag, an image with alt text.
func benchPost(i int64) event.Post {
	uri := fmt.Sprintf("https://mastodon.example/users/ada/statuses/%d", i)
	return event.Post{
		ID: event.PostID(uri), URI: uri, Source: "mastodon", SourceName: "mastodon:mastodon.example",
		Author: event.Author{ID: "https://mastodon.example/users/ada", Name: "Ada", Handle: "@ada@mastodon.example"},
		HTML:   "<p>Really interesting point about community land trusts. Does anyone have a link to the report? #OurDay</p>",
		Text:   "Really interesting point about community land trusts. Does anyone have a link to the report? #OurDay",
		Media:  []event.Media{{Kind: "image", URL: "https://files.mastodon.example/a.png", Alt: "a bar chart of bus journeys"}},
		Tags:   []string{"OurDay"}, Language: "en", CreatedAt: time.Now(),
	}
}

// benchSink measures LogSink.Post (rules, validation, idempotent append)
// with b.N posts from 8 goroutines, as several sources of one event append
// at once.
func benchSink(b *testing.B, l eventlog.Log) {
	rules := moderation.Default()
	sink := NewLogSink(l, &rules, NewHealth("bench", "mastodon"), event.Actor{Role: event.RoleSource, Name: "bench"}, nil)
	var seq atomic.Int64
	ctx := context.Background()
	b.SetParallelism(4) // 4 x GOMAXPROCS goroutines
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := sink.Post(ctx, benchPost(seq.Add(1))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "posts/s")
}

func BenchmarkLogSinkPost(b *testing.B) {
	b.Run("disklog", func(b *testing.B) {
		st, err := disklog.Open(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		l, _ := st.Log(context.Background(), "bench")
		benchSink(b, l)
	})
	b.Run("redis", func(b *testing.B) {
		srv := redistest.Start(b)
		st, err := redislog.Open(context.Background(), srv.URL)
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		l, _ := st.Log(context.Background(), "bench")
		benchSink(b, l)
	})
	b.Run("duplicate-disklog", func(b *testing.B) {
		// The common case on a busy hashtag: the post is already in the log
		// (seen on another server, or re-read on the next poll).
		st, err := disklog.Open(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		l, _ := st.Log(context.Background(), "bench")
		sink := NewLogSink(l, nil, nil, event.Actor{Role: event.RoleSource, Name: "bench"}, nil)
		p := benchPost(1)
		if _, err := sink.Post(context.Background(), p); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if res, err := sink.Post(context.Background(), p); err != nil || !res.Duplicate {
				b.Fatal(res, err)
			}
		}
	})
}
