package fold

import (
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/backchannel/backchannel/event"
)

// checkRedacted fails when a public surface (the wall, its effect, the
// questions with their text, now-reading) carries a text a moderator
// redacted in that post, in its text, HTML (text and the addresses and
// descriptions it holds), content warning or media descriptions.
func checkRedacted(t *testing.T, e event.Entry, s *State, eff Effect) {
	t.Helper()
	w := s.Wall(0)
	posts := w.Posts
	if eff.Wall != nil {
		posts = append(slices.Clone(posts), eff.Wall.Upsert...)
	}
	for _, pp := range posts {
		p, ok := s.Post(pp.ID)
		if !ok || len(p.Redactions) == 0 {
			continue
		}
		if leak := redactedIn(p.Redactions, pp.Post); leak != "" {
			t.Fatalf("after %s: a public post carries %q, which a moderator redacted", e.String(), leak)
		}
		if !pp.Redacted && strings.Contains(pp.Text, event.RedactionMark) {
			t.Fatalf("after %s: a public post reads the mark but does not say it was redacted", e.String())
		}
	}
	var texts []struct{ id, text, html string }
	for _, q := range append(s.Questions(), s.Answered()...) {
		texts = append(texts, struct{ id, text, html string }{q.PostID, q.Text, q.HTML})
	}
	for _, q := range w.Questions {
		texts = append(texts, struct{ id, text, html string }{q.ID, q.Text, q.HTML})
	}
	if nr := w.NowReading; nr != nil {
		texts = append(texts, struct{ id, text, html string }{nr.ID, nr.Text, nr.HTML})
	}
	for _, q := range texts {
		p, ok := s.Post(q.id)
		if !ok || len(p.Redactions) == 0 {
			continue
		}
		if leak := redactedIn(p.Redactions, event.Post{Text: q.text, HTML: q.html}); leak != "" {
			t.Fatalf("after %s: question %s carries %q, which a moderator redacted", e.String(), q.id, leak)
		}
	}
}

// redactedIn returns the first of texts that p shows anywhere, "" for none.
func redactedIn(texts []string, p event.Post) string {
	shown := []string{p.Text, p.ContentWarning, htmlShown(p.HTML)}
	for _, m := range p.Media {
		shown = append(shown, m.Alt)
	}
	for _, t := range texts {
		re := redactionRE([]string{t})
		for _, v := range shown {
			if re.MatchString(v) {
				return t
			}
		}
	}
	return ""
}

// htmlShown is what HTML shows or links to: its text, and its addresses
// and descriptions, one after another.
func htmlShown(h string) string {
	var b strings.Builder
	z := html.NewTokenizer(strings.NewReader(h))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return b.String()
		case html.TextToken:
			b.Write(z.Text())
		case html.StartTagToken, html.SelfClosingTagToken:
			for _, a := range z.Token().Attr {
				switch a.Key {
				case "href", "src", "alt", "title":
					b.WriteString(" " + a.Val + " ")
				}
			}
		}
	}
}
