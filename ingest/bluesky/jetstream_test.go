package bluesky

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/ingest/ingesttest"
	"github.com/backchannel/backchannel/moderation"
)

// fixture reads a testdata file as one compact JSON frame.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return b.Bytes()
}

// The recorded frames, in the order a replay server sends them. The two
// tagged posts carry #IndieRebellion and #talesatwonderworld.
var replayFiles = []string{
	"bluesky_jetstream_v1_post_reply_no_tags.json",          // a reply with no tags: not ours
	"bluesky_jetstream_v1_delete_commit.json",               // a delete of another collection
	"bluesky_jetstream_v1_identity_event.json",              // identity event
	"bluesky_jetstream_v1_account_event.json",               // account event (active)
	"bluesky_jetstream_v1_like_with_cursor_rfd.json",        // a like
	"bluesky_jetstream_v1_readme_deleted_follow.json",       // a deleted follow
	"bluesky_jetstream_v1_post_tag_facets.json",             // #IndieRebellion
	"bluesky_jetstream_v1_post_tag_facets_link_images.json", // #talesatwonderworld with an image
}

var eventTags = []string{"#indierebellion", "TalesAtWonderWorld"}

// jetstream is a local Jetstream: it replays frames whose time_us is after
// the requested cursor, then holds the connection (or drops it after
// dropAfter frames) until the client or the test closes it.
type jetstream struct {
	*httptest.Server
	mu        sync.Mutex
	frames    [][]byte
	cursors   []string // the cursor parameter of each connection
	dropAfter int      // close after this many frames (0: never)
	conns     atomic.Int32
}

func newJetstream(t *testing.T, frames [][]byte) *jetstream {
	j := &jetstream{frames: frames}
	up := websocket.Upgrader{}
	j.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/subscribe" || r.URL.Query().Get("wantedCollections") != Collection {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		j.conns.Add(1)
		cur, _ := strconv.ParseInt(r.URL.Query().Get("cursor"), 10, 64)
		j.mu.Lock()
		j.cursors = append(j.cursors, r.URL.Query().Get("cursor"))
		frames := append([][]byte(nil), j.frames...)
		drop := j.dropAfter
		j.mu.Unlock()
		sent := 0
		for _, f := range frames {
			if cur > 0 && frameTime(f) <= cur {
				continue
			}
			if err := c.WriteMessage(websocket.TextMessage, f); err != nil {
				return
			}
			sent++
			if drop > 0 && sent >= drop {
				// Drop mid-stream: a half-written frame, then the socket goes away.
				c.UnderlyingConn().Write([]byte{0x81, 0x7e, 0x01})
				return
			}
		}
		// Hold the connection until the client goes away.
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}))
	t.Cleanup(j.Close)
	return j
}

func (j *jetstream) wsURL() string { return "ws" + strings.TrimPrefix(j.URL, "http") }

func (j *jetstream) cursorLog() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.cursors...)
}

// appView serves getProfile for every DID, and counts the requests.
func newAppView(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/xrpc/app.bsky.actor.getProfile" {
			http.NotFound(w, r)
			return
		}
		n.Add(1)
		did := r.URL.Query().Get("actor")
		json.NewEncoder(w).Encode(Profile{Did: did, Handle: "ada.example.com", DisplayName: "Ada <b>L</b>", Avatar: "https://cdn.example/avatar.jpg"})
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func replayFrames(t *testing.T) [][]byte {
	var frames [][]byte
	for _, f := range replayFiles {
		frames = append(frames, fixture(t, f))
	}
	return frames
}

func newTestSource(t *testing.T, hosts []string, appView string) *Source {
	t.Helper()
	s, err := New(Config{
		Hosts: hosts, Tags: eventTags, AppView: appView,
		CursorEvery: time.Nanosecond, MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		ReadTimeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func run(t *testing.T, s *Source, sink *ingesttest.Sink) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, sink) }()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return after cancel")
			}
		})
	}
}

