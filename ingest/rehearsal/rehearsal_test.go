package rehearsal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
	"github.com/backchannel/backchannel/eventlog/disklog"
	"github.com/backchannel/backchannel/ingest"
	"github.com/backchannel/backchannel/ingest/sanitize"
	"github.com/backchannel/backchannel/moderation"
)

var now = time.Date(2026, 11, 28, 18, 30, 0, 0, time.UTC)

func TestEveryCorpusPostIsValidAndSafe(t *testing.T) {
	s := New(Config{Tags: []string{"Leaders4Leeds"}, Seed: 1})
	for i := range corpus {
		p := s.build(i, uint64(i+1), "Leaders4Leeds", now)
		e := event.Entry{Kind: event.PostReceived, Actor: event.Actor{Role: event.RoleSource, Name: "rehearsal"}, Post: &p}
		if err := e.Validate(); err != nil {
			t.Errorf("corpus[%d]: %v", i, err)
		}
		// The HTML is what the sanitiser would store: sanitising it again
		// changes nothing, and gives the same plain text.
		safe, text := sanitize.HTML(p.HTML, nil)
		if safe != p.HTML {
			t.Errorf("corpus[%d]: the sanitiser changes the HTML\n have %s\n want %s", i, p.HTML, safe)
		}
		if text != p.Text {
			t.Errorf("corpus[%d]: plain text %q, the sanitiser gives %q", i, p.Text, text)
		}
		if !strings.Contains(p.Text, "#Leaders4Leeds") || strings.Contains(p.Text, "{tag}") {
			t.Errorf("corpus[%d]: text %q does not carry the event's hashtag", i, p.Text)
		}
		if !utf8.ValidString(p.Text) || !utf8.ValidString(p.ContentWarning) {
			t.Errorf("corpus[%d]: invalid UTF-8", i)
		}
		for _, m := range p.Media {
			if !strings.HasPrefix(m.URL, "/static/rehearsal/media/") || m.Alt == "" || m.Width == 0 || m.Height == 0 {
				t.Errorf("corpus[%d]: media %+v: want a /static/rehearsal/media/ URL, alt text and a size", i, m)
			}
		}
		if a := p.Author.Avatar; a != "" && !strings.HasPrefix(a, "/static/rehearsal/") {
			t.Errorf("corpus[%d]: avatar %q is not under /static/rehearsal/", i, a)
		}
		if p.Author.ID == "" {
			t.Errorf("corpus[%d]: author without id", i)
		}
		if p.Sensitive && len(p.Media) == 0 {
			t.Errorf("corpus[%d]: sensitive without media", i)
		}
	}
}

func TestVariety(t *testing.T) {
	s := New(Config{Tags: []string{"Leaders4Leeds", "OurDay"}, Seed: 42})
	langs, authors, tags, uris := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	var cw, sensitive, media, questions, asked, links, long, short, multiPara int
	const n = 600
	for i := uint64(1); i <= n; i++ {
		p := s.Post(i, now)
		if p.URI != fmt.Sprintf("urn:backchannel:rehearsal:%d", i) {
			t.Fatalf("post %d has uri %s", i, p.URI)
		}
		uris[p.URI] = true
		langs[p.Language] = true
		authors[p.Author.ID] = true
		for _, tg := range p.Tags {
			tags[tg] = true
		}
		if p.CreatedAt.After(now) || now.Sub(p.CreatedAt) > 30*time.Second {
			t.Errorf("post %d created at %v, want a few seconds before %v", i, p.CreatedAt, now)
		}
		count := func(b bool, c *int) {
			if b {
				*c++
			}
		}
		count(p.ContentWarning != "", &cw)
		count(p.Sensitive, &sensitive)
		count(len(p.Media) > 0, &media)
		count(strings.ContainsAny(p.Text, "?？؟"), &questions)
		count(p.Question, &asked)
		count(strings.Contains(p.HTML, "<a href="), &links)
		count(utf8.RuneCountInString(p.Text) > 300, &long)
		count(utf8.RuneCountInString(p.Text) < 40, &short)
		count(strings.Count(p.HTML, "<p>") > 2, &multiPara)
	}
	for _, l := range []string{"en", "fr", "cy", "es", "de", "ja", "ar"} {
		if !langs[l] {
			t.Errorf("no post in %s", l)
		}
	}
	if len(uris) != n {
		t.Errorf("%d distinct uris in %d posts", len(uris), n)
	}
	if len(authors) < 15 || !tags["Leaders4Leeds"] || !tags["OurDay"] {
		t.Errorf("%d authors, tags %v", len(authors), tags)
	}
	for what, c := range map[string]int{
		"content warnings": cw, "sensitive": sensitive, "media": media, "questions": questions,
		"form questions": asked, "links": links, "long": long, "short": short, "several paragraphs": multiPara,
	} {
		if c < n/100 || c > n*9/10 {
			t.Errorf("%d of %d posts have %s; want some, not all", c, n, what)
		}
	}
	// The same seed gives the same posts; another seed, another order.
	again := New(Config{Tags: []string{"Leaders4Leeds", "OurDay"}, Seed: 42})
	other := New(Config{Tags: []string{"Leaders4Leeds", "OurDay"}, Seed: 43})
	same := 0
	for i := uint64(1); i <= 50; i++ {
		if s.Post(i, now).Text != again.Post(i, now).Text {
			t.Fatalf("post %d differs for the same seed", i)
		}
		if s.Post(i, now).Text == other.Post(i, now).Text {
			same++
		}
	}
	if same > 10 {
		t.Errorf("%d of 50 posts are the same under another seed", same)
	}
}

