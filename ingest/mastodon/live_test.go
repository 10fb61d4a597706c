package mastodon

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/ingest/ingesttest"
	"github.com/backchannel/backchannel/moderation"
)

// The person these tests follow: ada, whose handles end in a.example while
// her server's web host is web.a.example (Mastodon's LOCAL_DOMAIN and
// WEB_DOMAIN, GoToSocial's account-domain and host).
const (
	adaHandle  = "@ada@a.example"
	adaProfile = "https://web.a.example/@ada"
	adaActor   = "https://web.a.example/users/ada"
)

// asAda makes st a status by ada as served by her own server (local:
// acct without a domain; Mastodon 4.2+ sends the actor uri) or by another
// server (acct with her account domain; GoToSocial sends no uri).
func asAda(st map[string]any, local, withURI bool) map[string]any {
	a := st["account"].(map[string]any)
	a["username"], a["display_name"] = "ada", "Ada"
	a["acct"] = "ada@a.example"
	if local {
		a["acct"] = "ada"
	}
	a["url"] = adaProfile
	delete(a, "uri")
	if withURI {
		a["uri"] = adaActor
	}
	return st
}

// userEnvelope wraps a status (or an id) as the user stream sends it.
func userEnvelope(t testing.TB, ev string, payload any) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(envelope(t, ev, payload), &m); err != nil {
		t.Fatal(err)
	}
	m["stream"] = []string{"user"}
	b, _ := json.Marshal(m)
	return b
}

// streamingSource runs a streaming source with a token against f (whose
// account domain is a.example) on the wall's real sink with rules.
func streamingSource(t *testing.T, f *fakeServer, w *testWall, rules *moderation.Rules) *Source {
	t.Helper()
	f.token = "user-token"
	f.mu.Lock()
	f.domain = "a.example"
	f.mu.Unlock()
	cfg := fastConfig(f.srv.URL, "OurDay")
	cfg.Token, cfg.Stream = "user-token", true
	cfg.PollInterval = time.Hour // what arrives, arrived by the stream
	src := mustNew(t, cfg)
	run(t, src, w.sink(src.Name(), rules))
	ingesttest.WaitUntil(t, "the user stream and the tag followed", func() bool {
		return f.userStreams() > 0 && slices.Contains(f.followed(), "OurDay")
	})
	return src
}

// Against a server whose hashtag stream is silent (GoToSocial), the
// source follows the tag and takes the tagged posts from the user stream,
// ignoring the rest of the home timeline; an edit and a delete from the
// stream reach the public wall API within a second each.
func TestUserStreamEditAndDeleteReachTheWallWithinASecond(t *testing.T) {
	f := newFakeServer(t)
	w := newTestWall(t, event.ModeAuto)
	src := streamingSource(t, f, w, &moderation.Rules{Mode: event.ModeAuto})

	// A followed account's post without the tag: not the event's.
	other := asAda(numbered(t, 1, "Cats", time.Now()), true, false)
	other["id"] = "9001"
	if err := f.push(userEnvelope(t, "update", other)); err != nil {
		t.Fatal(err)
	}
	st := asAda(numbered(t, 2, "OurDay", time.Now()), true, false)
	st["id"] = "9002"
	if err := f.push(userEnvelope(t, "update", st)); err != nil {
		t.Fatal(err)
	}
	ingesttest.WaitUntil(t, "the tagged post on the wall", func() bool { return w.showsText(uriOf(2), "post 2") })
	if src.homeIgnored.Load() != 1 {
		t.Errorf("%d home-timeline posts ignored, want 1", src.homeIgnored.Load())
	}
	if _, ok := w.shows(uriOf(1)); ok {
		t.Error("an untagged home-timeline post reached the wall")
	}
	if p, _ := w.shows(uriOf(2)); p.Author.Handle != adaHandle {
		t.Errorf("handle %q, want %q (the server's account domain, not its host)", p.Author.Handle, adaHandle)
	}

	edited := clone(t, st)
	edited["content"] = `<p>post 2, corrected <a href="https://a.example/tags/OurDay" class="mention hashtag" rel="tag">#<span>OurDay</span></a></p>`
	edited["edited_at"] = time.Now().UTC().Format(time.RFC3339Nano)
	start := time.Now()
	if err := f.push(userEnvelope(t, "status.update", edited)); err != nil {
		t.Fatal(err)
	}
	waitWithin(t, time.Second, start, "the edit on the wall", func() bool { return w.showsText(uriOf(2), "corrected") })

	start = time.Now()
	if err := f.push(userEnvelope(t, "delete", "9002")); err != nil {
		t.Fatal(err)
	}
	waitWithin(t, time.Second, start, "the delete off the wall", func() bool {
		_, ok := w.shows(uriOf(2))
		return !ok
	})
}

