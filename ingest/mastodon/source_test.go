package mastodon

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gomastodon "github.com/mattn/go-mastodon"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/ingest"
	"github.com/backchannel/backchannel/ingest/ingesttest"
)

// replayHeaders writes recorded response headers (as VCR stored them, a
// list per name), minus the length, which the server sets itself.
func replayHeaders(t *testing.T, w http.ResponseWriter, file string) {
	var h map[string][]string
	if err := json.Unmarshal(readFixture(t, file), &h); err != nil {
		t.Fatal(err)
	}
	for k, vs := range h {
		if strings.EqualFold(k, "content-length") {
			continue
		}
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
}

// TestRecordedPages replays a recorded tag timeline: a full first page
// with its Link and rate-limit headers, then the recorded empty last page
// (no Link header). The source must take the ten posts once, oldest first,
// keep its own cursor across the empty page, and record the rate limit.
func TestRecordedPages(t *testing.T) {
	const tag = "fgiztsshwiaqqiztpmmjbtvmescsculuvmgjgopwoeidbcrixp"
	var mu sync.Mutex
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/timelines/tag/"+tag {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("Authorization") != "" {
			t.Errorf("anonymous request carries Authorization %q", r.Header.Get("Authorization"))
		}
		mu.Lock()
		queries = append(queries, r.URL.RawQuery)
		mu.Unlock()
		if r.URL.Query().Get("min_id") == "" {
			replayHeaders(t, w, "mastodon_tag_timeline_page1_limit10.headers.json")
			_, _ = w.Write(readFixture(t, "mastodon_tag_timeline_page1_limit10.body.json"))
			return
		}
		replayHeaders(t, w, "mastodon_tag_timeline_last_page_empty.headers.json")
		_, _ = w.Write(readFixture(t, "mastodon_tag_timeline_last_page_empty.body.json"))
	}))
	defer srv.Close()

	log := ingesttest.NewLog()
	src := mustNew(t, fastConfig(srv.URL, "#"+tag))
	sink := newMemSink(log, src.Name())
	run(t, src, sink)

	ingesttest.WaitUntil(t, "two polls after the back-fill", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(queries) >= 5
	})
	evs := log.Entries()
	if len(evs) != 10 {
		t.Fatalf("appended %d events, want 10", len(evs))
	}
	for i, e := range evs {
		want := 20 + i // the page is newest first: Toot number 29 .. 20
		if e.Kind != event.PostReceived || !strings.Contains(e.Post.Text, "Toot number "+strconv.Itoa(want)+"!") {
			t.Errorf("event %d = %s %q, want Toot number %d", i, e.Kind, e.Post.Text, want)
		}
	}
	cur, _ := sink.Cursor(t.Context(), "tag:"+tag)
	if cur != "117020581413876942" {
		t.Errorf("cursor = %q, want the newest id", cur)
	}
	mu.Lock()
	forward := 0
	for _, q := range queries[1:] {
		switch q {
		case "limit=40": // the re-read of the newest page
		case "limit=40&min_id=117020581413876942":
			forward++
		default:
			t.Errorf("query %q, want limit=40&min_id=117020581413876942 (the cursor must survive the empty page)", q)
		}
	}
	mu.Unlock()
	if forward < 2 {
		t.Errorf("%d forward polls after the empty page, want 2 or more", forward)
	}
	h := sink.Health().Snapshot()
	if h.RateLimitRemaining != 299 || h.RateLimitReset.IsZero() {
		t.Errorf("rate limit = %d, %v; want 299 and the recorded reset", h.RateLimitRemaining, h.RateLimitReset)
	}
	if h.State != ingest.StateOK || h.LastSuccess.IsZero() {
		t.Errorf("health = %+v", h)
	}
}

func decodeStatus(t *testing.T, file string) *gomastodon.Status {
	t.Helper()
	var st gomastodon.Status
	if err := json.Unmarshal(readFixture(t, file), &st); err != nil {
		t.Fatal(err)
	}
	return &st
}

