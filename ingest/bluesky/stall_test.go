package bluesky

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
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

// liveJetstream is a local Jetstream that sends what the test pushes, as
// it pushes it, and that can be stopped and started again on its address.
type liveJetstream struct {
	t     *testing.T
	addr  string
	push  chan []byte
	conns atomic.Int32 // websocket connections accepted, ever

	mu   sync.Mutex
	srv  *http.Server
	open map[*websocket.Conn]bool
}

func newLiveJetstream(t *testing.T) *liveJetstream {
	j := &liveJetstream{t: t, addr: "127.0.0.1:0", push: make(chan []byte, 100), open: map[*websocket.Conn]bool{}}
	j.start()
	t.Cleanup(j.stop)
	return j
}

func (j *liveJetstream) start() {
	ln, err := net.Listen("tcp", j.addr)
	if err != nil {
		j.t.Fatal(err)
	}
	j.addr = ln.Addr().String()
	up := websocket.Upgrader{}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		j.mu.Lock()
		j.open[c] = true
		j.mu.Unlock()
		j.conns.Add(1)
		gone := make(chan struct{})
		go func() {
			defer close(gone)
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
			}
		}()
		for {
			select {
			case <-gone:
				return
			case f := <-j.push:
				if err := c.WriteMessage(websocket.TextMessage, f); err != nil {
					return
				}
			}
		}
	})}
	j.mu.Lock()
	j.srv = srv
	j.mu.Unlock()
	go srv.Serve(ln)
}

// stop closes the listener and every connection, as a crashed Jetstream does.
func (j *liveJetstream) stop() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.srv == nil {
		return
	}
	j.srv.Close()
	j.srv = nil
	for c := range j.open {
		c.Close()
	}
	clear(j.open)
}

func (j *liveJetstream) url() string { return "ws://" + j.addr }

// postBy is the recorded tagged post, as a create by did with rkey at timeUS.
func postBy(t *testing.T, did, rkey string, timeUS int64, op string) []byte {
	var f map[string]any
	if err := json.Unmarshal(fixture(t, "bluesky_jetstream_v1_post_tag_facets.json"), &f); err != nil {
		t.Fatal(err)
	}
	f["did"], f["time_us"] = did, timeUS
	c := f["commit"].(map[string]any)
	c["rkey"], c["operation"] = rkey, op
	b, _ := json.Marshal(f)
	return b
}

// untagged is the recorded tagged post edited to drop its tags: the facets
// and the tags in the text are gone.
func untagged(t *testing.T, did, rkey string, timeUS int64) []byte {
	var f map[string]any
	if err := json.Unmarshal(fixture(t, "bluesky_jetstream_v1_post_tag_facets.json"), &f); err != nil {
		t.Fatal(err)
	}
	f["did"], f["time_us"] = did, timeUS
	c := f["commit"].(map[string]any)
	c["rkey"], c["operation"] = rkey, "update"
	rec := c["record"].(map[string]any)
	delete(rec, "facets")
	rec["text"] = "never mind, wrong event"
	b, _ := json.Marshal(f)
	return b
}

// identityOf is the recorded identity frame for did with handle.
func identityOf(t *testing.T, did, handle string, timeUS int64) []byte {
	var f map[string]any
	if err := json.Unmarshal(fixture(t, "bluesky_jetstream_v1_readme_identity.json"), &f); err != nil {
		t.Fatal(err)
	}
	f["did"], f["time_us"] = did, timeUS
	id := f["identity"].(map[string]any)
	id["did"], id["handle"] = did, handle
	b, _ := json.Marshal(f)
	return b
}