// waitWithin fails the test unless cond holds within d of start.
func waitWithin(t *testing.T, d time.Duration, start time.Time, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(2 * time.Millisecond) // polling the wall API, not synchronising
	}
	t.Logf("%s after %v", what, time.Since(start).Round(time.Millisecond))
}

// On a polling-only server (no token) with Mastodon 4.3's batch read, a
// delete takes the post off the wall within the bound the configuration
// promises with 500 of the source's posts on the wall: every post on the
// wall is read again within ceil(500 / (20 × reads)) check intervals,
// wherever it sits among them.
func TestPollingDeleteBoundWith500PostsOnTheWall(t *testing.T) {
	f := newFakeServer(t)
	f.batch = true
	w := newTestWall(t, event.ModeAuto)
	const n = 500
	base := time.Now().Add(-time.Hour)
	ids := make([]string, n+1)
	for i := 1; i <= n; i++ {
		ids[i] = f.add(numbered(t, i, "OurDay", base))
	}
	cfg := fastConfig(f.srv.URL, "OurDay")
	cfg.MaxBackfillPages = 20 // 800 posts: the whole tag
	cfg.Start = base
	cfg.PollInterval = 50 * time.Millisecond
	cfg.DeleteCheckInterval = 200 * time.Millisecond
	cfg.OnWall = w.live.OnWall
	src := mustNew(t, cfg)
	run(t, src, w.sink(src.Name(), &moderation.Rules{Mode: event.ModeAuto}))
	ingesttest.WaitUntil(t, "500 posts on the wall", func() bool { return len(w.posts()) == n })

	// The bound at the defaults' ratio: 10 reads of 20 a check.
	checks := (n + 20*10 - 1) / (20 * 10)
	bound := time.Duration(checks)*cfg.DeleteCheckInterval + time.Second // + slack for the race detector
	victims := []int{1, n / 2, n}
	for _, v := range victims {
		f.remove(ids[v])
	}
	start := time.Now()
	waitWithin(t, bound, start, "three deleted posts off the wall", func() bool {
		for _, v := range victims {
			if w.live.OnWall(uriOf(v)) {
				return false
			}
		}
		return true
	})
	if len(w.posts()) != n-len(victims) {
		t.Errorf("%d posts on the wall, want %d", len(w.posts()), n-len(victims))
	}
	if got := f.requestCount("/api/v1/statuses/"); got != 0 {
		t.Errorf("%d single status reads on a server with the batch read", got)
	}
	if src.batchRead.Load() != batchYes {
		t.Error("batch read not in use")
	}
}

// On a server without the batch read (404), the check falls back to
// reading statuses one by one, and a delete still arrives.
func TestPollingDeleteWithoutBatchRead(t *testing.T) {
	f := newFakeServer(t)
	log := ingesttest.NewLog()
	id := f.add(numbered(t, 1, "OurDay", time.Now()))
	f.add(numbered(t, 2, "OurDay", time.Now()))
	cfg := fastConfig(f.srv.URL, "OurDay")
	cfg.DeleteCheckInterval = 20 * time.Millisecond
	src := mustNew(t, cfg)
	sink := newMemSink(log, src.Name())
	run(t, src, sink)
	ingesttest.WaitUntil(t, "the posts", func() bool { return log.Count(event.PostReceived) == 2 })
	f.remove(id)
	ingesttest.WaitUntil(t, "the delete", func() bool { return log.CountOf(event.PostDeleted, uriOf(1)) == 1 })
	if src.batchRead.Load() != batchNo {
		t.Error("the missing batch read was not noticed")
	}
	if f.requestCount("/api/v1/statuses/") == 0 {
		t.Error("no single reads")
	}
	if log.CountOf(event.PostDeleted, uriOf(2)) != 0 {
		t.Error("a post still there was deleted")
	}
}

