package feed

import (
	"context"
	"testing"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog/disklog"
	"github.com/backchannel/backchannel/ingest"
	"github.com/backchannel/backchannel/ingest/ingesttest"
)

// TestRestartOverDiskLog runs the source against the real ingest.LogSink
// over the embedded engine, stops it, closes and reopens the log (a process
// restart) and runs a new source: the second run sends the validators the
// first stored beside the log, gets a 304, and the log holds each status
// once. The health the sink keeps counts the appends.
func TestRestartOverDiskLog(t *testing.T) {
	dir := t.TempDir()
	fs := newFeedServer(t, fixture(t, "mastodon_tag_kubernetes.rss"))
	cfg := Config{URL: fs.URL + "/tags/kubernetes.rss"}

	runOnce := func(wantRequests int) ingest.HealthSnapshot {
		store, err := disklog.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		lg, err := store.Log(t.Context(), "ourday")
		if err != nil {
			t.Fatal(err)
		}
		src := newSource(t, cfg)
		health := ingest.NewHealth(src.Name(), Kind)
		sink := ingest.NewLogSink(lg, nil, health, event.Actor{Role: event.RoleSource, Name: src.Name()}, nil)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- src.Run(ctx, sink) }()
		ingesttest.WaitUntil(t, "the poll", func() bool {
			fs.mu.Lock()
			defer fs.mu.Unlock()
			return len(fs.requests) >= wantRequests && health.Snapshot().State == ingest.StateOK
		})
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
		evs, err := lg.Read(t.Context(), 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		for _, e := range evs {
			if e.Kind != event.PostReceived {
				t.Errorf("unexpected %s", e.Kind)
			}
			seen[e.PostID]++
		}
		if len(evs) != 4 || len(seen) != 4 {
			t.Errorf("log holds %d events for %d posts, want 4 and 4", len(evs), len(seen))
		}
		if _, ok := seen[event.PostID("https://ioc.exchange/users/jon404/statuses/111544891736153138")]; !ok {
			t.Error("the status is not stored under its ActivityPub URI")
		}
		return health.Snapshot()
	}

	if h := runOnce(1); h.Appended != 4 {
		t.Errorf("first run counted %d appended, want 4", h.Appended)
	}
	fs.mu.Lock()
	n := len(fs.requests)
	fs.mu.Unlock()
	if h := runOnce(n + 1); h.Appended != 0 || h.Duplicates != 0 {
		t.Errorf("second run counted %d appended, %d duplicates; want 0 and 0 (a 304)", h.Appended, h.Duplicates)
	}
	if r := fs.request(n); r.Header.Get("If-None-Match") != `"v1"` {
		t.Errorf("after the restart the request carried If-None-Match %q", r.Header.Get("If-None-Match"))
	}
}
