package main

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/backchannel/backchannel/config"
	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/ingest"
	"github.com/backchannel/backchannel/moderation"
)

// The rules every source's sink evaluates arriving posts with: moderation
// satisfies ingest's interface without importing ingest.
var _ ingest.Evaluator = moderation.ModeRules{}

// Every configured source type becomes a source of the ingest runner, named
// as the config names it, with the event's window and rules.
func TestEventSources(t *testing.T) {
	c, err := config.Parse("e.yaml", []byte(`events:
  - slug: ev
    hashtags: [Leaders4Leeds]
    start: 2026-03-12T09:00:00Z
    lead_in: 1h
    sources:
      - {type: mastodon, server: "https://mastodon.social"}
      - {type: bluesky, handle: ada.bsky.social, password_env: PW}
      - {type: rss, url: "https://blog.example.org/feed/"}
      - {type: rehearsal, rate: 60}
      - {type: x, bearer_token_env: XT, budget_usd: 20}
    moderation:
      mode: auto
      blocked_words: [spam]
`), func(k string) string { return map[string]string{"PW": "app-password", "XT": "x-token"}[k] })
	if err != nil {
		t.Fatal(err)
	}
	ec := &c.Events[0]
	es, err := eventSources(ec, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range es.Sources {
		names = append(names, s.Name()+"/"+s.Kind())
	}
	want := []string{"mastodon:mastodon.social/mastodon", "bluesky/bluesky", "rss:blog.example.org/feed//rss", "rehearsal/rehearsal", "x/x"}
	for i := range ec.Sources {
		if got := es.Sources[i].Name(); got != ec.Sources[i].Name() {
			t.Errorf("source %d: config names it %q, ingest %q", i, ec.Sources[i].Name(), got)
		}
	}
	if len(names) != len(want) {
		t.Fatalf("sources = %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Errorf("source %d = %s, want %s", i, names[i], want[i])
		}
	}
	if !es.Window.Opens().Equal(time.Date(2026, 3, 12, 8, 0, 0, 0, time.UTC)) {
		t.Errorf("window opens %v", es.Window.Opens())
	}
	// The rules are the configured ones: auto mode, the blocked word holds.
	now := time.Now()
	p := event.Post{URI: "urn:x", Source: "mastodon", Text: "a fine post", Author: event.Author{ID: "a", Handle: "@a@b.example"}}
	if v := es.Rules.Evaluate(p, now); v.Decision != event.DecisionApprove {
		t.Errorf("plain post in auto mode: %+v", v)
	}
	p.Text = "buy spam now"
	if v := es.Rules.Evaluate(p, now); v.Decision != event.DecisionHold {
		t.Errorf("blocked word: %+v", v)
	}
}