// A server that answers the batch read with [] whatever it is asked (it
// ignores id[]) must not get every post deleted.
func TestBatchReadIgnoringIDsDeletesNothing(t *testing.T) {
	f := newFakeServer(t)
	f.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/api/v1/statuses" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`[]`))
			return true
		}
		return false
	})
	log := ingesttest.NewLog()
	f.add(numbered(t, 1, "OurDay", time.Now()))
	f.add(numbered(t, 2, "OurDay", time.Now()))
	cfg := fastConfig(f.srv.URL, "OurDay")
	cfg.DeleteCheckInterval = 20 * time.Millisecond
	src := mustNew(t, cfg)
	run(t, src, newMemSink(log, src.Name()))
	ingesttest.WaitUntil(t, "the batch read found out", func() bool { return src.batchRead.Load() == batchNo })
	ingesttest.WaitUntil(t, "more checks", func() bool { return f.requestCount("/api/v1/statuses/") > 6 })
	if n := log.Count(event.PostDeleted); n != 0 {
		t.Errorf("%d deletes of posts still there", n)
	}
}

// The same person seen through her own server (Mastodon: local acct,
// actor uri) and through another (GoToSocial: remote acct, no uri) has one
// handle and one identity, so a moderator's block of her (keyed on the
// identity) covers both.
func TestSamePersonOneHandleThroughTwoServers(t *testing.T) {
	own, other := newFakeServer(t), newFakeServer(t)
	own.domain, other.domain = "a.example", "b.example"
	log := ingesttest.NewLog()
	own.add(asAda(numbered(t, 1, "OurDay", time.Now()), true, true))
	other.add(asAda(numbered(t, 2, "OurDay", time.Now()), false, false))
	for _, f := range []*fakeServer{own, other} {
		src := mustNew(t, fastConfig(f.srv.URL, "OurDay"))
		run(t, src, newMemSink(log, src.Name()))
	}
	ingesttest.WaitUntil(t, "both posts", func() bool { return log.Count(event.PostReceived) == 2 })
	var authors []event.Author
	for _, e := range log.Entries() {
		authors = append(authors, e.Post.Author)
	}
	if authors[0].Handle != adaHandle || authors[1].Handle != adaHandle {
		t.Errorf("handles %q and %q, want %q for both", authors[0].Handle, authors[1].Handle, adaHandle)
	}
	if authors[0].ID != authors[1].ID || authors[0].ID != "acct:ada@a.example" {
		t.Errorf("ids %q and %q, want one", authors[0].ID, authors[1].ID)
	}
}

// A block of ada in any form a moderator may paste holds in auto mode,
// whichever kind of server her post came through: through the real sink
// and rules, her post is rejected and never reaches the wall, while
// another author's post does.
func TestBlockInEveryFormHoldsInAutoMode(t *testing.T) {
	forms := []string{adaHandle, "ada@a.example", "acct:ada@a.example", adaProfile, adaActor, "https://WEB.a.example/@Ada/"}
	servers := []struct {
		name           string
		local, withURI bool
	}{{"her own Mastodon server", true, true}, {"another server, GoToSocial-like (no uri)", false, false}}
	for i, form := range forms {
		for j, sv := range servers {
			t.Run(fmt.Sprintf("%s via %s", form, sv.name), func(t *testing.T) {
				f := newFakeServer(t)
				f.domain = "a.example"
				if !sv.local {
					f.domain = "b.example"
				}
				w := newTestWall(t, event.ModeAuto)
				n := 10*i + j + 1
				f.add(asAda(numbered(t, n, "OurDay", time.Now()), sv.local, sv.withURI))
				f.add(numbered(t, 1000+n, "OurDay", time.Now())) // someone else
				src := mustNew(t, fastConfig(f.srv.URL, "OurDay"))
				rules := &moderation.Rules{Mode: event.ModeAuto, BlockedAccounts: moderation.Entries(form)}
				run(t, src, w.sink(src.Name(), rules))
				ingesttest.WaitUntil(t, "the other author's post on the wall", func() bool { return w.showsText(uriOf(1000+n), "post") })
				if _, ok := w.shows(uriOf(n)); ok {
					t.Fatalf("ada's post is on the wall despite the block %q", form)
				}
				evs, err := w.log.Read(t.Context(), 0, 0)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range evs {
					if e.PostID == event.PostID(uriOf(n)) && (e.Verdict == nil || e.Verdict.Decision != event.DecisionReject ||
						!strings.HasPrefix(e.Verdict.Rule, moderation.RuleBlockedAccount)) {
						t.Errorf("verdict %+v, want rejected as a blocked account", e.Verdict)
					}
				}
			})
		}
	}
	// With a port in the account domain (a server run on one).
	t.Run("handle with a port", func(t *testing.T) {
		f := newFakeServer(t)
		f.domain = "localhost:18080"
		w := newTestWall(t, event.ModeAuto)
		f.add(numbered(t, 1, "OurDay", time.Now())) // mastodonpy_test_2, local
		f.add(asAda(numbered(t, 2, "OurDay", time.Now()), false, false))
		src := mustNew(t, fastConfig(f.srv.URL, "OurDay"))
		rules := &moderation.Rules{Mode: event.ModeAuto, BlockedAccounts: moderation.Entries("@mastodonpy_test_2@localhost:18080")}
		run(t, src, w.sink(src.Name(), rules))
		ingesttest.WaitUntil(t, "the other author's post on the wall", func() bool { return w.showsText(uriOf(2), "post 2") })
		if _, ok := w.shows(uriOf(1)); ok {
			t.Fatal("the blocked author's post is on the wall")
		}
	})
}

