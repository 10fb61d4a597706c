package x

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/ingest"
	"github.com/backchannel/backchannel/ingest/ingesttest"
)

// running runs src into sink until the test ends (or stop is called).
func running(t *testing.T, src *Source, sink ingest.Sink) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, sink) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return within 10s of being stopped")
		}
	}
	t.Cleanup(stop)
	return stop
}

func newSource(t *testing.T, cfg Config) *Source {
	t.Helper()
	if cfg.Slug == "" {
		cfg.Slug = "leaders4leeds"
	}
	if cfg.Tags == nil && cfg.Query == "" {
		cfg.Tags = []string{"Leaders4Leeds", "OurDay"}
	}
	cfg.Logger = quiet()
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 50 * time.Millisecond
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func wait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ingesttest.WaitUntil(t, what, cond)
}

// The stream fixture: a post, two keep-alives, X's operational disconnect.
// The post is appended under its event's tag; the disconnect is followed
// by a reconnect at once and a search for the gap.
func TestStreamKeepAlivesAndOperationalDisconnect(t *testing.T) {
	f := newFakeX(t)
	c := f.client()
	hub := fastHub(c)
	l := ingesttest.NewLog()
	src := newSource(t, Config{Client: c, Hub: hub})
	running(t, src, newSink(l))
	wait(t, "the stream connects", func() bool { a, _, _ := f.streamCounts(); return a == 1 })
	searchesBefore := f.searchCount()
	raw := strings.ReplaceAll(fixture(t, "filtered-stream.ndjson"), "\r\n", "\r\n\x00")
	for _, ln := range strings.Split(raw, "\x00") {
		if ln != "" {
			f.lines <- ln
		}
	}
	uri := PostURI("1991489911204614400")
	wait(t, "the streamed post is appended", func() bool { return l.Received(uri) })
	wait(t, "the stream reconnects after the disconnect", func() bool { a, _, _ := f.streamCounts(); return a == 2 })
	wait(t, "the gap is searched after the reconnect", func() bool { return f.searchCount() > searchesBefore })
	if _, _, m := f.streamCounts(); m != 1 {
		t.Errorf("%d connections at once, want 1", m)
	}
	// The post as X gives it: quote shown below, display fields present.
	var p *event.Post
	for _, e := range l.Entries() {
		if e.Kind == event.PostReceived {
			p = e.Post
		}
	}
	if p.Author.Handle != "@NHSWorkforceDemo" || p.Author.Name != "NHS Workforce Team (demo)" || !strings.Contains(p.Author.Avatar, "_400x400") {
		t.Errorf("author %+v", p.Author)
	}
	if p.URL != "https://x.com/NHSWorkforceDemo/status/1991489911204614400" {
		t.Errorf("url %q", p.URL)
	}
	// The quoted post's author is not in this line's includes, and X's
	// display rules need the author: the quote is left out, the post kept.
	if strings.Contains(p.Text, "Packed hall") || !strings.HasPrefix(p.Text, "Brilliant start.") {
		t.Errorf("text %q", p.Text)
	}
}

// A connection that goes silent (no keep-alive) is taken as stalled and
// replaced.
func TestStalledStreamReconnects(t *testing.T) {
	f := newFakeX(t)
	f.silent = true
	c := f.client()
	src := newSource(t, Config{Client: c, Hub: fastHub(c)})
	l := ingesttest.NewLog()
	sink := newSink(l)
	running(t, src, sink)
	wait(t, "a stalled stream is reconnected", func() bool { a, _, _ := f.streamCounts(); return a >= 2 })
	if !sink.SawState(ingest.StateBackingOff, "stalled") {
		t.Error("the stall is not reported in the health")
	}
	if _, _, m := f.streamCounts(); m != 1 {
		t.Errorf("%d connections at once, want 1", m)
	}
}

