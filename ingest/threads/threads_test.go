package threads

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/ingest"
	"github.com/backchannel/backchannel/ingest/ingesttest"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fakeThreads answers keyword_search from a script of replies, the last
// repeated, and records each query.
type fakeThreads struct {
	mu      sync.Mutex
	replies []reply
	queries []url.Values
}

type reply struct {
	status int
	body   string
}

func (f *fakeThreads) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1.0/keyword_search" {
		http.NotFound(w, r)
		return
	}
	f.mu.Lock()
	f.queries = append(f.queries, r.URL.Query())
	rp := f.replies[0]
	if len(f.replies) > 1 {
		f.replies = f.replies[1:]
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rp.status)
	io.WriteString(w, rp.body)
}

func (f *fakeThreads) asked() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.queries...)
}

func start(t *testing.T, f *fakeThreads, cfg Config) (*Source, *ingesttest.Sink, *ingesttest.Log) {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	cfg.BaseURL = srv.URL
	cfg.Token = "demo-token"
	cfg.Logger = quiet()
	if cfg.Tags == nil {
		cfg.Tags = []string{"Leaders4Leeds"}
	}
	src, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	log := ingesttest.NewLog()
	sink := ingesttest.NewSink(log, src.Name(), src.Kind())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, sink) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return within 10s of being stopped")
		}
	})
	return src, sink, log
}

func TestPostsAppendedOnceAcrossPolls(t *testing.T) {
	page := fixture(t, "keyword-search-page.json")
	f := &fakeThreads{replies: []reply{{200, page}}}
	_, sink, log := start(t, f, Config{Interval: 20 * time.Millisecond})
	ingesttest.WaitUntil(t, "three polls", func() bool { return len(f.asked()) >= 3 })
	if n := log.Count(event.PostReceived); n != 2 {
		t.Fatalf("appended %d posts after 3 polls of the same 2, want 2", n)
	}
	ingesttest.WaitUntil(t, "duplicates counted", func() bool { return sink.Health().Snapshot().Duplicates >= 2 })
	var got *event.Post
	for _, e := range log.Entries() {
		if e.Post != nil && e.Post.URI == PostURI("18050000000000001") {
			got = e.Post
		}
	}
	if got == nil {
		t.Fatal("the image post was not appended")
	}
	want := event.Author{ID: "threads:demo_ada", Handle: "@demo_ada", URL: "https://www.threads.net/@demo_ada"}
	if got.Author != want {
		t.Errorf("author %+v, want %+v (no name, no avatar)", got.Author, want)
	}
	if got.URL != "https://www.threads.net/@demo_ada/post/DemoAAA1" || got.Source != "threads" {
		t.Errorf("url %q source %q", got.URL, got.Source)
	}
	if !got.CreatedAt.Equal(time.Date(2026, 9, 14, 9, 5, 0, 0, time.UTC)) {
		t.Errorf("created %v", got.CreatedAt)
	}
	if len(got.Media) != 1 || got.Media[0].Kind != "image" || !strings.Contains(got.Media[0].Alt, "speaker on a stage") {
		t.Errorf("media %+v", got.Media)
	}
	if len(got.Tags) != 1 || got.Tags[0] != "Leaders4Leeds" {
		t.Errorf("tags %v", got.Tags)
	}
	// The second poll asks from the newest post's second.
	q := f.asked()
	if q[0].Get("since") != "" {
		t.Errorf("first poll sent since=%q with no start", q[0].Get("since"))
	}
	if s := q[len(q)-1].Get("since"); s != "1789376850" {
		t.Errorf("later poll since=%q, want the newest post's 1789376850", s)
	}
}

func TestTextIsEscaped(t *testing.T) {
	f := &fakeThreads{replies: []reply{{200, fixture(t, "keyword-search-page.json")}}}
	_, _, log := start(t, f, Config{Interval: time.Hour})
	ingesttest.WaitUntil(t, "two posts", func() bool { return log.Count(event.PostReceived) == 2 })
	for _, e := range log.Entries() {
		p := e.Post
		if p == nil || p.URI != PostURI("18050000000000002") {
			continue
		}
		if strings.Contains(p.HTML, "<b>") || !strings.Contains(p.HTML, "&lt;b&gt;") {
			t.Errorf("html %q: markup in the text must be escaped", p.HTML)
		}
		if p.Media != nil {
			t.Errorf("a text post got media %+v", p.Media)
		}
		return
	}
	t.Fatal("the text post was not appended")
}