// A server that advertises a streaming address the client cannot reach
// (GoToSocial over plain http advertises wss://) is streamed from the
// API's own host instead, at once.
func TestStreamFallsBackToTheAPIHost(t *testing.T) {
	f := newFakeServer(t)
	f.token = "tok"
	f.mu.Lock()
	f.streamingHost = "wss://" + strings.TrimPrefix(f.srv.URL, "http://") // TLS to a plain-http server
	f.mu.Unlock()
	cfg := fastConfig(f.srv.URL, "OurDay")
	cfg.Token, cfg.Stream, cfg.PollInterval = "tok", true, time.Hour
	cfg.MinBackoff, cfg.MaxBackoff = time.Minute, time.Minute // no second chance within the test
	log := ingesttest.NewLog()
	src := mustNew(t, cfg)
	sink := newMemSink(log, src.Name())
	start := time.Now()
	run(t, src, sink)
	ingesttest.WaitUntil(t, "streaming from the API's own host", func() bool {
		return sink.Health().Snapshot().Streaming && f.userStreams() > 0
	})
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("streaming began %v after start", d)
	}
	if detail := sink.Health().Snapshot().Detail; !strings.Contains(detail, "streaming from ws://") {
		t.Errorf("health detail %q", detail)
	}
}

// When neither the advertised address nor the API's host streams, polling
// goes on, and the failure is logged and shown once, not per attempt.
func TestUnreachableStreamReportedOnce(t *testing.T) {
	f := newFakeServer(t)
	f.token = "tok"
	f.mu.Lock()
	f.streamingHost = "wss://127.0.0.1:1" // nothing listens
	f.noStreaming = true                  // and the API host has no streaming
	f.mu.Unlock()
	logs := &countingHandler{}
	cfg := fastConfig(f.srv.URL, "OurDay")
	cfg.Token, cfg.Stream = "tok", true
	cfg.Logger = slog.New(logs)
	log := ingesttest.NewLog()
	src := mustNew(t, cfg)
	sink := newMemSink(log, src.Name())
	run(t, src, sink)
	f.add(numbered(t, 1, "OurDay", time.Now()))
	ingesttest.WaitUntil(t, "five failed stream attempts", func() bool { return src.streamFailures.Load() >= 5 })
	ingesttest.WaitUntil(t, "a polled post", func() bool { return log.CountOf(event.PostReceived, uriOf(1)) == 1 })
	if n := logs.count(slog.LevelWarn, "stream dropped; polling continues"); n != 1 {
		t.Errorf("the stream failure was logged %d times at warn, want once", n)
	}
	if n := logs.count(slog.LevelInfo, "the advertised streaming address takes no connection; trying the API's own host"); n != 1 {
		t.Errorf("the fallback was logged %d times, want once", n)
	}
	h := sink.Health().Snapshot()
	if h.Streaming || !strings.Contains(h.Detail, "not streaming") || !strings.Contains(h.Detail, "404") {
		t.Errorf("health %+v", h)
	}
}

// countingHandler counts log records by level and message.
type countingHandler struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (c *countingHandler) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[r.Level.String()+" "+r.Message]++
	return nil
}
func (c *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *countingHandler) WithGroup(string) slog.Handler      { return c }
func (c *countingHandler) count(l slog.Level, msg string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[l.String()+" "+msg]
}