// hangingAppView answers getProfile at once for the DIDs in fast and holds
// every other lookup until release is closed (or the client gives up).
func hangingAppView(t *testing.T, fast map[string]bool, release chan struct{}) (*httptest.Server, *sync.Map) {
	var calls sync.Map // did -> *atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		did := r.URL.Query().Get("actor")
		n, _ := calls.LoadOrStore(did, new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
		if !fast[did] {
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		json.NewEncoder(w).Encode(Profile{Did: did, Handle: strings.TrimPrefix(did, "did:plc:") + ".example.com", DisplayName: "Name of " + did})
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	return srv, &calls
}

func callsFor(calls *sync.Map, did string) int32 {
	n, ok := calls.Load(did)
	if !ok {
		return 0
	}
	return n.(*atomic.Int32).Load()
}

const (
	newAuthor   = "did:plc:newauthornewauthor0000000"
	knownAuthor = "did:plc:knownauthorknownauthor00"
)

// With the AppView hanging for a new author, the author's posts and a post
// from a known author behind them reach the log within the stream's own
// latency; once the profile arrives, each is named by an edit.
func TestHangingProfileServiceHoldsNoPost(t *testing.T) {
	release := make(chan struct{})
	av, calls := hangingAppView(t, map[string]bool{knownAuthor: true}, release)
	js := newLiveJetstream(t)
	sink := newTestSink(t)
	s, err := New(Config{Hosts: []string{js.url()}, Tags: eventTags, AppView: av.URL, ProfileTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, s, sink)
	defer stop()

	// The known author posts once and is named.
	js.push <- postBy(t, knownAuthor, "k1", 1_000_000, "create")
	ingesttest.WaitUntil(t, "the known author named", func() bool { return s.Stats.Fills.Load() == 1 })

	sent := map[string]time.Time{}
	for i, rkey := range []string{"n1", "n2", "n3", "n4"} {
		sent[PostURI(newAuthor, rkey)] = time.Now()
		js.push <- postBy(t, newAuthor, rkey, int64(2_000_000+i), "create")
	}
	sent[PostURI(knownAuthor, "k2")] = time.Now()
	js.push <- postBy(t, knownAuthor, "k2", 3_000_000, "create")
	ingesttest.WaitUntil(t, "all six posts", func() bool { return sink.Log.Count(event.PostReceived) == 6 })
	for _, e := range sink.Log.Entries() {
		if e.Kind != event.PostReceived {
			continue
		}
		at, ok := sent[e.Post.URI]
		if !ok {
			continue
		}
		// The stream's own latency here is a millisecond or two; a lookup
		// in the way would cost the whole hang.
		if lat := e.Time.Sub(at); lat > time.Second {
			t.Errorf("%s reached the sink %v after it was sent", e.Post.URI, lat)
		}
		if e.Post.Author.ID == newAuthor && (e.Post.Author.Name != "" || e.Post.Author.Handle != "did:plc:newautho…") {
			t.Errorf("new author before the profile: %+v", e.Post.Author)
		}
		if e.Post.Author.ID == knownAuthor && e.Post.Author.Name != "Name of "+knownAuthor {
			t.Errorf("known author not named at once: %+v", e.Post.Author)
		}
	}
	if n := callsFor(calls, newAuthor); n != 1 {
		t.Errorf("%d lookups of the new author in flight, want 1", n)
	}

	close(release)
	ingesttest.WaitUntil(t, "the new author's posts named", func() bool { return s.Stats.Fills.Load() == 5 })
	named := map[string]bool{}
	for _, e := range sink.Log.Entries() {
		if e.Kind == event.PostEdited && e.Post.Author.ID == newAuthor {
			if e.Post.Author.Name != "Name of "+newAuthor || e.Post.Author.Handle != "@newauthornewauthor0000000.example.com" {
				t.Errorf("fill-in author: %+v", e.Post.Author)
			}
			if e.Post.Text == "" || !e.Post.EditedAt.After(e.Post.CreatedAt) {
				t.Errorf("fill-in lost the post or its edit time: %+v", e.Post)
			}
			named[e.Post.URI] = true
		}
	}
	if len(named) != 4 {
		t.Errorf("%d of the new author's 4 posts named", len(named))
	}
	// The known author's second post needed no fill-in.
	if n := sink.Log.CountOf(event.PostEdited, PostURI(knownAuthor, "k2")); n != 0 {
		t.Errorf("%d fill-ins of a post that was named at once", n)
	}
}

// A failed lookup is remembered: later posts from the author do not ask
// again, and carry the handle an identity frame gave.
func TestFailedLookupRememberedAndIdentityHandleUsed(t *testing.T) {
	release := make(chan struct{}) // never released: the AppView hangs
	av, calls := hangingAppView(t, nil, release)
	js := newLiveJetstream(t)
	sink := newTestSink(t)
	s, err := New(Config{Hosts: []string{js.url()}, Tags: eventTags, AppView: av.URL,
		ProfileTimeout: 50 * time.Millisecond, ProfileRetryAfter: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, s, sink)
	defer stop()
	js.push <- postBy(t, newAuthor, "n1", 1_000_000, "create")
	ingesttest.WaitUntil(t, "the lookup failed", func() bool { return s.Stats.ProfileFailures.Load() == 1 })
	js.push <- identityOf(t, newAuthor, "ada.example.org", 2_000_000)
	js.push <- postBy(t, newAuthor, "n2", 3_000_000, "create")
	js.push <- postBy(t, newAuthor, "n3", 3_000_001, "create")
	ingesttest.WaitUntil(t, "three posts", func() bool { return sink.Log.Count(event.PostReceived) == 3 })
	if n := callsFor(calls, newAuthor); n != 1 {
		t.Errorf("the failed lookup was tried %d times, want 1 (remembered)", n)
	}
	for _, e := range sink.Log.Entries() {
		if e.Kind == event.PostReceived && e.Post.URI != PostURI(newAuthor, "n1") && e.Post.Author.Handle != "@ada.example.org" {
			t.Errorf("post after the identity frame shows %q, want its handle", e.Post.Author.Handle)
		}
	}
}

// An edit that drops the event's tag takes the post off the wall, the
// overlay and the facilitators' list, and the audit says why.
func TestEditDroppingTheTagWithdrawsThePost(t *testing.T) {
	av, _ := newAppView(t)
	js := newLiveJetstream(t)
	sink := newTestSink(t)
	s, err := New(Config{Hosts: []string{js.url()}, Tags: []string{"IndieRebellion"}, AppView: av.URL})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, s, sink)
	defer stop()
	uri := PostURI(newAuthor, "n1")
	js.push <- postBy(t, newAuthor, "n1", 1_000_000, "create")
	// Someone else's untagged edit of a post that never was ours changes nothing.
	js.push <- untagged(t, knownAuthor, "k1", 1_500_000)
	ingesttest.WaitUntil(t, "the post", func() bool { return sink.Log.Received(uri) })
	js.push <- untagged(t, newAuthor, "n1", 2_000_000)
	ingesttest.WaitUntil(t, "the withdrawal", func() bool { return sink.Log.Count(event.PostWithdrawn) == 1 })
	stop()

	// The moderators approved it, pinned it and read it out before the edit.
	mod := event.Actor{Role: event.RoleModerator, Name: "mo"}
	id := event.PostID(uri)
	var log []event.Entry
	for _, e := range sink.Log.Entries() {
		log = append(log, e)
		if e.Kind == event.PostReceived {
			log = append(log,
				event.Entry{Kind: event.PostApproved, Actor: mod, PostID: id},
				event.Entry{Kind: event.PostPinned, Actor: mod, PostID: id},
				event.Entry{Kind: event.QuestionFlagged, Actor: mod, PostID: id},
				event.Entry{Kind: event.QuestionReading, Actor: mod, QuestionID: id})
		}
	}
	for i := range log {
		log[i].Pos = uint64(i + 1)
	}
	before := fold.Fold(fold.SettingsView{Moderation: event.ModePre}, log[:len(log)-1])
	if len(before.Wall(0).Posts) != 1 || before.Wall(0).NowReading == nil {
		t.Fatalf("the post was not on the wall before the edit: %+v", before.Wall(0))
	}
	st := fold.Fold(fold.SettingsView{Moderation: event.ModePre}, log)
	w := st.Wall(0)
	if len(w.Posts) != 0 || w.NowReading != nil || len(st.Questions()) != 0 {
		t.Errorf("after the edit: wall %+v, questions %+v", w, st.Questions())
	}
	p, ok := st.Post(id)
	if !ok || p.Rule != "edited to remove #indierebellion" || p.Text != "never mind, wrong event" {
		t.Errorf("moderators see %+v (found %v)", p, ok)
	}
	if a := st.Audit(1)[0]; a.Kind != event.PostWithdrawn || !strings.Contains(a.Summary, "edited to remove #indierebellion") {
		t.Errorf("audit: %+v", a)
	}
	if n := sink.Log.Count(event.PostWithdrawn); n != 1 {
		t.Errorf("%d withdrawals, want only ours", n)
	}
}

// After Jetstream was down long enough for the wait to have grown to 30 s,
// the source is live again within 5 s of Jetstream answering.
func TestLiveWithinSecondsOfJetstreamReturning(t *testing.T) {
	av, _ := newAppView(t)
	js := newLiveJetstream(t)
	sink := newTestSink(t)
	s, err := New(Config{Hosts: []string{js.url()}, Tags: eventTags, AppView: av.URL,
		MinBackoff: 30 * time.Second, MaxBackoff: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, s, sink)
	defer stop()
	ingesttest.WaitUntil(t, "connected", func() bool { return js.conns.Load() == 1 })
	js.stop()
	ingesttest.WaitUntil(t, "the source saw it down", func() bool { return s.Stats.ProbeFailures.Load() >= 2 })
	h := sink.Health().Snapshot()
	if wait := h.RetryAt.Sub(h.LastErrorAt); wait < 15*time.Second {
		t.Fatalf("the backoff's wait is %v; the test needs one of at least 15s", wait)
	}
	back := time.Now()
	js.start()
	deadline := back.Add(5 * time.Second)
	for js.conns.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("not reconnected within 5s of Jetstream answering (backoff wait %v)", h.RetryAt.Sub(h.LastErrorAt))
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("live again %v after Jetstream answered", time.Since(back))
	js.push <- postBy(t, newAuthor, "n1", 1_000_000, "create")
	ingesttest.WaitUntil(t, "a post through the new connection", func() bool { return sink.Log.Count(event.PostReceived) == 1 })
}

// A host that answers but refuses the stream is not retried faster than
// the backoff, however often it is probed.
func TestRefusingHostKeepsItsBackoff(t *testing.T) {
	var attempts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attempts.Add(1)
		http.Error(w, "overloaded", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	av, _ := newAppView(t)
	sink := newTestSink(t)
	s, err := New(Config{Hosts: []string{"ws" + strings.TrimPrefix(srv.URL, "http")}, Tags: eventTags, AppView: av.URL,
		MinBackoff: 30 * time.Second, MaxBackoff: 30 * time.Second, ProbeEvery: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, s, sink)
	ingesttest.WaitUntil(t, "many probes", func() bool { return s.Stats.Probes.Load() >= 50 })
	stop()
	if n := attempts.Load(); n != 1 {
		t.Errorf("%d attempts within the first wait, want 1", n)
	}
	if s.Stats.EarlyReconnects.Load() != 0 {
		t.Error("a probe cut the wait short for a host that never went down")
	}
}