// TestRulesCatchWhatTheyShould runs the corpus through the real
// moderation rules, in auto mode with the settings docs/INGEST.md suggests
// for a rehearsal: the posts meant to be caught are not approved, and
// every ordinary post is.
func TestRulesCatchWhatTheyShould(t *testing.T) {
	rules := moderation.Rules{
		Mode:           event.ModeAuto,
		Profanity:      true,
		BlockedDomains: []moderation.TimedEntry{{Value: "spam.example"}},
		BlockedWords:   []string{"spam.example"},
	}
	s := New(Config{Tags: []string{"OurDay"}})
	caught := 0
	for i, e := range corpus {
		p := s.build(i, uint64(i+1), "OurDay", now)
		v := rules.Evaluate(p, now)
		ordinary := !e.catch && e.cw == "" && !e.sensitive
		if approved := v.Decision == event.DecisionApprove; approved != ordinary {
			t.Errorf("corpus[%d] %q: %s (%s); meant to be caught: %v", i, p.Text, v.Decision, v.Rule, !ordinary)
		}
		if e.catch {
			caught++
		}
	}
	if caught < 5 {
		t.Errorf("only %d posts for the rules to catch", caught)
	}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openLog(t *testing.T) eventlog.Log {
	t.Helper()
	st, err := disklog.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	l, err := st.Log(context.Background(), "rehearsal-test")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// runPosts runs src on a sink over l until it has made n new posts, with
// the pacing waits recorded instead of waited, and returns them.
func runPosts(t *testing.T, src *Source, l eventlog.Log, n int) []time.Duration {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var waits []time.Duration
	fired := make(chan time.Time)
	close(fired)
	src.wait = func(d time.Duration) <-chan time.Time {
		mu.Lock()
		defer mu.Unlock()
		if len(waits) == n {
			cancel() // n posts made: stop before the next
			return nil
		}
		waits = append(waits, d)
		return fired
	}
	h := ingest.NewHealth(src.Name(), src.Kind())
	sink := ingest.NewLogSink(l, nil, h, event.Actor{Role: event.RoleSource, Name: src.Name()}, nil)
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, sink) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not stop")
	}
	if h.Snapshot().State != ingest.StateOK {
		t.Errorf("health %+v, want ok", h.Snapshot())
	}
	return waits
}

func TestRateAndResume(t *testing.T) {
	l := openLog(t)
	const rate = 30.0 // a post every 2 s on average
	src := New(Config{Rate: rate, Tags: []string{"OurDay"}, Seed: 7, Logger: quiet()})
	if src.Interval() != 2*time.Second {
		t.Fatalf("Interval = %v, want 2s", src.Interval())
	}
	waits := runPosts(t, src, l, 200)
	var total time.Duration
	for _, d := range waits {
		if d < time.Second || d > 3*time.Second {
			t.Fatalf("wait %v outside [1s, 3s]", d)
		}
		total += d
	}
	mean := total / time.Duration(len(waits))
	if mean < 1800*time.Millisecond || mean > 2200*time.Millisecond {
		t.Errorf("mean wait %v over %d posts, want 2s ± 10%%", mean, len(waits))
	}

	// A new source (a restart, another process) continues the sequence.
	again := New(Config{Rate: rate, Tags: []string{"OurDay"}, Seed: 7, Logger: quiet()})
	runPosts(t, again, l, 50)

	evs, err := l.Read(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	seq, edits, deletes := 0, 0, 0
	for _, e := range evs {
		switch e.Kind {
		case event.PostReceived:
			seq++
			if want := URI(uint64(seq)); e.Post.URI != want {
				t.Fatalf("received #%d is %s, want %s", seq, e.Post.URI, want)
			}
		case event.PostEdited:
			edits++
			if e.Post.EditedAt.IsZero() || !strings.HasSuffix(e.Post.Text, "(edited)") {
				t.Errorf("edit %v without edit time or mark", &e)
			}
		case event.PostDeleted:
			deletes++
		}
	}
	if seq != 250 {
		t.Errorf("%d posts received, want 250", seq)
	}
	if edits != 250/17 || deletes != 250/29 {
		t.Errorf("%d edits and %d deletes, want %d and %d", edits, deletes, 250/17, 250/29)
	}
}

func TestBadRate(t *testing.T) {
	for _, rate := range []float64{0, -1, 1e9} {
		err := New(Config{Rate: rate}).Run(context.Background(), ingest.NewLogSink(nil, nil, nil, event.Actor{Role: event.RoleSource, Name: "r"}, nil))
		var e *event.Error
		if !errors.As(err, &e) || e.Code != event.EINVALID {
			t.Errorf("rate %v: Run = %v, want EINVALID", rate, err)
		}
	}
}
