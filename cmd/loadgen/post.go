package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
	"github.com/backchannel/backchannel/eventlog/redislog"
	"github.com/backchannel/backchannel/ingest"
	"github.com/backchannel/backchannel/ingest/sanitize"
	"github.com/backchannel/backchannel/moderation"
)

// loadPost is the post loadgen publishes: a rehearsal-source post with a
// one-paragraph body (the web form's posts are always held for a
// moderator, so they would never reach a public wall in auto mode),
// escaped by the sanitiser as a plain-text source's are.
func loadPost(uri, text string, now time.Time) event.Post {
	html, plain := sanitize.Plain(text)
	return event.Post{
		ID: event.PostID(uri), URI: uri, Source: "rehearsal", SourceName: "loadgen",
		Author: event.Author{ID: "urn:loadgen:author", Name: "Load Generator"},
		HTML:   html, Text: plain, CreatedAt: now,
	}
}

// loadCorpus reads a JSON array of Mastodon statuses and returns their
// text, as the sanitiser reads it from their HTML, joined by spaces.
func loadCorpus(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var statuses []struct {
		Content string `json:"content"`
	}
	if err := json.Unmarshal(b, &statuses); err != nil {
		return "", fmt.Errorf("%s: not a JSON array of statuses: %w", path, err)
	}
	var parts []string
	for _, s := range statuses {
		if _, text := sanitize.HTML(s.Content, nil); strings.TrimSpace(text) != "" {
			parts = append(parts, strings.Join(strings.Fields(text), " "))
		}
	}
	if len(parts) == 0 {
		return "", fmt.Errorf("%s: no status has text", path)
	}
	return strings.Join(parts, " "), nil
}

// corpusRules are loadRules, compiled once for postText.
var corpusRules = sync.OnceValue(loadRules)

// postText is post seq's text, size bytes: from the corpus when there is
// one (a window that moves along it post by post, cut on a character
// boundary, and moved on past any window the rules would hold: a cut
// can leave what reads as a phone number or an address, and every post
// must reach every wall), else a fixed sentence and a repeated word.
func postText(corpus string, seq, size int) string {
	if corpus == "" {
		if size <= 40 {
			return strings.Repeat("x", size)
		}
		return ("Voices from outside the room, load test. " + strings.Repeat("lorem ipsum ", size/12))[:size]
	}
	for len(corpus) < 2*size {
		corpus += " " + corpus
	}
	rules := corpusRules()
	var text string
	for try := 0; try < 100; try++ {
		start := (seq*613 + try*37) % (len(corpus) - size)
		for start > 0 && !utf8.RuneStart(corpus[start]) {
			start--
		}
		end := start + size
		for end > start && !utf8.RuneStart(corpus[end]) {
			end--
		}
		text = corpus[start:end]
		if rules.Evaluate(loadPost("urn:loadgen:check", text, time.Time{}), time.Time{}).Decision == event.DecisionApprove {
			break
		}
	}
	return text
}

// newSink is the ingest path loadgen's posts take: the moderation rules in
// auto mode and an idempotent append to the event's log.
func newSink(l eventlog.Log) *ingest.LogSink {
	return ingest.NewLogSink(l, loadRules(), nil, event.Actor{Role: event.RoleSource, Name: "form:loadgen"}, nil)
}

// publishHandler is POST /publish, for serve and relay alike: one post,
// handed to sink as a source's post is, answered with its position.
func publishHandler(sink *ingest.LogSink) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req publishReq
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		a, err := sink.Post(r.Context(), loadPost(req.URI, req.Text, time.Now()))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"pos":%d,"duplicate":%t}`, a.Pos, a.Duplicate)
	}
}

// loadRules are the moderation rules loadgen's posts pass: auto mode with
// the defaults' checks (personal data among them).
func loadRules() *moderation.Rules {
	rules := moderation.Rules{Mode: event.ModeAuto}
	rules.Compile()
	return &rules
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
