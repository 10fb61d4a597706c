package ingest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
)

// wordRules is a small Evaluator: it rejects posts containing a word and
// holds the others, like the moderation rules in pre-moderation mode.
type wordRules struct{ word string }

func (r wordRules) Evaluate(p event.Post, now time.Time) event.Verdict {
	if r.word != "" && strings.Contains(strings.ToLower(p.Text), r.word) {
		return event.Verdict{Decision: event.DecisionReject, Rule: `blocked word "` + r.word + `"`}
	}
	return event.Verdict{Decision: event.DecisionHold, Rule: "pre-moderation"}
}

func testPost(uri, text string, created time.Time) event.Post {
	return event.Post{
		ID: event.PostID(uri), URI: uri, Source: "test",
		Author:    event.Author{ID: "https://example.org/users/ada", Handle: "@ada@example.org"},
		HTML:      "<p>" + text + "</p>",
		Text:      text,
		CreatedAt: created,
	}
}

func newTestSink(t *testing.T) (*LogSink, *memLog, time.Time) {
	t.Helper()
	st := newMemStore()
	l, err := st.Log(context.Background(), "ev")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	h := NewHealth("test:one", "test")
	sink := NewLogSink(l, wordRules{word: "spam"}, h, event.Actor{Role: event.RoleSource, Name: "test:one"}, func() time.Time { return now })
	return sink, l.(*memLog), now
}

func TestSinkPostOnceWithVerdict(t *testing.T) {
	ctx := context.Background()
	sink, l, now := newTestSink(t)
	p := testPost("https://example.org/@ada/1", "hello room", now.Add(-3*time.Second))
	res, err := sink.Post(ctx, p)
	if err != nil || res.Duplicate || res.Pos != 1 {
		t.Fatalf("first Post = %+v, %v; want pos 1, not duplicate", res, err)
	}
	res, err = sink.Post(ctx, p)
	if err != nil || !res.Duplicate || res.Pos != 1 {
		t.Fatalf("second Post = %+v, %v; want duplicate of pos 1", res, err)
	}
	if _, err := sink.Post(ctx, testPost("https://example.org/@ada/2", "buy SPAM now", now)); err != nil {
		t.Fatal(err)
	}
	evs, _ := l.Read(ctx, 0, 0)
	if len(evs) != 2 {
		t.Fatalf("log has %d events, want 2", len(evs))
	}
	e := evs[0]
	if e.Kind != event.PostReceived || e.PostID != p.ID || e.Actor != (event.Actor{Role: event.RoleSource, Name: "test:one"}) {
		t.Errorf("first event = %v", &e)
	}
	if e.Post.SourceName != "test:one" {
		t.Errorf("SourceName = %q, want the sink's source filled in", e.Post.SourceName)
	}
	if e.Verdict == nil || e.Verdict.Decision != event.DecisionHold {
		t.Errorf("first verdict = %+v, want hold", e.Verdict)
	}
	if v := evs[1].Verdict; v == nil || v.Decision != event.DecisionReject {
		t.Errorf("spam verdict = %+v, want reject", v)
	}
	if !e.Time.Equal(now) {
		t.Errorf("event time %v, want the sink's clock %v", e.Time, now)
	}
	s := sink.Health().Snapshot()
	if s.Appended != 2 || s.Duplicates != 1 {
		t.Errorf("health counted %d appended, %d duplicates; want 2, 1", s.Appended, s.Duplicates)
	}
	if s.Lag != 0 { // the last post was published "now"
		t.Errorf("lag = %v, want 0", s.Lag)
	}
}

