package webform

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backchannel/backchannel/ingest/ingesttest"
	"github.com/backchannel/backchannel/internal/jsonhttp"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/ingest"
	"github.com/backchannel/backchannel/moderation"
)

// newMemSink returns a recording sink over a log of its own that judges
// posts with rules and stamps entries with now, as the runner's sink does.
func newMemSink(rules moderation.Rules, now func() time.Time) *ingesttest.Sink {
	rules.Compile()
	s := ingesttest.NewSink(ingesttest.NewLog(), "form", Kind)
	s.Rules, s.Clock = &rules, now
	return s
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const notice = "Posts approved by a moderator are shown on the wall in the room. We keep them until 31 December."

type fixture struct {
	h     *Handler
	sink  *ingesttest.Sink
	clock *clock
	mux   *http.ServeMux
}

// newFixture serves the form of event "demo", whose rules are auto-approve:
// form posts must still be held.
func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	c := &clock{t: time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)}
	opts.Now = c.Now
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	rules := moderation.Default()
	rules.Mode = event.ModeAuto
	f := &fixture{h: New(opts), sink: newMemSink(rules, c.Now), clock: c, mux: http.NewServeMux()}
	f.h.SetEvent("demo", Event{Sink: f.sink, Notice: notice})
	f.mux.Handle("/e/{slug}/form", f.h)
	return f
}

func (f *fixture) postJSON(v any, addr string) *httptest.ResponseRecorder {
	b, _ := json.Marshal(v)
	req := httptest.NewRequest("POST", "/e/demo/form", strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = addr
	rec := httptest.NewRecorder()
	f.mux.ServeHTTP(rec, req)
	return rec
}

func errorCode(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var b jsonhttp.ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
		t.Fatalf("error body %q: %v", rec.Body, err)
	}
	return b.Error.Code
}

