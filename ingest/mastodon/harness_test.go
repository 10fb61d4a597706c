package mastodon

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/ingest"
	"github.com/backchannel/backchannel/ingest/ingesttest"
)

// ---- a sink over an in-memory log ----

// holdAll holds every post for a moderator, as pre-moderation does.
type holdAll struct{}

func (holdAll) Evaluate(event.Post, time.Time) event.Verdict {
	return event.Verdict{Decision: event.DecisionHold, Rule: "test"}
}

// newMemSink returns the sink of the source called name over l. It reads
// the log as the fold does: an edit of a post never received is appended
// as received, a delete of one is dropped.
func newMemSink(l *ingesttest.Log, name string) *ingesttest.Sink {
	s := ingesttest.NewSink(l, name, Kind)
	s.Rules = holdAll{}
	s.KnownOnly = true
	return s
}

// ---- a local Mastodon server serving recorded statuses ----

// fakeServer serves tag timelines, single statuses, the v2 instance and the
// streaming websocket from statuses copied from the recorded fixtures.
type fakeServer struct {
	t     testing.TB
	srv   *httptest.Server
	token string // when set, every API call must carry it

	mu       sync.Mutex
	next     int64
	statuses []map[string]any // ascending by id
	deleted  map[string]bool
	requests []*http.Request
	reqTimes []time.Time
	fault    func(w http.ResponseWriter, r *http.Request) bool
	conns    []*websocket.Conn
	subs     []string // tags subscribed, over all connections
	users    int      // connections that opened the user stream
	rlRemain int
	rlReset  time.Time
	// streamingHost, when set, is the streaming URL the instance names
	// (a separate streaming host, as mastodon.social has).
	streamingHost string
	// domain is the account domain the instance names ("fake.example").
	domain string
	// batch serves GET /api/v1/statuses?id[]= (Mastodon 4.3+).
	batch bool
	// follows are the tags followed (POST /api/v1/tags/:name/follow).
	follows []string
	// noStreaming answers the streaming endpoint 404 (a server without it).
	noStreaming bool
}