// A rate-limit 429 (the fixture's body and headers) waits for the reset;
// nothing is asked again before it.
func TestRateLimit429WaitsForReset(t *testing.T) {
	f := newFakeX(t)
	reset := time.Now().Add(1500 * time.Millisecond).Truncate(time.Second).Add(time.Second)
	f.queueSearch(reply{status: 429, body: fixture(t, "rate-limited-429.body.json"), headers: map[string]string{
		"x-rate-limit-limit": "450", "x-rate-limit-remaining": "0", "x-rate-limit-reset": fmt.Sprint(reset.Unix())}})
	f.queueSearch(reply{body: fixture(t, "recent-search-partial-errors.json")})
	c := f.client()
	l := ingesttest.NewLog()
	sink := newSink(l)
	running(t, newSource(t, Config{Client: c}), sink)
	wait(t, "the source is rate limited", func() bool { return sink.Health().Snapshot().State == ingest.StateRateLimited })
	snap := sink.Health().Snapshot()
	if snap.RetryAt.Before(reset) {
		t.Errorf("retry at %v, before the reset %v", snap.RetryAt, reset)
	}
	if n := f.searchCount(); n != 1 {
		t.Errorf("%d searches before the reset, want 1", n)
	}
	wait(t, "the search succeeds after the reset", func() bool { return l.Received(PostURI("1991495800123456512")) })
	if time.Now().Before(reset) {
		t.Error("asked again before the reset")
	}
}

// A usage-cap 429 stops the source and says so; nothing retries it.
func TestUsageCap429StopsAndAlerts(t *testing.T) {
	f := newFakeX(t)
	f.queueSearch(reply{status: 429, body: fixture(t, "usage-capped-429.body.json"), headers: map[string]string{
		"x-rate-limit-limit": "450", "x-rate-limit-remaining": "448", "x-rate-limit-reset": fmt.Sprint(time.Now().Add(time.Minute).Unix())}})
	c := f.client()
	hub := fastHub(c)
	l := ingesttest.NewLog()
	sink := newSink(l)
	src := newSource(t, Config{Client: c, Hub: hub})
	running(t, src, sink)
	wait(t, "the source stops", func() bool { return sink.Health().Snapshot().State == ingest.StateStopped })
	snap := sink.Health().Snapshot()
	if !strings.Contains(snap.LastError, "usage cap") || !strings.Contains(snap.LastError, "operator") {
		t.Errorf("health says %q", snap.LastError)
	}
	n := f.searchCount()
	a, _, _ := f.streamCounts()
	time.Sleep(300 * time.Millisecond) // a window in which a retry loop would show
	if f.searchCount() != n {
		t.Error("searched again after the usage cap")
	}
	if a2, active, _ := f.streamCounts(); a2 != a || active != 0 {
		t.Errorf("stream connections %d -> %d (active %d) after the usage cap", a, a2, active)
	}
}

// A page with partial errors (a deleted quoted post, a protected author)
// is taken for what it has.
func TestPartialErrorsTolerated(t *testing.T) {
	f := newFakeX(t)
	f.queueSearch(reply{body: fixture(t, "recent-search-partial-errors.json")})
	l := ingesttest.NewLog()
	sink := newSink(l)
	running(t, newSource(t, Config{Client: f.client()}), sink)
	wait(t, "the post is appended", func() bool { return l.Received(PostURI("1991495800123456512")) })
	wait(t, "the source is ok", func() bool { return sink.Health().Snapshot().State == ingest.StateOK })
}