func TestConvert(t *testing.T) {
	t.Run("custom emoji and remote author", func(t *testing.T) {
		p := Convert(decodeStatus(t, "mastodon_status_custom_emoji.json"), "mastodon.social")
		if !strings.Contains(p.HTML, `<img src="https://files.mastodon.social/custom_emojis/images/000/109/724/static/7283224bdc0ce77f.png" alt=":toot:"`) {
			t.Errorf("HTML = %s", p.HTML)
		}
		if p.Text != "ClashTime :toot: :cr_top:" {
			t.Errorf("Text = %q", p.Text)
		}
		if p.Author.Handle != "@rio@kaptains.net" || p.Author.Name != ":rio: KaptainRio - DerWagrier" {
			t.Errorf("author = %+v", p.Author)
		}
		if p.Author.ID != "acct:rio@kaptains.net" || p.Author.Domain() != "kaptains.net" {
			t.Errorf("author id = %q", p.Author.ID)
		}
		if p.URI != "https://kaptains.net/users/rio/statuses/104009345526101446" || p.ID != event.PostID(p.URI) {
			t.Errorf("uri/id = %q %q", p.URI, p.ID)
		}
		if p.Source != "mastodon" || p.SourceName != "mastodon.social" {
			t.Errorf("source = %q %q", p.Source, p.SourceName)
		}
		if err := p.Validate(); err != nil {
			t.Error(err)
		}
	})
	t.Run("content warning, local author", func(t *testing.T) {
		p := Convert(decodeStatus(t, "mastodon_status_spoiler_sensitive.json"), "localhost:3000")
		if p.ContentWarning == "" || !p.Sensitive {
			t.Errorf("cw = %q sensitive = %v", p.ContentWarning, p.Sensitive)
		}
		// The recording server's LOCAL_DOMAIN is localhost:3000 (its
		// account uri is http://localhost:3000/ap/users/…): a handle keeps
		// the port, as the same account's acct on any other server does.
		if p.Author.Handle != "@mastodonpy_test@localhost:3000" {
			t.Errorf("handle = %q: a local acct must get the server's domain", p.Author.Handle)
		}
		if p.Author.ID != "acct:mastodonpy_test@localhost:3000" {
			t.Errorf("author id = %q, want the acct: identity", p.Author.ID)
		}
	})
	t.Run("media with alt text", func(t *testing.T) {
		p := Convert(decodeStatus(t, "mastodon_status_media_alt_text.json"), "localhost:3000")
		if len(p.Media) != 1 {
			t.Fatalf("media = %+v", p.Media)
		}
		m := p.Media[0]
		want := event.Media{Kind: "video",
			URL:        "http://localhost:3000/system/media_attachments/files/117/020/619/601/888/181/original/932c0edfaa578808.mp4",
			PreviewURL: "http://localhost:3000/system/media_attachments/thumbnails/117/020/619/601/888/181/original/e6f90b897e480f7a.jpg",
			Alt:        "me when a cat", Blurhash: "UPN1Ddxup{IT9an~.8RjK-oy%gkE%#W?i^t6", Width: 640, Height: 640}
		if m != want {
			t.Errorf("media = %+v\nwant %+v", m, want)
		}
	})
	t.Run("unknown media, no alt", func(t *testing.T) {
		p := Convert(decodeStatus(t, "mastodon_status_media_unknown_no_alt_sensitive.json"), "mastodon.social")
		if len(p.Media) != 2 || p.Media[0].Kind != "unknown" || p.Media[0].Alt != "" || !p.Sensitive {
			t.Errorf("media = %+v sensitive %v", p.Media, p.Sensitive)
		}
	})
	t.Run("hashtags and edit time", func(t *testing.T) {
		p := Convert(decodeStatus(t, "mastodon_status_edited_stream_status_update.json"), "mastodon.social")
		if strings.Join(p.Tags, ",") != "MUSICTUESDAY,piano,neoclassical,jazz" {
			t.Errorf("tags = %v", p.Tags)
		}
		if p.EditedAt.IsZero() || !p.EditedAt.After(p.CreatedAt) {
			t.Errorf("edited_at = %v created_at = %v", p.EditedAt, p.CreatedAt)
		}
		if p.Language != "en" {
			t.Errorf("language = %q", p.Language)
		}
		if strings.Contains(p.HTML, "invisible") || strings.Contains(p.HTML, "<span") {
			t.Errorf("HTML keeps Mastodon's spans: %s", p.HTML)
		}
	})
	t.Run("boost resolves to the original", func(t *testing.T) {
		st := decodeStatus(t, "mastodon_status_reblog.json")
		o := original(st)
		if o.URI != "http://localhost:3000/ap/users/117020565966271181/statuses/117020586019094258" {
			t.Errorf("original uri = %q", o.URI)
		}
		if keep(o) {
			t.Errorf("the recorded boosted post is unlisted and must not be kept")
		}
	})
	t.Run("only public", func(t *testing.T) {
		if keep(decodeStatus(t, "mastodon_status_media_two_images_alt_sensitive.json")) {
			t.Error("unlisted status kept")
		}
		if !keep(decodeStatus(t, "mastodon_status_plain_hashtag.json")) {
			t.Error("public status dropped")
		}
	})
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{Tags: []string{"x"}},
		{Server: "ftp://example.org", Tags: []string{"x"}},
		{Server: "https://example.org"},
		{Server: "https://example.org", Tags: []string{"#", " "}},
	} {
		if _, err := New(cfg); event.ErrorCode(err) != event.EINVALID {
			t.Errorf("New(%+v) = %v, want EINVALID", cfg, err)
		}
	}
	s, err := New(Config{Server: "mastodon.social", Tags: []string{"#OurDay", "ourday", "Leaders4Leeds"}})
	if err != nil {
		t.Fatal(err)
	}
	if s.Name() != "mastodon:mastodon.social" || strings.Join(s.Tags(), ",") != "OurDay,Leaders4Leeds" {
		t.Errorf("name %q tags %v", s.Name(), s.Tags())
	}
	if s.cfg.PollInterval != 15*time.Second {
		t.Errorf("default anonymous interval for 2 tags = %v, want 15s", s.cfg.PollInterval)
	}
}

