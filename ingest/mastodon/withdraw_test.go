package mastodon

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/fold"
	"github.com/backchannel/backchannel/ingest/ingesttest"
)

// A status of ours edited to drop the event's tag leaves the wall, the
// overlay and the facilitators' list; the audit says why.
func TestEditDroppingTheTagWithdrawsThePost(t *testing.T) {
	f := newFakeServer(t)
	cfg := fastConfig(f.srv.URL, "OurDay")
	cfg.DeleteCheckInterval = 20 * time.Millisecond // re-fetch our posts often
	log := ingesttest.NewLog()
	src := mustNew(t, cfg)
	sink := newMemSink(log, src.Name())
	id := f.add(numbered(t, 1, "OurDay", time.Now().Add(-time.Minute)))
	f.add(numbered(t, 2, "OurDay", time.Now().Add(-time.Minute)))
	stop := run(t, src, sink)
	ingesttest.WaitUntil(t, "the posts", func() bool { return log.Count(event.PostReceived) == 2 })

	f.update(id, func(st map[string]any) {
		st["content"] = "<p>post 1, wrong event</p>"
		st["tags"] = []any{map[string]any{"name": "SomethingElse", "url": "https://origin.example/tags/SomethingElse"}}
		st["edited_at"] = time.Now().UTC().Format(time.RFC3339Nano)
	})
	ingesttest.WaitUntil(t, "the withdrawal", func() bool { return log.CountOf(event.PostWithdrawn, uriOf(1)) == 1 })
	// Later checks see the same version: nothing more is appended.
	checks := f.requestCount("/api/v1/statuses/")
	ingesttest.WaitUntil(t, "more checks", func() bool { return f.requestCount("/api/v1/statuses/") > checks+4 })
	stop()
	if n := log.Count(event.PostWithdrawn); n != 1 {
		t.Errorf("%d withdrawals, want 1", n)
	}
	if n := log.CountOf(event.PostEdited, uriOf(1)); n != 0 {
		t.Errorf("the untagged version was appended as an edit %d times", n)
	}

	// The moderators had approved it, made it a question and read it out.
	mod := event.Actor{Role: event.RoleModerator, Name: "mo"}
	pid := event.PostID(uriOf(1))
	var entries []event.Entry
	for _, e := range log.Entries() {
		entries = append(entries, e)
		if e.Kind == event.PostReceived {
			entries = append(entries,
				event.Entry{Kind: event.PostApproved, Actor: mod, PostID: e.PostID},
				event.Entry{Kind: event.QuestionFlagged, Actor: mod, PostID: e.PostID})
			if e.PostID == pid {
				entries = append(entries, event.Entry{Kind: event.QuestionReading, Actor: mod, QuestionID: pid})
			}
		}
	}
	for i := range entries {
		entries[i].Pos = uint64(i + 1)
	}
	st := fold.Fold(fold.SettingsView{Moderation: event.ModePre}, entries)
	w := st.Wall(0)
	if len(w.Posts) != 1 || w.Posts[0].ID == pid || w.NowReading != nil {
		t.Errorf("wall after the edit: %+v", w)
	}
	for _, q := range st.Questions() {
		if q.ID == pid {
			t.Errorf("the facilitators still list it: %+v", q)
		}
	}
	p, ok := st.Post(pid)
	if !ok || p.Rule != "edited to remove #OurDay" || !strings.Contains(p.Text, "wrong event") {
		t.Errorf("moderators see %+v (found %v)", p, ok)
	}
	if a := st.Audit(1)[0]; a.Kind != event.PostWithdrawn || !strings.Contains(a.Summary, "edited to remove #OurDay") {
		t.Errorf("audit: %+v", a)
	}
}

// restartableStream is a streaming host that can go down and come back on
// the same address.
type restartableStream struct {
	t     *testing.T
	addr  string
	conns atomic.Int32

	mu   sync.Mutex
	srv  *http.Server
	open []*websocket.Conn
}

func (r *restartableStream) start() {
	ln, err := net.Listen("tcp", r.addr)
	if err != nil {
		r.t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		c, err := upgrader.Upgrade(w, req, nil)
		if err != nil {
			return
		}
		r.mu.Lock()
		r.open = append(r.open, c)
		r.mu.Unlock()
		r.conns.Add(1)
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	})}
	r.mu.Lock()
	r.srv = srv
	r.mu.Unlock()
	go srv.Serve(ln)
}

func (r *restartableStream) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.srv == nil {
		return
	}
	r.srv.Close()
	r.srv = nil
	for _, c := range r.open {
		c.Close()
	}
	r.open = nil
}

// After the streaming host was down long enough for the wait to have grown
// to 30 s, the stream is live again within 5 s of the host answering.
func TestStreamLiveWithinSecondsOfTheHostReturning(t *testing.T) {
	rs := &restartableStream{t: t, addr: "127.0.0.1:0"}
	rs.start()
	t.Cleanup(rs.stop)
	api := newFakeServer(t)
	api.mu.Lock()
	api.streamingHost = "ws://" + rs.addr
	api.mu.Unlock()
	cfg := fastConfig(api.srv.URL, "OurDay")
	cfg.Token, cfg.Stream, cfg.PollInterval = "tok", true, time.Hour
	cfg.MinBackoff, cfg.MaxBackoff = 30*time.Second, 30*time.Second
	log := ingesttest.NewLog()
	src := mustNew(t, cfg)
	sink := newMemSink(log, src.Name())
	run(t, src, sink)
	ingesttest.WaitUntil(t, "streaming", func() bool { return rs.conns.Load() == 1 && sink.Health().Snapshot().Streaming })
	rs.stop()
	ingesttest.WaitUntil(t, "the source saw the host down", func() bool { return src.probeFailures.Load() >= 2 })
	back := time.Now()
	rs.start()
	deadline := back.Add(5 * time.Second)
	for !(rs.conns.Load() == 2 && sink.Health().Snapshot().Streaming) {
		if time.Now().After(deadline) {
			t.Fatal("not streaming again within 5s of the host answering")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("streaming again %v after the host answered", time.Since(back))
}

// A hanging instance lookup delays the stream by its bound, not the HTTP
// client's, and the stream then uses the server's own host.
func TestHangingInstanceLookupIsBounded(t *testing.T) {
	f := newFakeServer(t)
	f.token = "tok"
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	f.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/api/v2/instance" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return true
		}
		return false
	})
	cfg := fastConfig(f.srv.URL, "OurDay")
	cfg.Token, cfg.Stream, cfg.PollInterval = "tok", true, time.Hour
	cfg.HTTPClient = &http.Client{Timeout: time.Minute}
	cfg.InstanceTimeout = 100 * time.Millisecond
	log := ingesttest.NewLog()
	src := mustNew(t, cfg)
	sink := newMemSink(log, src.Name())
	start := time.Now()
	run(t, src, sink)
	ingesttest.WaitUntil(t, "streaming from the server's own host", func() bool { return len(f.subscriptions()) == 1 })
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("streaming began %v after start", d)
	}
}