func TestOnlyTaggedPostsAppendedOnce(t *testing.T) {
	frames := replayFrames(t)
	// Every frame twice: Jetstream's replay after a reconnect repeats frames.
	js := newJetstream(t, append(frames, frames...))
	av, profileCalls := newAppView(t)
	sink := newTestSink(t)
	s := newTestSource(t, []string{js.wsURL()}, av.URL)
	stop := run(t, s, sink)
	ingesttest.WaitUntil(t, "all frames read", func() bool { return s.Stats.Frames.Load() == int64(2*len(frames)) })
	// Both authors were new: each post is named by an edit once the profile arrives.
	ingesttest.WaitUntil(t, "both authors named", func() bool { return s.Stats.Fills.Load() == 2 })
	stop()

	var events, fills []event.Entry
	for _, e := range sink.Log.Entries() {
		if e.Kind == event.PostEdited {
			fills = append(fills, e)
		} else {
			events = append(events, e)
		}
	}
	if len(events) != 2 || len(fills) != 2 {
		t.Fatalf("appended %d events and %d fill-ins, want the 2 tagged posts and 2: %v", len(events), len(fills), sink.Log.Entries())
	}
	want := map[string]bool{
		PostURI("did:plc:tn3hni2jpphsgl6amfbb7ja6", "3mptbypfywk2v"): true,
		PostURI("did:plc:ynfp6wddjqpl44gordpsqkuw", "3mptbyo7tas2u"): true,
	}
	for _, e := range events {
		if e.Kind != event.PostReceived || !want[e.Post.URI] {
			t.Errorf("unexpected append %s %v", e.Kind, e.Post)
		}
	}
	img := events[1].Post
	if len(img.Media) != 1 || img.Media[0].Kind != "image" || !strings.Contains(img.Media[0].URL, "bafkreidrnwt23f7wy7fyfex5acdkxh62wsgpg245ame4c4rogfwb3upyaa") {
		t.Errorf("image not kept: %+v", img.Media)
	}
	if img.Language != "es" || img.Author.Name != "" || img.Author.ID != "did:plc:ynfp6wddjqpl44gordpsqkuw" {
		t.Errorf("author/lang before the profile: %+v %q", img.Author, img.Language)
	}
	for _, f := range fills {
		if f.Post.Author.Handle != "@ada.example.com" || f.Post.Author.Name != "Ada <b>L</b>" || f.Post.Text == "" {
			t.Errorf("fill-in author: %+v", f.Post)
		}
	}
	if !strings.Contains(img.HTML, `<a href="https://www.tumblr.com/tempo-tales/765681292369166336/behind-them-timmi-and-wankyu-follow-silently-but?source=share" rel="nofollow noopener noreferrer" target="_blank">www.tumblr.com/tempo-tales/...</a>`) {
		t.Errorf("link facet not rendered: %s", img.HTML)
	}
	if got := sink.Health().Snapshot(); got.Appended != 4 || got.Duplicates != 2 {
		t.Errorf("health counted %d appended, %d duplicates; want 4 (2 posts, 2 fill-ins) and 2", got.Appended, got.Duplicates)
	}
	// Two authors, each resolved once although each posted twice.
	if n := profileCalls.Load(); n != 2 {
		t.Errorf("getProfile called %d times, want 2 (cached)", n)
	}
	// The pre-filter kept the untagged frames from being decoded at all
	// (identity frames are decoded for their handles).
	if d := s.Stats.Decoded.Load(); d != 6 {
		t.Errorf("decoded %d frames, want only the 4 tagged ones and the 2 identity frames", d)
	}
}

// deleteOf is the recorded delete frame with the did and rkey of a post of
// ours, as Jetstream sends when an author deletes a post.
func deleteOf(t *testing.T, did, rkey string, timeUS int64) []byte {
	var f map[string]any
	if err := json.Unmarshal(fixture(t, "bluesky_jetstream_v1_delete_commit.json"), &f); err != nil {
		t.Fatal(err)
	}
	f["did"], f["time_us"] = did, timeUS
	c := f["commit"].(map[string]any)
	c["collection"], c["rkey"] = Collection, rkey
	b, _ := json.Marshal(f)
	return b
}