func TestModeSent(t *testing.T) {
	for _, c := range []struct{ mode, q, wantMode string }{
		{"", "Leaders4Leeds", "TAG"},
		{ModeTag, "Leaders4Leeds", "TAG"},
		{ModeKeyword, "#Leaders4Leeds", "KEYWORD"},
	} {
		t.Run(c.wantMode+c.mode, func(t *testing.T) {
			f := &fakeThreads{replies: []reply{{200, fixture(t, "keyword-search-empty.json")}}}
			start(t, f, Config{Mode: c.mode, Interval: time.Hour, Start: time.Unix(1789300000, 0)})
			ingesttest.WaitUntil(t, "a query", func() bool { return len(f.asked()) >= 1 })
			q := f.asked()[0]
			if q.Get("search_mode") != c.wantMode || q.Get("q") != c.q || q.Get("search_type") != "RECENT" ||
				q.Get("fields") != Fields || q.Get("access_token") != "demo-token" || q.Get("since") != "1789300000" {
				t.Errorf("query %v", q)
			}
		})
	}
	if _, err := New(Config{Token: "t", Tags: []string{"a"}, Mode: "hashtag"}); err == nil {
		t.Error("mode hashtag accepted")
	}
}

func TestIntervalHonoursAllowance(t *testing.T) {
	for _, c := range []struct {
		tags, daily int
	}{{1, 2200}, {2, 2200}, {3, 1000}, {5, 100}} {
		iv := Interval(c.tags, c.daily)
		perDay := float64(24*time.Hour) / float64(iv) * float64(c.tags)
		if perDay > 0.9*float64(c.daily)+1e-6 {
			t.Errorf("%d tags, %d a day: every %s makes %.1f queries a day, over 90%%", c.tags, c.daily, iv, perDay)
		}
		if perDay < 0.9*float64(c.daily)-1 {
			t.Errorf("%d tags, %d a day: every %s makes only %.1f queries a day", c.tags, c.daily, iv, perDay)
		}
	}
	src, err := New(Config{Token: "t", Tags: []string{"Leaders4Leeds", "OurDay"}})
	if err != nil {
		t.Fatal(err)
	}
	// 24h × 2 / (0.9 × 2200) = 87.27s
	if got := src.PollInterval(); got.Round(10*time.Millisecond) != 87270*time.Millisecond {
		t.Errorf("default interval for 2 tags %s, want 87.27s", got)
	}
	// A run of polls at the computed interval stays within the allowance:
	// one tag, an allowance of 90 a day gives one query every 1056s; with
	// time scaled down (daily 90 × 20000), count the queries in a window.
	f := &fakeThreads{replies: []reply{{200, fixture(t, "keyword-search-empty.json")}}}
	src2, _, _ := start(t, f, Config{Tags: []string{"a", "b"}, DailyQueries: 90 * 200000})
	iv := src2.PollInterval()
	t0 := time.Now()
	ingesttest.WaitUntil(t, "six queries", func() bool { return len(f.asked()) >= 6 })
	el := time.Since(t0)
	polls := len(f.asked()) / 2
	// polls-1 intervals must have elapsed.
	if el < time.Duration(polls-1)*iv {
		t.Errorf("%d polls in %s at an interval of %s: faster than the allowance", polls, el, iv)
	}
}

func TestRateLimitBacksOffAndShowsInHealth(t *testing.T) {
	f := &fakeThreads{replies: []reply{
		{200, fixture(t, "keyword-search-empty.json")},
		{http.StatusTooManyRequests, fixture(t, "rate-limited.json")},
		{200, fixture(t, "keyword-search-page.json")},
	}}
	_, sink, log := start(t, f, Config{Interval: 20 * time.Millisecond, RateLimitWait: 400 * time.Millisecond})
	ingesttest.WaitUntil(t, "rate limited in health", func() bool {
		return sink.SawState(ingest.StateRateLimited, "query allowance used up")
	})
	snap := sink.Health().Snapshot()
	if snap.State == ingest.StateRateLimited {
		if !strings.Contains(snap.LastError, "error 4") || snap.RetryAt.Sub(snap.LastErrorAt) < 200*time.Millisecond {
			t.Errorf("health %+v: want the code and a retry at the next window", snap)
		}
	}
	n := len(f.asked())
	ingesttest.WaitUntil(t, "posts after the pause", func() bool { return log.Count(event.PostReceived) == 2 })
	if n != 2 {
		t.Errorf("%d queries by the time the rate limit showed, want 2", n)
	}
	ingesttest.WaitUntil(t, "ok again", func() bool { return sink.Health().Snapshot().State == ingest.StateOK })
}

func TestRateLimitCodeOn200(t *testing.T) {
	body := strings.Replace(fixture(t, "rate-limited.json"), `"code": 4`, `"code": 613`, 1)
	f := &fakeThreads{replies: []reply{{200, body}}}
	_, sink, _ := start(t, f, Config{Interval: 20 * time.Millisecond, RateLimitWait: time.Hour})
	ingesttest.WaitUntil(t, "rate limited", func() bool { return sink.SawState(ingest.StateRateLimited, "error 613") })
	if n := len(f.asked()); n != 1 {
		t.Errorf("%d queries after a rate limit with an hour's wait, want 1", n)
	}
}
