package main

import (
	"context"
	"fmt"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
	"github.com/backchannel/backchannel/eventlog/redislog"
	"github.com/backchannel/backchannel/ingest"
	"github.com/backchannel/backchannel/moderation"
)

// loadPost is the post loadgen publishes: a rehearsal-source post with a
// one-paragraph body (the web form's posts are always held for a
// moderator, so they would never reach a public wall in auto mode).
func loadPost(uri, text string, now time.Time) event.Post {
	return event.Post{
		ID: event.PostID(uri), URI: uri, Source: "rehearsal", SourceName: "loadgen",
		Author: event.Author{ID: "urn:loadgen:author", Name: "Load Generator"},
		HTML:   "<p>" + text + "</p>", Text: text, CreatedAt: now,
	}
}

// newSink is the ingest path loadgen's posts take: the moderation rules in
// auto mode and an idempotent append to the event's log.
func newSink(l eventlog.Log) *ingest.LogSink {
	rules := moderation.Rules{Mode: event.ModeAuto}
	rules.Compile()
	return ingest.NewLogSink(l, &rules, nil, event.Actor{Role: event.RoleSource, Name: "form:loadgen"}, nil)
}

// redisSink opens event slug's log in Redis at url and returns a sink over
// it: loadgen then appends as an ingest process does, and a fan-out node
// (backchannel --role fanout) tailing the same log delivers the posts.
func redisSink(ctx context.Context, url, slug string) (*ingest.LogSink, func(), error) {
	st, err := redislog.Open(ctx, url)
	if err != nil {
		return nil, nil, fmt.Errorf("opening redis %s: %w", url, err)
	}
	l, err := st.Log(ctx, slug)
	if err != nil {
		st.Close()
		return nil, nil, fmt.Errorf("opening the log of %q: %w", slug, err)
	}
	return newSink(l), func() { st.Close() }, nil
}
