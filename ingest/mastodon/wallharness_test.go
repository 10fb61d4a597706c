package mastodon

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/backchannel/backchannel/config"
	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
	"github.com/backchannel/backchannel/eventlog/disklog"
	"github.com/backchannel/backchannel/fold"
	"github.com/backchannel/backchannel/ingest"
	"github.com/backchannel/backchannel/moderation"
	"github.com/backchannel/backchannel/wall"
)

// wallSlug is the event the wall harness serves.
const wallSlug = "ourday"

// testWall is the public side of one event, as a node serves it: the
// embedded log on disk, the fold kept live, and the wall server's HTTP API.
type testWall struct {
	t    testing.TB
	log  eventlog.Log
	live *fold.Live
	srv  *httptest.Server
}

// newTestWall serves the event in mode with the given blocked accounts.
func newTestWall(t testing.TB, mode event.Mode) *testWall {
	t.Helper()
	store, err := disklog.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	lg, err := store.Log(ctx, wallSlug)
	if err != nil {
		t.Fatal(err)
	}
	live := fold.NewLive(lg, fold.SettingsView{Title: "Our Day", Moderation: mode})
	done := make(chan struct{})
	go func() { defer close(done); _ = live.Run(ctx) }()
	quiet := slog.New(slog.DiscardHandler)
	ws := wall.New(wall.Options{Store: store, Logger: quiet})
	cfg := &config.Event{Slug: wallSlug, Title: "Our Day", Hashtags: []string{"OurDay"}, Moderation: config.Moderation{Mode: mode}}
	if err := ws.AddEvent(&wall.Event{Config: cfg, Log: lg, Live: live}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ws)
	t.Cleanup(func() {
		srv.Close()
		cancel()
		<-done
		_ = store.Close()
	})
	return &testWall{t: t, log: lg, live: live, srv: srv}
}

// sink is the sink the ingest runner gives a source: the real LogSink
// with the event's rules.
func (w *testWall) sink(name string, rules *moderation.Rules) *ingest.LogSink {
	rules.Compile()
	return ingest.NewLogSink(w.log, rules, ingest.NewHealth(name, Kind), event.Actor{Role: event.RoleSource, Name: name}, nil)
}

// wallPost is what the public wall API shows of a post.
type wallPost struct {
	ID     string `json:"id"`
	Text   string `json:"text"`
	Author struct {
		Handle string `json:"handle"`
	} `json:"author"`
}

// posts reads the public wall API (GET /api/events/{slug}/wall).
func (w *testWall) posts() []wallPost {
	res, err := http.Get(w.srv.URL + "/api/events/" + wallSlug + "/wall?limit=500")
	if err != nil {
		w.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		w.t.Fatalf("wall API: %s %s", res.Status, b)
	}
	var body struct {
		Posts []wallPost `json:"posts"`
	}
	if err := json.Unmarshal(b, &body); err != nil {
		w.t.Fatalf("wall API: %v: %s", err, b)
	}
	return body.Posts
}

// shows returns the wall API's post with this URI, if it is there.
func (w *testWall) shows(uri string) (wallPost, bool) {
	id := event.PostID(uri)
	for _, p := range w.posts() {
		if p.ID == id {
			return p, true
		}
	}
	return wallPost{}, false
}

// showsText reports whether the wall API shows the post with this text.
func (w *testWall) showsText(uri, text string) bool {
	p, ok := w.shows(uri)
	return ok && strings.Contains(p.Text, text)
}