func TestDefaultPollInterval(t *testing.T) {
	for _, c := range []struct {
		tags  int
		token bool
		want  time.Duration
	}{{1, false, 15 * time.Second}, {4, false, 24 * time.Second}, {1, true, 6 * time.Second}, {10, true, time.Minute}} {
		got := DefaultPollInterval(c.tags, c.token)
		if got != c.want {
			t.Errorf("DefaultPollInterval(%d, %v) = %v, want %v", c.tags, c.token, got, c.want)
		}
		// Half the paging budget at most: tags*900s/interval <= 150.
		if float64(c.tags)*900/got.Seconds() > 150 {
			t.Errorf("%d tags every %v exceed half the paging budget", c.tags, got)
		}
	}
}

// TestBackfillThenForward: the first run takes posts since Start (paging
// back with max_id), none older, oldest first; later posts come by forward
// paging, a burst larger than one page included.
func TestBackfillThenForward(t *testing.T) {
	base := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	f := newFakeServer(t)
	for n := 1; n <= 95; n++ {
		f.add(numbered(t, n, "OurDay", base))
	}
	cfg := fastConfig(f.srv.URL, "ourday")
	cfg.Start = base.Add(11 * time.Minute) // posts 11..95 are the event's
	log := ingesttest.NewLog()
	src := mustNew(t, cfg)
	sink := newMemSink(log, src.Name())
	run(t, src, sink)

	ingesttest.WaitUntil(t, "back-fill", func() bool { return len(log.Entries()) >= 85 })
	ingesttest.WaitUntil(t, "a forward poll", func() bool { return f.requestCount("/api/v1/timelines/tag/") >= 5 })
	for n := 96; n <= 150; n++ { // a burst: 55 posts, more than a page
		f.add(numbered(t, n, "OurDay", base))
	}
	ingesttest.WaitUntil(t, "the burst", func() bool { return len(log.Entries()) >= 140 })
	ingesttest.WaitUntil(t, "more polls", func() bool { return f.requestCount("/api/v1/timelines/tag/") >= 12 })

	evs := log.Entries()
	if len(evs) != 140 {
		t.Fatalf("appended %d, want 140 (posts 11..150)", len(evs))
	}
	for i, e := range evs {
		if e.Post.URI != uriOf(11+i) {
			t.Fatalf("event %d is %s, want post %d: back-fill must go oldest first and take nothing before Start", i, e.Post.URI, 11+i)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	sawMax, sawMin := false, false
	for _, r := range f.requests {
		if !strings.HasPrefix(r.URL.Path, "/api/v1/timelines/") {
			continue
		}
		q := r.URL.Query()
		if q.Get("limit") != "40" {
			t.Errorf("request %s without limit=40", r.URL)
		}
		sawMax = sawMax || q.Get("max_id") != ""
		sawMin = sawMin || q.Get("min_id") != ""
	}
	if !sawMax || !sawMin {
		t.Errorf("back-fill by max_id (%v) and forward by min_id (%v) expected", sawMax, sawMin)
	}
}

// TestThreeServers: the same federated posts on three servers under
// different local ids reach the log once each.
func TestThreeServers(t *testing.T) {
	base := time.Now().Add(-time.Hour)
	log := ingesttest.NewLog()
	var servers []*fakeServer
	var sinks []*ingesttest.Sink
	for i := range 3 {
		f := newFakeServer(t)
		f.next += int64(i) * 7 // different local ids per server
		servers = append(servers, f)
		src := mustNew(t, fastConfig(f.srv.URL, "OurDay", "Leaders4Leeds"))
		sink := newMemSink(log, src.Name())
		sinks = append(sinks, sink)
		run(t, src, sink)
	}
	// Posts 1..30: post n is on server n%3 and on the next one; every
	// third is on all three. Tags alternate.
	for n := 1; n <= 30; n++ {
		tag := "OurDay"
		if n%2 == 0 {
			tag = "Leaders4Leeds"
		}
		st := numbered(t, n, tag, base)
		servers[n%3].add(st)
		servers[(n+1)%3].add(st)
		if n%3 == 0 {
			servers[(n+2)%3].add(st)
		}
	}
	ingesttest.WaitUntil(t, "every post", func() bool { return len(log.Entries()) >= 30 })
	ingesttest.WaitUntil(t, "every server polled again", func() bool {
		for _, f := range servers {
			if f.requestCount("/api/v1/timelines/tag/") < 10 {
				return false
			}
		}
		return true
	})
	if got := log.Kinds()[event.PostReceived]; got != 30 || len(log.Entries()) != 30 {
		t.Errorf("events = %v, want exactly 30 post.received", log.Kinds())
	}
	for n := 1; n <= 30; n++ {
		if c := log.CountOf(event.PostReceived, uriOf(n)); c != 1 {
			t.Errorf("post %d received %d times", n, c)
		}
	}
	var dups, appended int64
	for _, s := range sinks {
		h := s.Health().Snapshot()
		dups += h.Duplicates
		appended += h.Appended
	}
	if appended != 30 || dups < 30 {
		t.Errorf("appended %d duplicates %d; want 30 and at least 30 (every post is on two or three servers)", appended, dups)
	}
}

// TestRereadEditsBoostsDeletes: the newest page is re-read, so a remote
// post that arrives with an id below the cursor is still taken, and an
// edit shows as post.edited; a boost resolves to its original; unlisted
// posts are never taken; a post gone from the server is deleted.
func TestRereadEditsBoostsDeletes(t *testing.T) {
	base := time.Now().Add(-time.Hour)
	f := newFakeServer(t)
	cfg := fastConfig(f.srv.URL, "OurDay")
	cfg.RereadInterval = 30 * time.Millisecond
	cfg.DeleteCheckInterval = 30 * time.Millisecond
	log := ingesttest.NewLog()
	src := mustNew(t, cfg)
	sink := newMemSink(log, src.Name())

	first := f.add(numbered(t, 1, "OurDay", base))
	// A boost of post 2 (the recorded boost, its original made public
	// and tagged).
	boost := loadStatusMap(t, "mastodon_status_reblog.json")
	orig := numbered(t, 2, "OurDay", base)
	orig["visibility"] = "public"
	boost["reblog"] = orig
	f.add(boost)
	// An unlisted post with the tag (recorded unlisted status).
	unlisted := loadStatusMap(t, "mastodon_status_media_two_images_alt_sensitive.json")
	unlisted["tags"] = []any{map[string]any{"name": "OurDay"}}
	f.add(unlisted)
	run(t, src, sink)

	ingesttest.WaitUntil(t, "posts 1 and 2", func() bool { return len(log.Entries()) >= 2 })
	if log.CountOf(event.PostReceived, uriOf(2)) != 1 {
		t.Errorf("the boost did not resolve to its original: %v", log.Entries())
	}
	// A late remote post, with an id older than the cursor.
	f.addWithID(numbered(t, 3, "OurDay", base), "100000000000000000")
	ingesttest.WaitUntil(t, "the backdated post", func() bool { return log.CountOf(event.PostReceived, uriOf(3)) == 1 })

	// Post 1 is edited at its origin.
	edited := base.Add(30 * time.Minute).UTC().Format(time.RFC3339Nano)
	f.update(first, func(m map[string]any) {
		m["edited_at"] = edited
		m["content"] = "<p>post 1, corrected</p>"
	})
	ingesttest.WaitUntil(t, "the edit", func() bool { return log.CountOf(event.PostEdited, uriOf(1)) == 1 })

	// Post 1 is deleted at its origin.
	f.remove(first)
	ingesttest.WaitUntil(t, "the delete", func() bool { return log.CountOf(event.PostDeleted, uriOf(1)) == 1 })

	ingesttest.WaitUntil(t, "more re-reads", func() bool { return f.requestCount("/api/v1/timelines/tag/") >= 20 })
	k := log.Kinds()
	if k[event.PostReceived] != 3 || k[event.PostEdited] != 1 || k[event.PostDeleted] != 1 {
		t.Errorf("events = %v; want 3 received (no unlisted), 1 edited, 1 deleted", k)
	}
	for _, e := range log.Entries() {
		if e.Kind == event.PostEdited && e.Post.Text != "post 1, corrected" {
			t.Errorf("edit text = %q", e.Post.Text)
		}
		if e.Post != nil && strings.Contains(e.Post.URI, "/activity") {
			t.Errorf("a boost's own uri was stored: %s", e.Post.URI)
		}
	}
}

// TestCursorsSurviveRestart: a second run over the same log (the same
// stored cursors) asks from the cursor, not from scratch, and still knows
// which local id a delete names.
func TestCursorsSurviveRestart(t *testing.T) {
	base := time.Now().Add(-time.Hour)
	f := newFakeServer(t)
	ids := []string{f.add(numbered(t, 1, "OurDay", base)), f.add(numbered(t, 2, "OurDay", base))}
	log := ingesttest.NewLog()

	src := mustNew(t, fastConfig(f.srv.URL, "OurDay"))
	sink := newMemSink(log, src.Name())
	stop := run(t, src, sink)
	ingesttest.WaitUntil(t, "first run", func() bool { return len(log.Entries()) == 2 })
	ingesttest.WaitUntil(t, "recent stored", func() bool {
		v, _ := sink.Cursor(t.Context(), "recent")
		return strings.Contains(v, ids[1])
	})
	stop()

	f.mu.Lock()
	before := len(f.requests)
	f.mu.Unlock()
	f.add(numbered(t, 3, "OurDay", base))
	cfg := fastConfig(f.srv.URL, "OurDay")
	cfg.DeleteCheckInterval = 20 * time.Millisecond
	src2 := mustNew(t, cfg)
	sink2 := newMemSink(log, src2.Name())
	run(t, src2, sink2)
	ingesttest.WaitUntil(t, "post 3", func() bool { return log.CountOf(event.PostReceived, uriOf(3)) == 1 })
	f.mu.Lock()
	firstAfter := "(none)"
	for _, r := range f.requests[before:] {
		if strings.HasPrefix(r.URL.Path, "/api/v1/timelines/") {
			firstAfter = r.URL.Query().Get("min_id")
			break
		}
	}
	f.mu.Unlock()
	if firstAfter != ids[1] {
		t.Errorf("restarted source asked min_id=%q, want the stored cursor %q", firstAfter, ids[1])
	}
	f.remove(ids[0])
	ingesttest.WaitUntil(t, "delete of a post appended before the restart", func() bool { return log.CountOf(event.PostDeleted, uriOf(1)) == 1 })
	if len(log.Entries()) != 4 {
		t.Errorf("events = %v", log.Kinds())
	}
}