func TestDeleteRemovesOnlyOurPost(t *testing.T) {
	frames := replayFrames(t)
	last := frameTime(frames[len(frames)-1])
	frames = append(frames,
		deleteOf(t, "did:plc:tn3hni2jpphsgl6amfbb7ja6", "3mptbypfywk2v", last+1), // ours
		deleteOf(t, "did:plc:q235v55g5unth4zjjdpacfdr", "3mmoojp4cd223", last+2), // the untagged reply
	)
	js := newJetstream(t, frames)
	av, _ := newAppView(t)
	sink := newTestSink(t)
	s := newTestSource(t, []string{js.wsURL()}, av.URL)
	stop := run(t, s, sink)
	ingesttest.WaitUntil(t, "all frames read", func() bool { return s.Stats.Frames.Load() == int64(len(frames)) })
	stop()
	if n := sink.Log.Count(event.PostDeleted); n != 1 {
		t.Fatalf("appended %d deletes, want 1", n)
	}
	for _, e := range sink.Log.Entries() {
		if e.Kind == event.PostDeleted && e.PostID != event.PostID(PostURI("did:plc:tn3hni2jpphsgl6amfbb7ja6", "3mptbypfywk2v")) {
			t.Errorf("deleted the wrong post %s", e.PostID)
		}
	}
}

func TestRestartResumesFromStoredCursor(t *testing.T) {
	frames := replayFrames(t)
	js := newJetstream(t, frames[:7]) // up to the first tagged post
	av, _ := newAppView(t)
	sink := newTestSink(t)
	s := newTestSource(t, []string{js.wsURL()}, av.URL)
	stop := run(t, s, sink)
	ingesttest.WaitUntil(t, "first run read its frames", func() bool { return s.Stats.Frames.Load() == 7 })
	stop()
	stored, _ := sink.Cursor(context.Background(), cursorKey)
	if stored != strconv.FormatInt(frameTime(frames[6]), 10) {
		t.Fatalf("stored cursor %q, want the last frame's time_us %d", stored, frameTime(frames[6]))
	}

	// The network moved on while we were down.
	js.mu.Lock()
	js.frames = frames
	js.mu.Unlock()
	s2 := newTestSource(t, []string{js.wsURL()}, av.URL)
	stop = run(t, s2, sink)
	ingesttest.WaitUntil(t, "both tagged posts", func() bool { return sink.Log.Count(event.PostReceived) == 2 })
	stop()
	cursors := js.cursorLog()
	margin := (10 * time.Second).Microseconds()
	if want := strconv.FormatInt(frameTime(frames[6])-margin, 10); cursors[len(cursors)-1] != want {
		t.Errorf("resumed with cursor %s, want stored minus margin %s", cursors[len(cursors)-1], want)
	}
	if n := sink.Log.Count(event.PostReceived); n != 2 {
		t.Errorf("log holds %d posts, want 2 (no gap, no repeat)", n)
	}
}

func TestDroppedConnectionFailsOver(t *testing.T) {
	frames := replayFrames(t)
	first := newJetstream(t, frames)
	first.dropAfter = 7 // drops mid-frame after the first tagged post
	second := newJetstream(t, frames)
	av, _ := newAppView(t)
	sink := newTestSink(t)
	s := newTestSource(t, []string{first.wsURL(), second.wsURL()}, av.URL)
	stop := run(t, s, sink)
	ingesttest.WaitUntil(t, "both tagged posts", func() bool { return sink.Log.Count(event.PostReceived) == 2 })
	stop()
	if second.conns.Load() == 0 {
		t.Fatal("never failed over to the second host")
	}
	cur := second.cursorLog()[0]
	if want := strconv.FormatInt(frameTime(frames[6])-(10*time.Second).Microseconds(), 10); cur != want {
		t.Errorf("second host asked from %s, want %s", cur, want)
	}
	if h := sink.Health().Snapshot(); h.LastError == "" {
		t.Error("the drop was not reported on the source's health")
	}
	if n := sink.Log.Count(event.PostReceived); n != 2 {
		t.Errorf("log holds %d posts, want 2", n)
	}
}

