package feed

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/ingest"
	"github.com/backchannel/backchannel/ingest/ingesttest"
)

func fixture(t *testing.T, name string) string { return fixtureB(t, name) }

func fixtureB(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// reply is what the feed server answers to the next request.
type reply struct {
	status int
	body   string
	header map[string]string
}

// feedServer is a local HTTP server playing a feed's host: it serves the
// current document with validators and answers 304 to a matching
// conditional GET, unless a queued reply (an error, a 429) comes first.
type feedServer struct {
	*httptest.Server
	mu       sync.Mutex
	doc      string
	etag     string
	lastMod  string
	ignore   bool // ignore validators (always 200), as many servers do
	queue    []reply
	requests []*http.Request
	times    []time.Time
}

func newFeedServer(t *testing.T, doc string) *feedServer {
	fs := &feedServer{doc: doc, etag: `"v1"`, lastMod: "Fri, 08 Dec 2023 12:52:54 GMT"}
	newBenchServer(t, fs)
	return fs
}

// newBenchServer starts fs on loopback and returns its URL.
func newBenchServer(t testing.TB, fs *feedServer) string {
	fs.Server = httptest.NewServer(http.HandlerFunc(fs.serve))
	t.Cleanup(fs.Close)
	return fs.URL
}

func (fs *feedServer) serve(w http.ResponseWriter, r *http.Request) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.requests = append(fs.requests, r.Clone(context.Background()))
	fs.times = append(fs.times, time.Now())
	if len(fs.queue) > 0 {
		rp := fs.queue[0]
		fs.queue = fs.queue[1:]
		for k, v := range rp.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(rp.status)
		_, _ = w.Write([]byte(rp.body))
		return
	}
	if !fs.ignore && fs.etag != "" && r.Header.Get("If-None-Match") == fs.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/rss+xml; charset=utf-8")
	w.Header().Set("ETag", fs.etag)
	w.Header().Set("Last-Modified", fs.lastMod)
	_, _ = w.Write([]byte(fs.doc))
}

func (fs *feedServer) set(doc, etag string) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.doc, fs.etag = doc, etag
}

func (fs *feedServer) enqueue(r ...reply) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.queue = append(fs.queue, r...)
}

func (fs *feedServer) request(i int) *http.Request {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.requests[i]
}

// newSource returns a source for url that may poll and back off in
// milliseconds, as a test needs.
func newSource(t *testing.T, cfg Config) *Source {
	t.Helper()
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 20 * time.Millisecond
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff, cfg.MaxBackoff = 10*time.Millisecond, 40*time.Millisecond
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.floor = 0
	return s
}

// newMemSink returns a recording sink over a log of its own.
func newMemSink() *ingesttest.Sink { return ingesttest.NewSink(ingesttest.NewLog(), "rss", Kind) }

func posts(m *ingesttest.Sink) []event.Post {
	var out []event.Post
	for _, e := range m.Log.Entries() {
		if e.Post != nil {
			out = append(out, *e.Post)
		}
	}
	return out
}