func newFakeServer(t testing.TB) *fakeServer {
	f := &fakeServer{t: t, next: 110000000000000000, deleted: map[string]bool{}, rlRemain: 299, domain: "fake.example"}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/statuses", f.batchStatuses)
	mux.HandleFunc("POST /api/v1/tags/{tag}/follow", f.follow)
	mux.HandleFunc("GET /api/v1/timelines/tag/{tag}", f.timeline)
	mux.HandleFunc("GET /api/v1/statuses/{id}", f.status)
	mux.HandleFunc("GET /api/v2/instance", f.instance)
	mux.HandleFunc("GET /api/v1/streaming", f.streaming)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.requests = append(f.requests, r)
		f.reqTimes = append(f.reqTimes, time.Now())
		fault := f.fault
		f.mu.Unlock()
		if r.URL.Path != "/api/v1/streaming" && fault != nil && fault(w, r) {
			return
		}
		if f.token != "" && r.Header.Get("Authorization") != "Bearer "+f.token {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"The access token is invalid"}`))
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		f.mu.Lock()
		for _, c := range f.conns {
			c.Close()
		}
		f.mu.Unlock()
		f.srv.Close()
	})
	return f
}

func (f *fakeServer) setFault(fn func(w http.ResponseWriter, r *http.Request) bool) {
	f.mu.Lock()
	f.fault = fn
	f.mu.Unlock()
}

// add stores a copy of st under the next local id and returns the id.
func (f *fakeServer) add(st map[string]any) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next += 1000
	return f.insertLocked(st, strconv.FormatInt(f.next, 10))
}

// addWithID stores a copy of st under id, which may be older than ids
// already served (a remote post fetched late).
func (f *fakeServer) addWithID(st map[string]any, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.insertLocked(st, id)
}

func (f *fakeServer) insertLocked(st map[string]any, id string) string {
	c := clone(f.t, st)
	c["id"] = id
	if r, ok := c["reblog"].(map[string]any); ok {
		r["id"] = id + "1"
	}
	f.statuses = append(f.statuses, c)
	slices.SortFunc(f.statuses, func(a, b map[string]any) int { return cmpID(a["id"].(string), b["id"].(string)) })
	return id
}

func (f *fakeServer) update(id string, fn func(map[string]any)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.statuses {
		if s["id"] == id {
			fn(s)
		}
	}
}

func (f *fakeServer) remove(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleted[id] = true
}

func (f *fakeServer) requestCount(pathPrefix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.requests {
		if strings.HasPrefix(r.URL.Path, pathPrefix) {
			n++
		}
	}
	return n
}

func (f *fakeServer) subscriptions() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.subs)
}

// cmpID orders numeric ids of any length.
func cmpID(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}

func hasTag(st map[string]any, tag string) bool {
	src := st
	if r, ok := st["reblog"].(map[string]any); ok {
		src = r
	}
	tags, _ := src["tags"].([]any)
	for _, t := range tags {
		if m, ok := t.(map[string]any); ok && strings.EqualFold(m["name"].(string), tag) {
			return true
		}
	}
	return false
}

func (f *fakeServer) rateHeaders(w http.ResponseWriter) {
	f.mu.Lock()
	rem, reset := f.rlRemain, f.rlReset
	f.mu.Unlock()
	if reset.IsZero() {
		reset = time.Now().Add(5 * time.Minute)
	}
	w.Header().Set("X-RateLimit-Limit", "300")
	w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(rem))
	w.Header().Set("X-RateLimit-Reset", reset.UTC().Format("2006-01-02T15:04:05.000000Z"))
}

// timeline answers like Mastodon's TagController: newest first; min_id
// gives the page immediately above it, max_id the page below; a Link
// header only on a non-empty page.
func (f *fakeServer) timeline(w http.ResponseWriter, r *http.Request) {
	tag := r.PathValue("tag")
	q := r.URL.Query()
	limit := 20
	if l, err := strconv.Atoi(q.Get("limit")); err == nil && l > 0 {
		limit = min(l, 40)
	}
	minID, maxID := q.Get("min_id"), q.Get("max_id")
	f.mu.Lock()
	var match []map[string]any // ascending
	for _, s := range f.statuses {
		id := s["id"].(string)
		if f.deleted[id] || !hasTag(s, tag) {
			continue
		}
		if maxID != "" && cmpID(id, maxID) >= 0 {
			continue
		}
		if minID != "" && cmpID(id, minID) <= 0 {
			continue
		}
		match = append(match, s)
	}
	var page []map[string]any
	if minID != "" {
		page = match[:min(limit, len(match))]
	} else {
		page = match[max(0, len(match)-limit):]
	}
	page = slices.Clone(page)
	slices.Reverse(page)
	body, err := json.Marshal(page)
	var first, last any
	if len(page) > 0 {
		first, last = page[0]["id"], page[len(page)-1]["id"]
	}
	f.mu.Unlock()
	if err != nil {
		f.t.Error(err)
	}
	f.rateHeaders(w)
	if len(page) > 0 {
		u := f.srv.URL + "/api/v1/timelines/tag/" + tag
		w.Header().Set("Link", fmt.Sprintf(`<%s?limit=%d&max_id=%s>; rel="next", <%s?limit=%d&min_id=%s>; rel="prev"`,
			u, limit, last, u, limit, first))
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(body)
}

func (f *fakeServer) status(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	f.mu.Lock()
	var found map[string]any
	for _, s := range f.statuses {
		if f.deleted[s["id"].(string)] {
			continue
		}
		if s["id"] == id {
			found = s
		}
		// A boosted post has its own local id on this server too.
		if r, ok := s["reblog"].(map[string]any); ok && r["id"] == id {
			found = r
		}
	}
	body, _ := json.Marshal(found)
	f.mu.Unlock()
	f.rateHeaders(w)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if found == nil {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":"Record not found"}`))
		return
	}
	_, _ = w.Write(body)
}

func (f *fakeServer) instance(w http.ResponseWriter, r *http.Request) {
	ws := "ws" + strings.TrimPrefix(f.srv.URL, "http")
	f.mu.Lock()
	if f.streamingHost != "" {
		ws = f.streamingHost
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"domain":%q,"configuration":{"urls":{"streaming":%q}}}`, f.domain, ws)
}

var upgrader = websocket.Upgrader{}

func (f *fakeServer) streaming(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	none := f.noStreaming
	f.mu.Unlock()
	if none {
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+f.token || f.token == "" {
		http.Error(w, `{"error":"Error 401: Missing access token"}`, http.StatusUnauthorized)
		return
	}
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	f.mu.Lock()
	f.conns = append(f.conns, c)
	if r.URL.Query().Get("stream") == "user" {
		f.users++
	}
	f.mu.Unlock()
	for {
		var m map[string]string
		if err := c.ReadJSON(&m); err != nil {
			return
		}
		if m["type"] == "subscribe" && m["stream"] == "hashtag" {
			f.mu.Lock()
			f.subs = append(f.subs, m["tag"])
			f.mu.Unlock()
		}
	}
}

// batchStatuses answers GET /api/v1/statuses?id[]= as Mastodon 4.3+ does: the
// statuses found, in any order, the deleted ones missing; more than 20 ids
// is a 422. Without batch it is a 404, as on older servers.
func (f *fakeServer) batchStatuses(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	batch := f.batch
	f.mu.Unlock()
	if !batch {
		http.NotFound(w, r)
		return
	}
	ids := r.URL.Query()["id[]"]
	if len(ids) > 20 {
		w.WriteHeader(http.StatusUnprocessableEntity)
		_, _ = w.Write([]byte(`{"error":"Validation failed"}`))
		return
	}
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	f.mu.Lock()
	out := []map[string]any{}
	for _, s := range f.statuses {
		if id := s["id"].(string); want[id] && !f.deleted[id] {
			out = append(out, s)
		}
	}
	body, _ := json.Marshal(out)
	f.mu.Unlock()
	f.rateHeaders(w)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(body)
}

// follow answers POST /api/v1/tags/:name/follow with the Tag, following.
func (f *fakeServer) follow(w http.ResponseWriter, r *http.Request) {
	tag := r.PathValue("tag")
	f.mu.Lock()
	f.follows = append(f.follows, tag)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"name":%q,"url":"https://fake.example/tags/%s","history":[],"following":true}`, strings.ToLower(tag), tag)
}