func TestAccountTakedownDeletesItsPosts(t *testing.T) {
	frames := replayFrames(t)
	var acct map[string]any
	json.Unmarshal(fixture(t, "bluesky_jetstream_v1_account_event.json"), &acct)
	acct["did"] = "did:plc:tn3hni2jpphsgl6amfbb7ja6"
	acct["time_us"] = frameTime(frames[len(frames)-1]) + 1
	a := acct["account"].(map[string]any)
	a["active"], a["status"], a["did"] = false, "takendown", "did:plc:tn3hni2jpphsgl6amfbb7ja6"
	b, _ := json.Marshal(acct)
	frames = append(frames, b)
	js := newJetstream(t, frames)
	av, _ := newAppView(t)
	sink := newTestSink(t)
	s := newTestSource(t, []string{js.wsURL()}, av.URL)
	stop := run(t, s, sink)
	ingesttest.WaitUntil(t, "the takedown handled", func() bool { return sink.Log.Count(event.PostDeleted) == 1 })
	stop()
}

func TestBackfillSearchesBeforeTheStream(t *testing.T) {
	rec := fixture(t, "bluesky_jetstream_v1_post_tag_facets.json")
	var f frame
	json.Unmarshal(rec, &f)
	var logins atomic.Int32
	pds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/xrpc/com.atproto.server.createSession":
			logins.Add(1)
			json.NewEncoder(w).Encode(map[string]string{"accessJwt": "jwt-1"})
		case "/xrpc/app.bsky.feed.searchPosts":
			if r.Header.Get("Authorization") != "Bearer jwt-1" {
				w.WriteHeader(http.StatusForbidden)
				return
			}
			posts := []map[string]any{}
			if r.URL.Query().Get("q") == "#indierebellion" && r.URL.Query().Get("cursor") == "" {
				posts = append(posts, map[string]any{
					"uri":    PostURI(f.Did, f.Commit.Rkey),
					"author": Profile{Did: f.Did, Handle: "tn.example.com", DisplayName: "TN"},
					"record": f.Commit.Record,
				})
			}
			json.NewEncoder(w).Encode(map[string]any{"posts": posts, "cursor": ""})
		default:
			http.NotFound(w, r)
		}
	}))
	defer pds.Close()
	js := newJetstream(t, nil) // the stream has nothing: only search can find it
	av, _ := newAppView(t)
	sink := newTestSink(t)
	s, err := New(Config{
		Hosts: []string{js.wsURL()}, Tags: eventTags, AppView: av.URL, MinBackoff: 5 * time.Millisecond,
		Backfill: &BackfillConfig{Service: pds.URL, Identifier: "host.example.com", Password: "app-pass", Since: time.Now().Add(-time.Hour)},
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, s, sink)
	ingesttest.WaitUntil(t, "the searched post", func() bool { return sink.Log.Count(event.PostReceived) == 1 })
	ingesttest.WaitUntil(t, "the stream connected", func() bool { return js.conns.Load() > 0 })
	stop()
	if logins.Load() != 1 {
		t.Errorf("logged in %d times, want 1", logins.Load())
	}
	if p := sink.Log.Entries()[0].Post; p.Author.Handle != "@tn.example.com" {
		t.Errorf("author from the search result not kept: %+v", p.Author)
	}
	// The stream starts from where the search ended, not from the live edge.
	if c := js.cursorLog()[0]; c == "" {
		t.Error("stream started without a cursor after back-fill")
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	for _, c := range []Config{
		{Tags: []string{"x"}},
		{Hosts: []string{"https://jetstream.example"}, Tags: []string{"x"}},
		{Hosts: []string{"wss://jetstream.example"}, Tags: []string{" #"}},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v) accepted a bad config", c)
		}
	}
}

// newTestSink returns a recording sink over a log of its own that judges
// posts with the default moderation rules, as the runner's sink does.
func newTestSink(testing.TB) *ingesttest.Sink {
	rules := moderation.Default()
	s := ingesttest.NewSink(ingesttest.NewLog(), "bluesky", "bluesky")
	s.Rules = &rules
	return s
}