func TestMastodonTagFeed(t *testing.T) {
	fs := newFeedServer(t, fixture(t, "mastodon_tag_kubernetes.rss"))
	s := newSource(t, Config{URL: fs.URL + "/tags/kubernetes.rss", Tags: []string{"OurDay"}})
	sink := newMemSink()
	if err := s.poll(context.Background(), sink); err != nil {
		t.Fatal(err)
	}
	got := posts(sink)
	// A hashtag feed is the tag's timeline: every item is kept, whatever Tags say.
	if len(got) != 4 {
		t.Fatalf("appended %d posts, want 4", len(got))
	}
	// Oldest first, whatever order the feed lists them in.
	first, last := got[0], got[3]
	if first.URL != "https://fosstodon.org/@imdciangot/111544228725688234" {
		t.Errorf("first post %s, want the oldest (fosstodon)", first.URL)
	}
	if want := "https://ioc.exchange/users/jon404/statuses/111544891736153138"; last.URI != want {
		t.Errorf("URI %q, want the status's ActivityPub id %q", last.URI, want)
	}
	if last.ID != event.PostID(last.URI) || last.Source != "rss" || last.SourceName != s.Name() {
		t.Errorf("id/source: %+v", last)
	}
	if last.URL != "https://ioc.exchange/@jon404/111544891736153138" {
		t.Errorf("URL %q", last.URL)
	}
	wantAuthor := event.Author{ID: "https://ioc.exchange/users/jon404", Handle: "@jon404@ioc.exchange", URL: "https://ioc.exchange/@jon404"}
	if last.Author != wantAuthor {
		t.Errorf("author %+v, want %+v", last.Author, wantAuthor)
	}
	if !last.CreatedAt.Equal(time.Date(2023, 12, 8, 12, 52, 54, 0, time.UTC)) {
		t.Errorf("created %v", last.CreatedAt)
	}
	if !strings.Contains(last.Text, "Shameless blog series plug") || !strings.Contains(last.HTML, "<p>Shameless blog series plug</p>") {
		t.Errorf("body: html %q text %q", last.HTML, last.Text)
	}
	if strings.Contains(last.HTML, "<hr") || strings.Contains(last.HTML, `class="invisible"`) {
		t.Errorf("sanitiser left what it should drop: %q", last.HTML)
	}
	if strings.Join(last.Tags, ",") != "kubernetes,homelab,selfhosted,openbsd,bgp,ospf,virtualization" {
		t.Errorf("tags %v", last.Tags)
	}
	if len(first.Media) != 1 || first.Media[0].Kind != "image" ||
		first.Media[0].URL != "https://media.hachyderm.io/cache/media_attachments/files/111/544/228/748/711/741/original/84994e14c0b7384e.png" {
		t.Errorf("media %+v", first.Media)
	}
	if first.Sensitive {
		t.Error("a nonadult rating made the post sensitive")
	}
	if h := sink.Health().Snapshot(); h.State != ingest.StateOK || h.LastSuccess.IsZero() {
		t.Errorf("health %+v, want ok", h)
	}
}

func TestMastodonAltTextAndSensitive(t *testing.T) {
	doc := fixture(t, "mastodon_tag_catsofmastodon.rss")
	fs := newFeedServer(t, doc)
	s := newSource(t, Config{URL: fs.URL + "/tags/catsofmastodon.rss"})
	sink := newMemSink()
	if err := s.poll(context.Background(), sink); err != nil {
		t.Fatal(err)
	}
	got := posts(sink)
	if len(got) != 2 {
		t.Fatalf("appended %d, want 2", len(got))
	}
	eric := got[0]
	if eric.Author.Handle != "@EricIndiana@mastodon.social" {
		t.Fatalf("first post by %q, want the older one by EricIndiana", eric.Author.Handle)
	}
	if len(eric.Media) != 2 || eric.Media[0].Alt != "a black cat and a white cat cuddle" ||
		eric.Media[1].Alt != "a black cat and a white cat cuddle and smile" {
		t.Errorf("media %+v", eric.Media)
	}
	if len(got[1].Media) != 1 || got[1].Media[0].Alt != "" {
		t.Errorf("media without description: %+v", got[1].Media)
	}

	// The same document with one status marked sensitive, as Mastodon
	// writes it (media:rating adult).
	sens := strings.Replace(doc, "nonadult", "adult", 1)
	fs2 := newFeedServer(t, sens)
	s2 := newSource(t, Config{URL: fs2.URL + "/tags/catsofmastodon.rss"})
	sink2 := newMemSink()
	if err := s2.poll(context.Background(), sink2); err != nil {
		t.Fatal(err)
	}
	for _, p := range posts(sink2) {
		if want := p.Author.Handle == "@CatEveryHour@piaille.fr"; p.Sensitive != want {
			t.Errorf("%s sensitive=%v, want %v", p.Author.Handle, p.Sensitive, want)
		}
	}
}