func (f *fakeServer) userStreams() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.users
}

func (f *fakeServer) followed() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.follows)
}

// push sends a frame to the newest streaming connection.
func (f *fakeServer) push(data []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.conns) == 0 {
		return fmt.Errorf("no streaming connection")
	}
	return f.conns[len(f.conns)-1].WriteMessage(websocket.TextMessage, data)
}

// dropMidFrame writes the first bytes of a text frame that promises more,
// then cuts the connection: the stream dies in the middle of an event.
func (f *fakeServer) dropMidFrame() {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.conns[len(f.conns)-1]
	nc := c.NetConn()
	// FIN+text, 126 = 16-bit length follows: 1000 bytes promised.
	_, _ = nc.Write([]byte{0x81, 126, 0x03, 0xe8, '{', '"', 'e', 'v'})
	_ = nc.Close()
}

// ---- fixtures ----

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func loadStatusMap(t testing.TB, name string) map[string]any {
	t.Helper()
	var m any
	if err := json.Unmarshal(readFixture(t, name), &m); err != nil {
		t.Fatal(err)
	}
	if l, ok := m.([]any); ok {
		m = l[0]
	}
	return m.(map[string]any)
}

func clone(t testing.TB, m map[string]any) map[string]any {
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// numbered copies the recorded hoot status (a real tag-timeline status)
// as post n of an origin server, tagged tag and created at base+n minutes.
// The same n gives the same uri on every fake server, as a federated post.
func numbered(t testing.TB, n int, tag string, base time.Time) map[string]any {
	st := clone(t, loadStatusMap(t, "mastodon_tag_timeline_hoot.body.json"))
	st["uri"] = fmt.Sprintf("https://origin.example/users/ada/statuses/%d", n)
	st["url"] = fmt.Sprintf("https://origin.example/@ada/%d", n)
	st["created_at"] = base.Add(time.Duration(n) * time.Minute).UTC().Format(time.RFC3339Nano)
	st["content"] = fmt.Sprintf(`<p>post %d <a href="https://origin.example/tags/%s" class="mention hashtag" rel="tag">#<span>%s</span></a></p>`, n, tag, tag)
	st["tags"] = []any{map[string]any{"name": tag, "url": "https://origin.example/tags/" + tag}}
	return st
}

func uriOf(n int) string { return fmt.Sprintf("https://origin.example/users/ada/statuses/%d", n) }

// ---- helpers ----

// testLogger discards logs unless BACKCHANNEL_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("BACKCHANNEL_TEST_LOG") != "" {
		return slog.Default()
	}
	return slog.New(slog.DiscardHandler)
}

// fastConfig is a configuration with intervals small enough for tests.
func fastConfig(server string, tags ...string) Config {
	return Config{
		Server:              server,
		Tags:                tags,
		PollInterval:        20 * time.Millisecond,
		RereadInterval:      time.Hour,
		DeleteCheckInterval: time.Hour,
		MinBackoff:          20 * time.Millisecond,
		MaxBackoff:          100 * time.Millisecond,
		AuthBackoff:         time.Hour,
		StreamReadTimeout:   5 * time.Second,
		HTTPClient:          &http.Client{Timeout: 2 * time.Second},
		Logger:              testLogger(),
	}
}

// run starts src on sink. The returned stop (also called when the test
// ends) cancels it, waits for Run to return and checks it returned nil.
func run(t *testing.T, src *Source, sink ingest.Sink) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, sink) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run returned %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func mustNew(t *testing.T, cfg Config) *Source {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
