package ingesttest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
)

func post(uri string) event.Post {
	return event.Post{ID: event.PostID(uri), URI: uri, Source: "test", SourceName: "a",
		Author: event.Author{ID: "https://example.org/users/ada"}, Text: "hi", HTML: "hi",
		CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func TestSinkAppendsOncePerKey(t *testing.T) {
	ctx := context.Background()
	l := NewLog()
	a, b := NewSink(l, "a", "test"), NewSink(l, "b", "test")
	if r, err := a.Post(ctx, post("https://example.org/1")); err != nil || r.Pos != 1 || r.Duplicate {
		t.Fatalf("first Post = %+v, %v", r, err)
	}
	if r, err := b.Post(ctx, post("https://example.org/1")); err != nil || !r.Duplicate {
		t.Fatalf("same post from another sink = %+v, %v; want a duplicate", r, err)
	}
	if l.Count(event.PostReceived) != 1 || l.CountOf(event.PostReceived, "https://example.org/1") != 1 {
		t.Fatalf("kinds %v", l.Kinds())
	}
	if h := a.Health().Snapshot(); h.Appended != 1 {
		t.Errorf("health %+v, want 1 appended", h)
	}
	// Cursors are per source.
	_ = a.SetCursor(ctx, "k", "1")
	if v, _ := b.Cursor(ctx, "k"); v != "" {
		t.Errorf("b sees a's cursor %q", v)
	}
	if v, _ := a.Cursor(ctx, "k"); v != "1" {
		t.Errorf("a's cursor %q, want 1", v)
	}
}

func TestSinkKnownOnlyAndFail(t *testing.T) {
	ctx := context.Background()
	l := NewLog()
	s := NewSink(l, "a", "test")
	s.KnownOnly = true
	p := post("https://example.org/2")
	p.EditedAt = p.CreatedAt.Add(time.Minute)
	if _, err := s.Edit(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete(ctx, "https://example.org/never"); err != nil {
		t.Fatal(err)
	}
	if k := l.Kinds(); k[event.PostReceived] != 1 || len(k) != 1 {
		t.Fatalf("kinds %v, want the edit as one received post", k)
	}
	down := errors.New("down")
	l.Fail(down)
	if _, err := s.Post(ctx, post("https://example.org/3")); !errors.Is(err, down) {
		t.Fatalf("Post while failing = %v", err)
	}
	l.Fail(nil)
	if _, err := s.Post(ctx, post("https://example.org/3")); err != nil {
		t.Fatal(err)
	}
	WaitUntil(t, "two posts", func() bool { return l.Count(event.PostReceived) == 2 })
}