func TestAtomFeed(t *testing.T) {
	fs := newFeedServer(t, fixture(t, "github_commits.atom"))
	s := newSource(t, Config{URL: fs.URL + "/miniflux/v2/commits/main.atom"})
	sink := newMemSink()
	if err := s.poll(context.Background(), sink); err != nil {
		t.Fatal(err)
	}
	got := posts(sink)
	if len(got) != 3 {
		t.Fatalf("appended %d, want 3", len(got))
	}
	p := got[2] // the newest
	guid := "tag:github.com,2008:Grit::Commit/6d97f8b4582414b6ce69467656824690057d4793"
	if p.URI != s.urnSpace+":"+guid || !strings.HasPrefix(p.URI, "urn:backchannel:feed:") {
		t.Errorf("URI %q: a tag: id is namespaced by the feed", p.URI)
	}
	if p.URL != "https://github.com/miniflux/v2/commit/6d97f8b4582414b6ce69467656824690057d4793" {
		t.Errorf("URL %q", p.URL)
	}
	if p.Author.Name != "fguillot" || !strings.HasPrefix(p.Author.ID, s.urnSpace+":author:") {
		t.Errorf("author %+v", p.Author)
	}
	if !p.CreatedAt.Equal(time.Date(2024, 3, 12, 5, 30, 27, 0, time.UTC)) || !p.EditedAt.IsZero() {
		t.Errorf("created %v edited %v: updated without published is the creation time", p.CreatedAt, p.EditedAt)
	}
	if !strings.HasPrefix(p.HTML, "<p><strong>Parse podcast categories</strong></p>") || strings.Contains(p.HTML, "style") {
		t.Errorf("html %q", p.HTML)
	}
	// Two sources on two feeds with the same GUID never collide.
	other := newSource(t, Config{URL: fs.URL + "/other.atom"})
	if other.PostURI(guid, "", false) == p.URI {
		t.Error("the same non-URL GUID in two feeds gave one URI")
	}
}

func TestRSSNewsFeed(t *testing.T) {
	fs := newFeedServer(t, fixture(t, "tagesschau.rss"))
	s := newSource(t, Config{URL: fs.URL + "/index~rss2.xml"})
	sink := newMemSink()
	if err := s.poll(context.Background(), sink); err != nil {
		t.Fatal(err)
	}
	got := posts(sink)
	if len(got) != 3 {
		t.Fatalf("appended %d, want 3", len(got))
	}
	p := got[2]
	if p.URI != s.urnSpace+":2371e076-f0bd-4e39-8fcf-3e6cf3308eff" {
		t.Errorf("URI %q", p.URI)
	}
	if p.Language != "de" || p.Author.Name != "tagesschau.de - die erste Adresse für Nachrichten und Information" ||
		p.Author.URL != "https://www.tagesschau.de/" {
		t.Errorf("language %q author %+v: the feed is the author when items name none", p.Language, p.Author)
	}
	if !strings.Contains(p.Text, "Haushaltskrise: Um wie viele Milliarden es wirklich geht") ||
		!strings.Contains(p.Text, "Die Spitzen der Ampelkoalition") {
		t.Errorf("text %q", p.Text)
	}
}