// An edit arrives as a new id whose history names the first: one post,
// keyed on the first id, then one edit.
func TestEditKeyedOnFirstID(t *testing.T) {
	f := newFakeX(t)
	c := f.client()
	l := ingesttest.NewLog()
	running(t, newSource(t, Config{Client: c, Hub: fastHub(c)}), newSink(l))
	wait(t, "the stream connects", func() bool { a, _, _ := f.streamCounts(); return a == 1 })
	posts, inc := pagePosts(t)
	edited := posts["1991486655002296320"]
	first := map[string]any{}
	for k, v := range edited {
		first[k] = v
	}
	first["id"] = "1991486001345069056"
	first["edit_history_tweet_ids"] = []string{"1991486001345069056"}
	first["created_at"] = "2026-11-19T09:55:40.000Z"
	delete(first, "note_tweet")
	f.lines <- lineOf(t, first, inc, "event:leaders4leeds")
	uri := PostURI("1991486001345069056")
	wait(t, "the first version is appended", func() bool { return l.Received(uri) })
	f.lines <- lineOf(t, edited, inc, "event:leaders4leeds")
	wait(t, "the edit is appended", func() bool { return l.CountOf(event.PostEdited, uri) == 1 })
	if n := l.Count(event.PostReceived); n != 1 {
		t.Errorf("%d posts received, want 1", n)
	}
	for _, e := range l.Entries() {
		if e.Kind == event.PostEdited {
			if !strings.Contains(e.Post.Text, "Staff wellbeing") {
				t.Errorf("the edit lacks the long post's full text: %q", e.Post.Text)
			}
			if e.Post.EditedAt.IsZero() || !e.Post.CreatedAt.Before(e.Post.EditedAt) {
				t.Errorf("created %v edited %v", e.Post.CreatedAt, e.Post.EditedAt)
			}
		}
	}
}

