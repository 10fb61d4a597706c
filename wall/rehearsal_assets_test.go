package wall_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/backchannel/backchannel/ingest/rehearsal"
)

var handler = regexp.MustCompile(`\son[a-z]+\s*=`)

// Every avatar and picture a rehearsal post points at is served by the
// pages, so `serve --rehearse` shows images rather than broken ones (the
// rehearsal source names same-origin URLs under /static/rehearsal/).
func TestRehearsalAssetsServed(t *testing.T) {
	f := newFixture(t)
	src := rehearsal.New(rehearsal.Config{Rate: 60, Tags: []string{"T"}})
	urls := map[string]bool{}
	now := time.Now()
	// Post n picks a corpus entry at random; 2,000 draws cover the corpus.
	for n := range uint64(2000) {
		p := src.Post(n, now)
		if p.Author.Avatar != "" {
			urls[p.Author.Avatar] = true
		}
		for _, m := range p.Media {
			urls[m.URL] = true
			urls[m.PreviewURL] = true
		}
	}
	if len(urls) < 16 {
		t.Fatalf("only %d distinct asset URLs from the corpus; want the 8 avatars and 8 pictures", len(urls))
	}
	for u := range urls {
		if !strings.HasPrefix(u, "/static/rehearsal/") {
			t.Errorf("%s: not under /static/rehearsal/", u)
			continue
		}
		res, body := getPage(t, f, u, nil)
		if res.StatusCode != http.StatusOK {
			t.Errorf("%s: %s, want 200", u, res.Status)
			continue
		}
		if ct := res.Header.Get("Content-Type"); ct != "image/svg+xml" {
			t.Errorf("%s: Content-Type %q, want image/svg+xml", u, ct)
		}
		// Served from the pages' own origin, so it must be inert: no script.
		if lower := strings.ToLower(body); strings.Contains(lower, "<script") || handler.MatchString(lower) {
			t.Errorf("%s: carries script", u)
		}
	}
}