func TestTagFilterOnBlogs(t *testing.T) {
	cats := fixture(t, "mastodon_tag_catsofmastodon.rss")
	for _, tc := range []struct {
		name string
		doc  string
		tags []string
		want []string // author handles or names kept
	}{
		{"category", cats, []string{"MastoCats"}, []string{"@CatEveryHour@piaille.fr"}},
		{"hash and case", cats, []string{"#LOVE"}, []string{"@EricIndiana@mastodon.social"}},
		{"several", cats, []string{"nothing", "cats"}, []string{"@EricIndiana@mastodon.social", "@CatEveryHour@piaille.fr"}},
		{"no prefix match", cats, []string{"cat"}, nil},
		{"plain word is not a tag", fixture(t, "github_commits.atom"), []string{"podcast"}, nil},
		{"no filter keeps all", fixture(t, "github_commits.atom"), nil, []string{"fguillot", "fguillot", "fguillot"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFeedServer(t, tc.doc)
			s := newSource(t, Config{URL: fs.URL + "/blog/feed.xml", Tags: tc.tags})
			sink := newMemSink()
			if err := s.poll(context.Background(), sink); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range posts(sink) {
				got = append(got, p.Author.Handle+p.Author.Name)
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("kept %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCarriesTagInText(t *testing.T) {
	for _, tc := range []struct {
		text string
		want bool
	}{
		{"see you at #OurDay!", true},
		{"#ourday", true},
		{"#OurDayOut is another event", false},
		{"#OurDay_2 is another tag", false},
		{"OurDay without a hash", false},
		{"first #OurDayX then #OurDay.", true},
	} {
		if got := carriesTag(event.Post{Text: tc.text}, "", []string{"OurDay"}); got != tc.want {
			t.Errorf("carriesTag(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
}

func TestConditionalGetAcrossPollsAndRestarts(t *testing.T) {
	fs := newFeedServer(t, fixture(t, "mastodon_tag_kubernetes.rss"))
	cfg := Config{URL: fs.URL + "/tags/kubernetes.rss"}
	sink := newMemSink()
	ctx := context.Background()

	if err := newSource(t, cfg).poll(ctx, sink); err != nil {
		t.Fatal(err)
	}
	if r := fs.request(0); r.Header.Get("If-None-Match") != "" || r.Header.Get("If-Modified-Since") != "" {
		t.Errorf("first request sent validators it cannot have: %v", r.Header)
	}
	if n := sink.Log.Count(event.PostReceived); n != 4 {
		t.Fatalf("first poll appended %d, want 4", n)
	}

	// A second poll, then a restart (a new Source over the same cursors):
	// each sends the stored validators, gets 304, appends nothing.
	if err := newSource(t, cfg).poll(ctx, sink); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		if i == 2 {
			if err := newSource(t, cfg).poll(ctx, sink); err != nil {
				t.Fatal(err)
			}
		}
		r := fs.request(i)
		if r.Header.Get("If-None-Match") != `"v1"` || r.Header.Get("If-Modified-Since") != "Fri, 08 Dec 2023 12:52:54 GMT" {
			t.Errorf("request %d validators: %q %q", i, r.Header.Get("If-None-Match"), r.Header.Get("If-Modified-Since"))
		}
	}
	if n := len(sink.Log.Entries()); n != 4 {
		t.Errorf("log has %d events after 304s, want 4", n)
	}
	if h := sink.Health().Snapshot(); h.State != ingest.StateOK {
		t.Errorf("a 304 left health %q", h.State)
	}

	// A server that ignores validators: the same items come again and are
	// skipped by the stored seen-set, without even asking the log.
	fs.mu.Lock()
	fs.ignore = true
	fs.mu.Unlock()
	if err := newSource(t, cfg).poll(ctx, sink); err != nil {
		t.Fatal(err)
	}
	if n := len(sink.Log.Entries()); n != 4 {
		t.Errorf("log has %d events after a repeated 200, want 4", n)
	}

	// The cursor lost (a new sink over the same log): every item is handed
	// to the sink again and the log's idempotent append stores none twice.
	fresh := ingesttest.NewSink(sink.Log, "rss-fresh", Kind)
	if err := newSource(t, cfg).poll(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	if n := len(fresh.Log.Entries()); n != 4 {
		t.Errorf("log has %d events after a lost cursor, want 4", n)
	}

	// A new item appears: only it is appended.
	doc := fixture(t, "mastodon_tag_kubernetes.rss")
	doc = strings.Replace(doc, "<item>", `<item>
         <guid isPermaLink="true">https://hachyderm.io/@ada/111544999999999999</guid>
         <link>https://hachyderm.io/@ada/111544999999999999</link>
         <pubDate>Fri, 08 Dec 2023 13:00:00 +0000</pubDate>
         <description>&lt;p&gt;one more #kubernetes post&lt;/p&gt;</description>
      </item>
      <item>`, 1)
	fs.set(doc, `"v2"`)
	if err := newSource(t, cfg).poll(ctx, sink); err != nil {
		t.Fatal(err)
	}
	got := posts(sink)
	if len(got) != 5 || got[4].URI != "https://hachyderm.io/users/ada/statuses/111544999999999999" {
		t.Fatalf("after a new item: %d posts, last %q", len(got), got[len(got)-1].URI)
	}
}

func TestFailedAppendKeepsOldValidators(t *testing.T) {
	fs := newFeedServer(t, fixture(t, "tagesschau.rss"))
	cfg := Config{URL: fs.URL + "/feed"}
	sink := newMemSink()
	down := errors.New("log unreachable")
	sink.Log.Fail(down)
	err := newSource(t, cfg).poll(context.Background(), sink)
	if !errors.Is(err, down) {
		t.Fatalf("poll error %v, want the sink's", err)
	}
	if c, _ := sink.Cursor(context.Background(), cursorKey); c != "" {
		t.Fatalf("cursor stored after a failed append: %s", c)
	}
	sink.Log.Fail(nil)
	if err := newSource(t, cfg).poll(context.Background(), sink); err != nil {
		t.Fatal(err)
	}
	if r := fs.request(1); r.Header.Get("If-None-Match") != "" {
		t.Error("the retry sent validators of a document it never finished, and would get a 304")
	}
	if n := sink.Log.Count(event.PostReceived); n != 3 {
		t.Errorf("appended %d after the log came back, want 3", n)
	}
}

// An item edited at its source (a later <updated> than <published>) is
// appended as an edit once; a feed without update times never edits. The
// document is the real Atom fixture with a published date added and then
// its first entry changed, as a blog engine would write it.
func TestEditedItem(t *testing.T) {
	orig := fixture(t, "github_commits.atom")
	v1 := strings.Replace(orig, "<updated>2024-03-12T05:30:27Z</updated>\n    <media",
		"<published>2024-03-12T05:30:27Z</published>\n    <updated>2024-03-12T05:30:27Z</updated>\n    <media", 1)
	if v1 == orig {
		t.Fatal("fixture changed; edit the test")
	}
	v2 := strings.Replace(v1, "<updated>2024-03-12T05:30:27Z</updated>\n    <media", "<updated>2024-03-12T06:00:00Z</updated>\n    <media", 1)
	v2 = strings.Replace(v2, "Parse podcast categories&lt;/pre&gt;", "Parse podcast categories (and fix a typo)&lt;/pre&gt;", 1)

	fs := newFeedServer(t, v1)
	cfg := Config{URL: fs.URL + "/commits.atom"}
	sink := newMemSink()
	ctx := context.Background()
	if err := newSource(t, cfg).poll(ctx, sink); err != nil {
		t.Fatal(err)
	}
	fs.set(v2, `"v2"`)
	for range 2 { // the edit, then the same document again
		if err := newSource(t, cfg).poll(ctx, sink); err != nil {
			t.Fatal(err)
		}
		fs.mu.Lock()
		fs.ignore = true
		fs.mu.Unlock()
	}
	if n := sink.Log.Count(event.PostReceived); n != 3 {
		t.Errorf("received %d, want 3", n)
	}
	var edits []event.Entry
	for _, e := range sink.Log.Entries() {
		if e.Kind == event.PostEdited {
			edits = append(edits, e)
		}
	}
	if len(edits) != 1 {
		t.Fatalf("%d edits, want 1", len(edits))
	}
	e := edits[0].Post
	if !e.EditedAt.Equal(time.Date(2024, 3, 12, 6, 0, 0, 0, time.UTC)) || !strings.Contains(e.Text, "fix a typo") {
		t.Errorf("edit %+v", e)
	}
}

func TestXSSInItemStripped(t *testing.T) {
	doc := fixture(t, "tagesschau.rss")
	evil := `<item>
         <title>&lt;script&gt;alert(1)&lt;/script&gt;Breaking</title>
         <link>javascript:alert(2)</link>
         <guid>evil-1</guid>
         <pubDate>Tue, 12 Dec 2023 16:00:00 +0100</pubDate>
         <description><![CDATA[<p onclick="alert(3)">Read <a href="javascript:alert(4)">this</a><script>alert(5)</script><img src=x onerror="alert(6)"><iframe src="https://evil.example/"></iframe><style>body{display:none}</style> now</p>]]></description>
         <media:content xmlns:media="http://search.yahoo.com/mrss/" url="javascript:alert(7)" medium="image"/>
      </item>
      <item>`
	doc = strings.Replace(doc, "<item>", evil, 1)
	fs := newFeedServer(t, doc)
	s := newSource(t, Config{URL: fs.URL + "/feed"})
	sink := newMemSink()
	if err := s.poll(context.Background(), sink); err != nil {
		t.Fatal(err)
	}
	var p *event.Post
	for _, q := range posts(sink) {
		if strings.HasSuffix(q.URI, ":evil-1") {
			p = &q
		}
	}
	if p == nil {
		t.Fatal("the item was not appended")
	}
	for _, bad := range []string{"<script", "onclick", "onerror", "javascript:", "<iframe", "<img", "<style", "display:none"} {
		if strings.Contains(strings.ToLower(p.HTML), bad) {
			t.Errorf("html keeps %q: %s", bad, p.HTML)
		}
	}
	if p.URL != "" || len(p.Media) != 0 {
		t.Errorf("a javascript: link or media survived: url %q media %+v", p.URL, p.Media)
	}
	if !strings.Contains(p.Text, "Read this") || !strings.Contains(p.Text, "now") {
		t.Errorf("text lost the visible words: %q", p.Text)
	}
}

func TestFetchFailures(t *testing.T) {
	ctx := context.Background()
	fs := newFeedServer(t, fixture(t, "tagesschau.rss"))
	s := newSource(t, Config{URL: fs.URL + "/feed"})
	sink := newMemSink()
	date := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	fs.enqueue(
		reply{status: 200, body: "<!doctype html><html><body>Not a feed</body></html>"},
		reply{status: 500, body: "oops"},
		reply{status: 503, header: map[string]string{"Retry-After": date}},
		reply{status: 429, header: map[string]string{"Retry-After": "30"}},
		reply{status: 200, body: strings.Repeat("x", MaxBody+1)},
	)
	if err := s.poll(ctx, sink); !errors.Is(err, ErrParse) {
		t.Errorf("garbage: %v, want ErrParse", err)
	}
	if err := s.poll(ctx, sink); !errors.Is(err, ErrStatus) || !strings.Contains(err.Error(), "500") {
		t.Errorf("500: %v, want ErrStatus", err)
	}
	var te *ThrottledError
	if err := s.poll(ctx, sink); !errors.As(err, &te) || te.StatusCode != 503 || te.RetryAt.Before(time.Now().Add(80*time.Second)) {
		t.Errorf("503: %v, want a ThrottledError with the header's date", err)
	}
	if err := s.poll(ctx, sink); !errors.As(err, &te) || te.StatusCode != 429 || te.RetryAt.Before(time.Now().Add(25*time.Second)) {
		t.Errorf("429: %v, want a ThrottledError 30 s ahead", err)
	}
	if err := s.poll(ctx, sink); !errors.Is(err, ErrBodyTooLarge) {
		t.Errorf("huge body: %v, want ErrBodyTooLarge", err)
	}
	if n := len(sink.Log.Entries()); n != 0 {
		t.Errorf("failures appended %d events", n)
	}
	if err := s.poll(ctx, sink); err != nil || sink.Log.Count(event.PostReceived) != 3 {
		t.Errorf("recovery: %v, %d posts", err, sink.Log.Count(event.PostReceived))
	}
}

// A failing feed is backed off and reported while another source keeps
// appending; a Retry-After is honoured; the failing feed recovers by itself.
func TestRunBacksOffAndReportsWhileAnotherSourceAppends(t *testing.T) {
	bad := newFeedServer(t, fixture(t, "mastodon_tag_catsofmastodon.rss"))
	bad.enqueue(
		reply{status: 200, body: "<html>maintenance</html>"},
		reply{status: 500},
		reply{status: 429, header: map[string]string{"Retry-After": "1"}},
	)
	good := newFeedServer(t, fixture(t, "mastodon_tag_kubernetes.rss"))

	badSrc := newSource(t, Config{URL: bad.URL + "/tags/catsofmastodon.rss"})
	goodSrc := newSource(t, Config{URL: good.URL + "/tags/kubernetes.rss"})
	badSink, goodSink := newMemSink(), newMemSink()

	// Record each state the failing source's health passes through.
	var mu sync.Mutex
	var states []ingest.HealthSnapshot
	badSink.Health().OnChange = func(h ingest.HealthSnapshot) {
		mu.Lock()
		defer mu.Unlock()
		states = append(states, h)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- badSrc.Run(ctx, badSink) }()
	go func() { done <- goodSrc.Run(ctx, goodSink) }()

	ingesttest.WaitUntil(t, "the good source appends", func() bool { return goodSink.Log.Count(event.PostReceived) == 4 })
	ingesttest.WaitUntil(t, "the failing source recovers", func() bool { return badSink.Log.Count(event.PostReceived) == 2 })
	cancel()
	for range 2 {
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v, want nil on cancel", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not stop when its context ended")
		}
	}

	mu.Lock()
	defer mu.Unlock()
	var seq []string
	for _, h := range states {
		if len(seq) == 0 || seq[len(seq)-1] != h.State {
			seq = append(seq, h.State)
		}
	}
	want := []string{ingest.StateBackingOff, ingest.StateRateLimited, ingest.StateOK}
	if strings.Join(seq, ",") != strings.Join(want, ",") {
		t.Errorf("health went %v, want %v", seq, want)
	}
	var sawParse, saw500, sawRetry bool
	for _, h := range states {
		sawParse = sawParse || strings.Contains(h.LastError, "not a feed")
		saw500 = saw500 || strings.Contains(h.LastError, "500")
		if h.State == ingest.StateRateLimited {
			sawRetry = h.RetryAt.Sub(h.LastErrorAt) >= 900*time.Millisecond
		}
	}
	if !sawParse || !saw500 || !sawRetry {
		t.Errorf("errors reported: parse %v, 500 %v, retry-after honoured %v (%+v)", sawParse, saw500, sawRetry, states)
	}
	// The request after the 429 came no sooner than Retry-After said.
	bad.mu.Lock()
	gap := bad.times[3].Sub(bad.times[2])
	bad.mu.Unlock()
	if gap < 900*time.Millisecond {
		t.Errorf("retried %v after a 429 with Retry-After: 1", gap)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, u := range []string{"", "feed.xml", "ftp://example.org/feed", "https:///nohost"} {
		if _, err := New(Config{URL: u}); event.ErrorCode(err) != event.EINVALID {
			t.Errorf("New(%q) = %v, want EINVALID", u, err)
		}
	}
	s, err := New(Config{URL: "https://mastodon.example/tags/OurDay.rss"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Name() != "rss:mastodon.example/tags/OurDay.rss" || s.Kind() != "rss" || !s.tagFeed {
		t.Errorf("name %q kind %q tagFeed %v", s.Name(), s.Kind(), s.tagFeed)
	}
	if d := s.pollInterval(); d < 54*time.Second || d > 66*time.Second {
		t.Errorf("default interval %v, want 60s ± 10%%", d)
	}
	s.cfg.PollInterval = time.Second
	if d := s.pollInterval(); d < MinPollInterval*9/10 {
		t.Errorf("interval %v below the floor", d)
	}
}

func Example() {
	src, err := New(Config{
		URL:  "https://mastodon.example/tags/OurDay.rss",
		Tags: []string{"OurDay"},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(src.Name(), src.Kind())
	// Output: rss:mastodon.example/tags/OurDay.rss rss
}

// An item left out for carrying none of the event's tags is remembered as
// dropped (not converted again), and looked at again when it is edited:
// an organiser who adds the tag to a post later gets it on the wall.
func TestDroppedItemReconsideredWhenEdited(t *testing.T) {
	orig := fixture(t, "github_commits.atom")
	v1 := strings.Replace(orig, "<updated>2024-03-12T05:30:27Z</updated>\n    <media",
		"<published>2024-03-12T05:30:27Z</published>\n    <updated>2024-03-12T05:30:27Z</updated>\n    <media", 1)
	v2 := strings.Replace(v1, "<updated>2024-03-12T05:30:27Z</updated>\n    <media", "<updated>2024-03-12T07:00:00Z</updated>\n    <media", 1)
	v2 = strings.Replace(v2, "Parse podcast categories&lt;/pre&gt;", "Parse podcast categories, live at #OurDay&lt;/pre&gt;", 1)

	fs := newFeedServer(t, v1)
	cfg := Config{URL: fs.URL + "/commits.atom", Tags: []string{"OurDay"}}
	sink := newMemSink()
	ctx := context.Background()
	if err := newSource(t, cfg).poll(ctx, sink); err != nil {
		t.Fatal(err)
	}
	c, _ := sink.Cursor(ctx, cursorKey)
	if len(sink.Log.Entries()) != 0 || strings.Count(c, `"`+event.PostID(newSource(t, cfg).urnSpace+":tag:github.com,2008:Grit::Commit/6d97f8b4582414b6ce69467656824690057d4793")+`":0`) != 1 {
		t.Fatalf("first poll: %d events, cursor %s", len(sink.Log.Entries()), c)
	}
	fs.set(v2, `"v2"`)
	if err := newSource(t, cfg).poll(ctx, sink); err != nil {
		t.Fatal(err)
	}
	got := sink.Log.Entries()
	if len(got) != 1 || got[0].Kind != event.PostReceived || !strings.Contains(got[0].Post.Text, "#OurDay") {
		t.Fatalf("after the edit: %v", got)
	}
}

// RSS has no update element: a dc:date that moves (some generators write
// the build time there) must not become an edit on every poll.
func TestRSSDateChangeIsNotAnEdit(t *testing.T) {
	orig := fixture(t, "tagesschau.rss")
	fs := newFeedServer(t, strings.Replace(orig, "<dc:date>2023-12-12T14:20:21Z</dc:date>", "<dc:date>2023-12-12T18:00:00Z</dc:date>", 1))
	cfg := Config{URL: fs.URL + "/feed"}
	sink := newMemSink()
	ctx := context.Background()
	if err := newSource(t, cfg).poll(ctx, sink); err != nil {
		t.Fatal(err)
	}
	fs.set(strings.Replace(orig, "<dc:date>2023-12-12T14:20:21Z</dc:date>", "<dc:date>2023-12-12T19:00:00Z</dc:date>", 1), `"v2"`)
	if err := newSource(t, cfg).poll(ctx, sink); err != nil {
		t.Fatal(err)
	}
	if n, e := sink.Log.Count(event.PostReceived), sink.Log.Count(event.PostEdited); n != 3 || e != 0 {
		t.Errorf("received %d edited %d, want 3 and 0", n, e)
	}
	for _, p := range posts(sink) {
		if !p.EditedAt.IsZero() {
			t.Errorf("%s has edited_at %v", p.URI, p.EditedAt)
		}
	}
}