// A post on the wall that X no longer returns is taken down by the
// re-check; one still there is left.
func TestDeleteFoundByRecheck(t *testing.T) {
	f := newFakeX(t)
	f.queueSearch(reply{body: fixture(t, "recent-search-page.json")})
	posts, inc := pagePosts(t)
	b, _ := json.Marshal(posts["1991489911204614400"])
	u, _ := json.Marshal(inc["users"])
	f.alive["1991489911204614400"] = string(b)
	f.users = string(u)
	l := ingesttest.NewLog()
	running(t, newSource(t, Config{Client: f.client(), RecheckInterval: 100 * time.Millisecond,
		OnWall: func(string) bool { return true }}), newSink(l))
	gone := PostURI("1991482730115928064") // the retweeted original: not alive
	kept := PostURI("1991489911204614400")
	wait(t, "the posts are appended", func() bool { return l.Received(gone) && l.Received(kept) })
	wait(t, "the deleted post is taken down", func() bool { return l.CountOf(event.PostDeleted, gone) == 1 })
	if l.CountOf(event.PostDeleted, kept) != 0 {
		t.Error("a post still on X was taken down")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ids := range f.lookups {
		if len(ids) > 100 {
			t.Errorf("a lookup of %d ids", len(ids))
		}
	}
}

// A retweet of a post already shown adds nothing: the post is the
// original, once.
func TestRetweetOfShownPostExactlyOnce(t *testing.T) {
	f := newFakeX(t)
	c := f.client()
	l := ingesttest.NewLog()
	src := newSource(t, Config{Client: c, Hub: fastHub(c), Retweets: true})
	stop := running(t, src, newSink(l))
	wait(t, "the stream connects", func() bool { a, _, _ := f.streamCounts(); return a == 1 })
	posts, inc := pagePosts(t)
	orig := PostURI("1991482730115928064")
	f.lines <- lineOf(t, posts["1991482730115928064"], inc, "event:leaders4leeds")
	wait(t, "the original is appended", func() bool { return l.Received(orig) })
	f.lines <- lineOf(t, posts["1991491207766142976"], inc, "event:leaders4leeds")
	f.lines <- streamLine(t, "event:leaders4leeds") // a marker after it
	wait(t, "the marker is appended", func() bool { return l.Received(PostURI("1991489911204614400")) })
	// Another process (or a restart) with no memory sees the retweet again.
	stop()
	src2 := newSource(t, Config{Client: c, Retweets: true})
	pg := &page{}
	_ = json.Unmarshal([]byte(lineOf(t, posts["1991491207766142976"], inc, "event:leaders4leeds")), pg)
	src2.known = map[string]string{}
	if err := src2.handle(context.Background(), newSink(l), pg, false); err != nil {
		t.Fatal(err)
	}
	if n := l.CountOf(event.PostReceived, orig); n != 1 {
		t.Errorf("the original was received %d times, want 1", n)
	}
	if n := l.Count(event.PostReceived); n != 2 {
		t.Errorf("%d posts, want 2 (the original and the marker)", n)
	}
	if l.Received(PostURI("1991491207766142976")) {
		t.Error("the retweet itself was stored")
	}
}

// Rules are reconciled: a stale rule of ours deleted, a foreign one left,
// each event's rule validated with dry_run before it is added, a refused
// one reported in X's words on its event's health.
func TestRuleReconciliation(t *testing.T) {
	f := newFakeX(t)
	f.rules["1"] = Rule{ID: "1", Value: "#old", Tag: "event:old"}
	f.rules["2"] = Rule{ID: "2", Value: "#other", Tag: "someone-else"}
	c := f.client()
	hub := fastHub(c)
	la, lb := ingesttest.NewLog(), ingesttest.NewLog()
	sa, sb := newSink(la), newSink(lb)
	running(t, newSource(t, Config{Client: c, Hub: hub, Slug: "good"}), sa)
	running(t, newSource(t, Config{Client: c, Hub: hub, Slug: "bad", Query: "has:images -is:retweet"}), sb)
	wait(t, "the bad rule is reported", func() bool {
		return strings.Contains(sb.Health().Snapshot().LastError, "Rules must contain a non-negation term")
	})
	wait(t, "the rules are reconciled", func() bool {
		tags := strings.Join(f.ruleTags(), " ")
		return strings.Contains(tags, "event:good") && !strings.Contains(tags, "event:old")
	})
	tags := f.ruleTags()
	if strings.Contains(strings.Join(tags, " "), "event:bad") || !strings.Contains(strings.Join(tags, " "), "someone-else") {
		t.Errorf("rules at X: %v", tags)
	}
	f.mu.Lock()
	calls := append([]string(nil), f.ruleCalls...)
	f.mu.Unlock()
	dry, add := -1, -1
	for i, c := range calls {
		if strings.HasPrefix(c, "POST dry_run add") && strings.Contains(c, "event:good") && dry < 0 {
			dry = i
		}
		if strings.HasPrefix(c, "POST add") && strings.Contains(c, "event:good") && add < 0 {
			add = i
		}
		if strings.HasPrefix(c, "POST add") && strings.Contains(c, "event:bad") {
			t.Errorf("the refused rule was added: %s", c)
		}
	}
	if dry < 0 || add < 0 || dry > add {
		t.Errorf("rule calls %v: want a dry run before the add", calls)
	}
	if !sb.SawState(ingest.StateBackingOff, "X refused the stream rule") {
		t.Error("the refusal is not in words on the health")
	}
}

// The budget pauses the source and takes its rule off the stream.
func TestBudgetPauses(t *testing.T) {
	f := newFakeX(t)
	c := f.client()
	hub := fastHub(c)
	l := ingesttest.NewLog()
	sink := newSink(l)
	// Another event keeps the stream open, so the paused event's rule must go.
	running(t, newSource(t, Config{Client: c, Hub: hub, Slug: "other", Tags: []string{"OtherEvent"}, PollInterval: time.Hour}), newSink(ingesttest.NewLog()))
	wait(t, "the other event's rule is in force", func() bool { return strings.Contains(strings.Join(f.ruleTags(), " "), "event:other") })
	wait(t, "the other event has searched", func() bool { return f.searchCount() >= 1 })
	// 4 posts + 4 users = $0.06, for this event's search only: the other
	// event searches again when the stream reconnects with the new rule.
	f.queueSearch(reply{body: fixture(t, "recent-search-page.json"), query: "#Leaders4Leeds"})
	src := newSource(t, Config{Client: c, Hub: hub, Budget: 0.05})
	running(t, src, sink)
	wait(t, "the source pauses", func() bool { return sink.Health().Snapshot().State == ingest.StateStopped })
	if s := sink.Health().Snapshot(); !strings.Contains(s.LastError, "budget") || !strings.Contains(s.Detail, "$0.06") {
		t.Errorf("health %q / %q", s.LastError, s.Detail)
	}
	wait(t, "the paused event's rule is removed", func() bool { return strings.Join(f.ruleTags(), " ") == "event:other" })
	if p, u, usd := src.Spend(); p != 4 || u != 4 || usd < 0.0599 || usd > 0.0601 {
		t.Errorf("spend %d posts %d users $%.4f", p, u, usd)
	}
}

// The search pages as X says: since_id kept while following next_token,
// and the next cursor is the first page's newest_id.
func TestSearchPagingCursor(t *testing.T) {
	f := newFakeX(t)
	page1 := fixture(t, "recent-search-page.json")
	f.queueSearch(reply{body: page1}, reply{body: fixture(t, "recent-search-partial-errors.json")})
	l := ingesttest.NewLog()
	sink := newSink(l)
	if err := sink.SetCursor(context.Background(), curSince, "1991400000000000000"); err != nil {
		t.Fatal(err)
	}
	running(t, newSource(t, Config{Client: f.client()}), sink)
	wait(t, "three searches", func() bool { return f.searchCount() >= 3 })
	f.mu.Lock()
	q := append([]string(nil), f.searches...)
	f.mu.Unlock()
	if !strings.Contains(q[0], "since_id=1991400000000000000") || strings.Contains(q[0], "next_token") {
		t.Errorf("first %s", q[0])
	}
	if !strings.Contains(q[1], "since_id=1991400000000000000") || !strings.Contains(q[1], "next_token=b26v89c19zqg8o3fpdm6hm0qx9s4sbeb1nquc9a4xgjx") {
		t.Errorf("second %s", q[1])
	}
	if !strings.Contains(q[2], "since_id=1991491207766142976") {
		t.Errorf("third %s: want the first page's newest_id", q[2])
	}
}

// The reconnect schedule is X's: at once, then linear for network errors,
// exponential from 5 s for HTTP errors and from a minute for 429.
func TestReconnectSchedule(t *testing.T) {
	h := NewHub(HubConfig{Client: &Client{}, Logger: quiet()})
	var n, hN, r int
	var got []time.Duration
	for range 3 {
		_, w := h.classify(fmt.Errorf("net"), &n, &hN, &r)
		got = append(got, w)
	}
	for range 3 {
		_, w := h.classify(&APIError{Status: 503}, &n, &hN, &r)
		got = append(got, w)
	}
	for range 3 {
		_, w := h.classify(&APIError{Status: 429}, &n, &hN, &r)
		got = append(got, w)
	}
	want := []time.Duration{0, 250 * time.Millisecond, 500 * time.Millisecond, 5 * time.Second, 10 * time.Second, 20 * time.Second,
		time.Minute, 2 * time.Minute, 4 * time.Minute}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("waits %v, want %v", got, want)
	}
	if k, _ := h.classify(classify(epSearch, 429, nil, []byte(fixture(t, "usage-capped-429.body.json"))), &n, &hN, &r); k != endCapped {
		t.Error("the usage cap is not told from a rate limit")
	}
	if classify(epSearch, 429, nil, []byte(fixture(t, "rate-limited-429.body.json"))).UsageCapped {
		t.Error("a rate limit taken for the usage cap")
	}
	if !classify(epSearch, 429, nil, []byte(`{"errors":[{"code":88,"message":"Rate limit exceeded"}]}`)).RateLimited() {
		t.Error("the v1.1 rate-limit body is not a rate limit")
	}
}
