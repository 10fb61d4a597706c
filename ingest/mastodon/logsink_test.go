package mastodon

import (
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog/disklog"
	"github.com/backchannel/backchannel/ingest"
	"github.com/backchannel/backchannel/ingest/ingesttest"
)

// TestWithLogSinkOnDisk runs three sources against the real ingest.LogSink
// over the embedded engine: overlapping posts (one seen edited on one
// server and unedited on another) and a delete; the log on disk holds each
// post received once, at most one edit, the edited version last, and the
// delete once.
func TestWithLogSinkOnDisk(t *testing.T) {
	store, err := disklog.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	lg, err := store.Log(t.Context(), "ourday")
	if err != nil {
		t.Fatal(err)
	}
	base := time.Now().Add(-time.Hour)
	editedAt := base.Add(90 * time.Minute).UTC().Format(time.RFC3339Nano)
	var servers []*fakeServer
	for i := range 3 {
		f := newFakeServer(t)
		f.next += int64(i) * 3
		servers = append(servers, f)
		cfg := fastConfig(f.srv.URL, "OurDay")
		cfg.RereadInterval = 30 * time.Millisecond
		cfg.DeleteCheckInterval = 30 * time.Millisecond
		src := mustNew(t, cfg)
		sink := ingest.NewLogSink(lg, nil, ingest.NewHealth(src.Name(), Kind), event.Actor{Role: event.RoleSource, Name: src.Name()}, nil)
		for n := 1; n <= 12; n++ {
			if n%3 == i { // each server misses a third
				continue
			}
			st := numbered(t, n, "OurDay", base)
			if n == 5 && i == 1 { // server 1 only ever saw post 5 edited
				st["edited_at"] = editedAt
				st["content"] = "<p>post 5, edited</p>"
			}
			f.add(st)
		}
		run(t, src, sink)
	}
	lastText := func(uri string) string {
		evs, err := lg.Read(t.Context(), 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		text := ""
		for _, e := range evs {
			if e.PostID == event.PostID(uri) && e.Post != nil {
				text = e.Post.Text
			}
		}
		return text
	}
	uris := func() map[string]map[event.Kind]int {
		evs, err := lg.Read(t.Context(), 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]map[event.Kind]int{}
		for _, e := range evs {
			if m[e.PostID] == nil {
				m[e.PostID] = map[event.Kind]int{}
			}
			m[e.PostID][e.Kind]++
		}
		return m
	}
	// Whichever server is polled first, the log ends with the edited
	// version of post 5: as the received post, or as an edit of it.
	ingesttest.WaitUntil(t, "all twelve posts and the edit of post 5", func() bool {
		return len(uris()) == 12 && lastText(uriOf(5)) == "post 5, edited"
	})
	// Post 1 is deleted at its origin, and so on every server.
	for _, f := range servers {
		f.mu.Lock()
		for _, s := range f.statuses {
			if s["uri"] == uriOf(1) {
				f.deleted[s["id"].(string)] = true
			}
		}
		f.mu.Unlock()
	}
	ingesttest.WaitUntil(t, "the delete", func() bool { return uris()[event.PostID(uriOf(1))][event.PostDeleted] == 1 })
	ingesttest.WaitUntil(t, "more rounds", func() bool { return servers[0].requestCount("/api/v1/statuses/") >= 10 })
	for n := 1; n <= 12; n++ {
		k := uris()[event.PostID(uriOf(n))]
		if k[event.PostReceived] != 1 {
			t.Errorf("post %d: %v, want one post.received", n, k)
		}
		maxEdits, wantDeletes := 0, 0
		if n == 5 {
			maxEdits = 1
		}
		if n == 1 {
			wantDeletes = 1
		}
		if k[event.PostEdited] > maxEdits || k[event.PostDeleted] != wantDeletes {
			t.Errorf("post %d: %v", n, k)
		}
	}
}