func TestInfo(t *testing.T) {
	f := newFixture(t, Options{})
	rec := httptest.NewRecorder()
	f.mux.ServeHTTP(rec, httptest.NewRequest("GET", "/e/demo/form", nil))
	var info Info
	if err := json.Unmarshal(rec.Body.Bytes(), &info); err != nil || rec.Code != 200 {
		t.Fatalf("%d %s %v", rec.Code, rec.Body, err)
	}
	if info != (Info{Notice: notice, MaxText: 500, MaxName: 50, Honeypot: "website"}) {
		t.Errorf("info %+v", info)
	}
	rec = httptest.NewRecorder()
	f.mux.ServeHTTP(rec, httptest.NewRequest("GET", "/e/nope/form", nil))
	if rec.Code != 404 || errorCode(t, rec) != event.ENOTFOUND {
		t.Errorf("unknown event: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	f.mux.ServeHTTP(rec, httptest.NewRequest("DELETE", "/e/demo/form", nil))
	if rec.Code != 405 {
		t.Errorf("DELETE: %d", rec.Code)
	}
}

func TestSubmit(t *testing.T) {
	f := newFixture(t, Options{Limits: Limits{PerDevice: PerMinute(1000), PerAddress: PerMinute(1000), PerEvent: PerMinute(1000)}})
	rec := f.postJSON(map[string]any{"name": "  Ada\nLovelace ", "text": "  How will the <b>new</b> bus routes\r\nreach Holbeck?\n\n\n\nThanks \u202Eevil  ", "question": true}, "192.0.2.1:1")
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	var ans Answer
	if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil || ans.Status != "received" || ans.Message != "Thanks — a moderator will review your post." || ans.Token == "" {
		t.Errorf("answer %s", rec.Body)
	}
	evs := f.sink.Log.Entries()
	if len(evs) != 1 {
		t.Fatalf("%d events", len(evs))
	}
	e := evs[0]
	if ans.Post != e.PostID {
		t.Errorf("answer names post %q, appended %q", ans.Post, e.PostID)
	}
	p := e.Post
	if e.Kind != event.PostReceived || p.Source != "form" || !strings.HasPrefix(p.URI, "urn:backchannel:form:") || p.ID != event.PostID(p.URI) {
		t.Errorf("event %s post %+v", e.String(), p)
	}
	if want := "How will the <b>new</b> bus routes\nreach Holbeck?\n\nThanks evil"; p.Text != want {
		t.Errorf("text %q, want %q", p.Text, want)
	}
	if want := "How will the &lt;b&gt;new&lt;/b&gt; bus routes<br>reach Holbeck?<br><br>Thanks evil"; p.HTML != want {
		t.Errorf("html %q, want %q", p.HTML, want)
	}
	if p.Author.Name != "Ada Lovelace" || !strings.HasPrefix(p.Author.ID, "form:") || !p.Question || !p.CreatedAt.Equal(f.clock.Now()) {
		t.Errorf("post %+v", p)
	}
	// The event is in auto mode, and the form is still held.
	if e.Verdict == nil || e.Verdict.Decision != event.DecisionHold || e.Verdict.Rule != moderation.RuleWebForm {
		t.Errorf("verdict %+v", e.Verdict)
	}
	if s := f.sink.Health().Snapshot(); s.State != ingest.StateOK || s.Appended != 1 {
		t.Errorf("health %+v", s)
	}

	// A form-encoded post, no name, a checkbox; the same text twice makes
	// two posts (each submission is its own post).
	for i := 0; i < 2; i++ {
		req := httptest.NewRequest("POST", "/e/demo/form", strings.NewReader(url.Values{"text": {"Hello from Leeds"}, "question": {"on"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.RemoteAddr = "192.0.2.1:2"
		rec = httptest.NewRecorder()
		f.mux.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("form post: %d %s", rec.Code, rec.Body)
		}
	}
	evs = f.sink.Log.Entries()
	if len(evs) != 3 || evs[1].Post.Author.Name != "Anonymous" || !evs[1].Post.Question || evs[1].Post.URI == evs[2].Post.URI || evs[1].Post.Author.ID == evs[2].Post.Author.ID {
		t.Errorf("form posts %+v / %+v", evs[1].Post, evs[2].Post)
	}
}

func TestSubmitRefusals(t *testing.T) {
	f := newFixture(t, Options{Limits: Limits{PerDevice: PerMinute(1000), PerAddress: PerMinute(1000), PerEvent: PerMinute(1000)}})
	cases := []struct {
		name string
		body any
		code int
	}{
		{"no text", map[string]any{"name": "A"}, 400},
		{"blank text", map[string]any{"text": " \n\t "}, 400},
		{"invisible text", map[string]any{"text": "\u200B\u2060"}, 400},
		{"text too long", map[string]any{"text": strings.Repeat("é", 501)}, 400},
		{"name too long", map[string]any{"text": "hi", "name": strings.Repeat("n", 51)}, 400},
		{"question not a boolean", map[string]any{"text": "hi", "question": 3}, 400},
		{"not json", "{", 400},
	}
	for _, tc := range cases {
		var rec *httptest.ResponseRecorder
		if s, ok := tc.body.(string); ok {
			req := httptest.NewRequest("POST", "/e/demo/form", strings.NewReader(s))
			req.Header.Set("Content-Type", "application/json")
			rec = httptest.NewRecorder()
			f.mux.ServeHTTP(rec, req)
		} else {
			rec = f.postJSON(tc.body, "192.0.2.2:1")
		}
		if rec.Code != tc.code || errorCode(t, rec) != event.EINVALID {
			t.Errorf("%s: %d %s", tc.name, rec.Code, rec.Body)
		}
	}
	// Too large a body.
	req := httptest.NewRequest("POST", "/e/demo/form", strings.NewReader("text="+strings.Repeat("a", maxBody)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	f.mux.ServeHTTP(rec, req)
	if rec.Code != 400 {
		t.Errorf("large body: %d", rec.Code)
	}
	// Exactly at the caps passes, counted in characters, not bytes.
	if rec := f.postJSON(map[string]any{"text": strings.Repeat("é", 500), "name": strings.Repeat("ñ", 50)}, "192.0.2.2:1"); rec.Code != 200 {
		t.Errorf("at the caps: %d %s", rec.Code, rec.Body)
	}
	if n := len(f.sink.Log.Entries()); n != 1 {
		t.Errorf("%d posts appended, want only the one at the caps", n)
	}
	// Unknown event.
	req = httptest.NewRequest("POST", "/e/nope/form", strings.NewReader(`{"text":"hi"}`))
	rec = httptest.NewRecorder()
	f.mux.ServeHTTP(rec, req)
	if rec.Code != 404 {
		t.Errorf("unknown event: %d", rec.Code)
	}
}

func TestHoneypot(t *testing.T) {
	f := newFixture(t, Options{})
	rec := f.postJSON(map[string]any{"text": "Cheap watches", "website": "http://spam.example"}, "192.0.2.3:1")
	real := f.postJSON(map[string]any{"text": "A real post"}, "192.0.2.4:1")
	// The same answer but for the post's id and token, which look alike.
	var hp, ra Answer
	_ = json.Unmarshal(rec.Body.Bytes(), &hp)
	_ = json.Unmarshal(real.Body.Bytes(), &ra)
	if rec.Code != real.Code || hp.Status != ra.Status || hp.Message != ra.Message || len(hp.Post) != len(ra.Post) ||
		strings.Count(hp.Token, ".") != 2 || strings.Count(ra.Token, ".") != 2 {
		t.Errorf("honeypot answer %d %s differs from a real one %d %s", rec.Code, rec.Body, real.Code, real.Body)
	}
	evs := f.sink.Log.Entries()
	if len(evs) != 1 || evs[0].Post.Text != "A real post" {
		t.Errorf("appended %d events", len(evs))
	}
}

func TestSinkFailure(t *testing.T) {
	f := newFixture(t, Options{})
	f.sink.Log.Fail(errors.New("log unreachable"))
	rec := f.postJSON(map[string]any{"text": "hello"}, "192.0.2.7:1")
	if rec.Code != 503 || errorCode(t, rec) != event.EUNAVAILABLE || strings.Contains(rec.Body.String(), "unreachable") {
		t.Errorf("%d %s", rec.Code, rec.Body)
	}
	if s := f.sink.Health().Snapshot(); s.State != ingest.StateBackingOff || s.LastError != "log unreachable" {
		t.Errorf("health %+v", s)
	}
}

// TestOverHTTP posts through a real loopback server, as a browser's fetch does.
func TestOverHTTP(t *testing.T) {
	f := newFixture(t, Options{})
	srv := httptest.NewServer(f.mux)
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/e/demo/form", "application/json; charset=utf-8", strings.NewReader(`{"name":"Zoë","text":"Où est la salle ?","question":"on"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ans Answer
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil || resp.StatusCode != 200 || ans.Status != "received" {
		t.Fatalf("%d %+v %v", resp.StatusCode, ans, err)
	}
	evs := f.sink.Log.Entries()
	if len(evs) != 1 || evs[0].Post.Author.Name != "Zoë" || evs[0].Post.Text != "Où est la salle ?" || !evs[0].Post.Question {
		t.Errorf("%+v", evs)
	}
}

func TestCleanText(t *testing.T) {
	cases := []struct {
		in        string
		multiline bool
		want      string
	}{
		{"a\r\nb", true, "a\nb"},
		{"a\n\n\n\nb", true, "a\n\nb"},
		{"a  \nb", true, "a\nb"},
		{"a\nb", false, "a b"},
		{"e\u0301", true, "é"}, // NFC
		{"x\u202Ey\u2066z", true, "xyz"},
		{"bad\xffutf8", true, "bad\uFFFDutf8"},
		{"👩\u200D💻", true, "👩\u200D💻"},
		{"a\x00\x07b\tc", true, "ab c"},
	}
	for _, tc := range cases {
		if got := cleanText(tc.in, tc.multiline); got != tc.want {
			t.Errorf("cleanText(%q, %v) = %q, want %q", tc.in, tc.multiline, got, tc.want)
		}
	}
}