func TestSinkEditAndDelete(t *testing.T) {
	ctx := context.Background()
	sink, l, now := newTestSink(t)
	uri := "https://example.org/@ada/1"
	p := testPost(uri, "first words", now.Add(-time.Minute))
	if _, err := sink.Post(ctx, p); err != nil {
		t.Fatal(err)
	}
	ed := p
	ed.Text, ed.HTML, ed.EditedAt = "second words", "<p>second words</p>", now.Add(-10*time.Second)
	for i := range 2 { // the same edit re-read on the next poll
		res, err := sink.Edit(ctx, ed)
		if err != nil || res.Duplicate != (i == 1) {
			t.Fatalf("Edit #%d = %+v, %v", i, res, err)
		}
	}
	ed2 := ed
	ed2.EditedAt = now
	if res, err := sink.Edit(ctx, ed2); err != nil || res.Duplicate {
		t.Fatalf("a second edit = %+v, %v; want appended", res, err)
	}
	for i := range 2 {
		res, err := sink.Delete(ctx, uri)
		if err != nil || res.Duplicate != (i == 1) {
			t.Fatalf("Delete #%d = %+v, %v", i, res, err)
		}
	}
	evs, _ := l.Read(ctx, 0, 0)
	kinds := []event.Kind{event.PostReceived, event.PostEdited, event.PostEdited, event.PostDeleted}
	if len(evs) != len(kinds) {
		t.Fatalf("log has %d events, want %d", len(evs), len(kinds))
	}
	for i, k := range kinds {
		if evs[i].Kind != k || evs[i].PostID != p.ID {
			t.Errorf("event %d = %v, want %s of %s", i, &evs[i], k, p.ID)
		}
	}
	if evs[1].Post.Text != "second words" || evs[1].Verdict == nil || evs[1].Verdict.Rule != "pre-moderation" {
		t.Errorf("edit event carries %q, verdict %v", evs[1].Post.Text, evs[1].Verdict)
	}
	if s := sink.Health().Snapshot(); s.Appended != 4 || s.Duplicates != 2 {
		t.Errorf("health counted %d appended, %d duplicates; want 4, 2", s.Appended, s.Duplicates)
	}
}

func TestSinkRejectsInvalid(t *testing.T) {
	ctx := context.Background()
	sink, l, now := newTestSink(t)
	bad := testPost("https://example.org/@ada/1", "x", now)
	bad.ID = "not-the-id"
	noSource := testPost("https://example.org/@ada/2", "x", now)
	noSource.Source = ""
	noEditTime := testPost("https://example.org/@ada/3", "x", now)
	for name, call := range map[string]func() error{
		"post with a wrong id": func() error { _, err := sink.Post(ctx, bad); return err },
		"post without source":  func() error { _, err := sink.Post(ctx, noSource); return err },
		"edit without time":    func() error { _, err := sink.Edit(ctx, noEditTime); return err },
		"delete without uri":   func() error { _, err := sink.Delete(ctx, ""); return err },
	} {
		err := call()
		var e *event.Error
		if !errors.As(err, &e) || e.Code != event.EINVALID {
			t.Errorf("%s: err = %v, want an EINVALID *event.Error", name, err)
		}
	}
	if h, _ := l.Head(ctx); h.Last != 0 {
		t.Errorf("invalid input appended %d events", h.Last)
	}
}

func TestSinkCursorsPerSource(t *testing.T) {
	ctx := context.Background()
	st := newMemStore()
	l, _ := st.Log(ctx, "ev")
	a := NewLogSink(l, nil, nil, event.Actor{Role: event.RoleSource, Name: "mastodon:a.example"}, nil)
	b := NewLogSink(l, nil, nil, event.Actor{Role: event.RoleSource, Name: "mastodon:b.example"}, nil)
	if err := a.SetCursor(ctx, "since_id", "111"); err != nil {
		t.Fatal(err)
	}
	if err := b.SetCursor(ctx, "since_id", "222"); err != nil {
		t.Fatal(err)
	}
	if v, _ := a.Cursor(ctx, "since_id"); v != "111" {
		t.Errorf("a's cursor = %q, want 111", v)
	}
	if v, _ := b.Cursor(ctx, "since_id"); v != "222" {
		t.Errorf("b's cursor = %q, want 222", v)
	}
	if v, _ := l.GetMeta(ctx, "cursor:mastodon:a.example:since_id"); v != "111" {
		t.Errorf("meta cursor:mastodon:a.example:since_id = %q, want 111", v)
	}
	if v, _ := a.Cursor(ctx, "unset"); v != "" {
		t.Errorf("unset cursor = %q, want empty", v)
	}
	// Without rules the post is appended with no verdict: pending.
	if _, err := a.Post(ctx, testPost("urn:x:1", "hi", time.Now())); err != nil {
		t.Fatal(err)
	}
	evs, _ := l.Read(ctx, 0, 0)
	if len(evs) != 1 || evs[0].Verdict != nil {
		t.Errorf("post without rules: %d events, verdict %+v", len(evs), evs)
	}
}
