package x

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func readPage(t *testing.T, body string) (*page, []tweet, *index) {
	t.Helper()
	var pg page
	if err := json.Unmarshal([]byte(body), &pg); err != nil {
		t.Fatal(err)
	}
	ts, err := pg.posts()
	if err != nil {
		t.Fatal(err)
	}
	return &pg, ts, newIndex(&pg.Includes)
}

// The fixture page: a retweet resolves to its original (with its photo and
// alt text), the long edited post shows its full note text keyed on its
// first id, links show display_url.
func TestConvertSearchPage(t *testing.T) {
	_, ts, ix := readPage(t, fixture(t, "recent-search-page.json"))
	rt := ix.original(&ts[0])
	c, ok := convert(rt, ix)
	if !ok {
		t.Fatal("retweet's original not converted")
	}
	p := c.post
	if p.URI != PostURI("1991482730115928064") || p.Author.Handle != "@LeedsCityCouncilDemo" {
		t.Errorf("retweet not unwrapped: %s %s", p.URI, p.Author.Handle)
	}
	if len(p.Media) != 1 || p.Media[0].Kind != "image" || !strings.HasPrefix(p.Media[0].Alt, "A conference hall") {
		t.Errorf("media %+v", p.Media)
	}
	if !strings.Contains(p.HTML, `>pic.x.com/aB3dE5fG7h</a>`) || !strings.Contains(p.HTML, `href="https://x.com/hashtag/Leaders4Leeds"`) {
		t.Errorf("links: %s", p.HTML)
	}
	c, _ = convert(&ts[2], ix)
	if c.post.URI != PostURI("1991486001345069056") || !c.edited {
		t.Errorf("edited post keyed on %s (edited %v)", c.post.URI, c.edited)
	}
	if !strings.Contains(c.post.Text, "Staff wellbeing has to be measured") || !strings.Contains(c.post.HTML, `href="https://x.com/NHSWorkforceDemo"`) {
		t.Errorf("not the note's full text: %q", c.post.Text)
	}
	if want := time.Date(2026, 11, 19, 9, 58, 12, 0, time.UTC); !c.post.EditedAt.Equal(want) || !c.post.CreatedAt.Before(want) {
		t.Errorf("created %v edited %v", c.post.CreatedAt, c.post.EditedAt)
	}
	if err := c.post.Validate(); err != nil {
		t.Error(err)
	}
}

// The v2.167 spellings read as the old ones; possibly_sensitive marks the
// post sensitive (held by the rules, media blurred); X's escapes are
// undone once.
func TestConvertNewSpellingsAndSensitive(t *testing.T) {
	body := `{"data":[{"id":"1991500000000000002","text":"Q&amp;A at #OurDay","author_id":"1","created_at":"2026-11-19T11:00:00.000Z",
	"possibly_sensitive":true,"edit_history_post_ids":["1991500000000000001","1991500000000000002"],
	"note_post":{"text":"Q&amp;A at #OurDay, in full","entities":{"hashtags":[{"start":7,"end":14,"tag":"OurDay"}]}},
	"referenced_posts":[{"type":"quoted","id":"9"}]}],
	"includes":{"users":[{"id":"1","name":"Ada","username":"ada_demo"},{"id":"2","name":"Bo","username":"bo_demo"}],
	"posts":[{"id":"9","text":"quoted words","author_id":"2"}]}}`
	_, ts, ix := readPage(t, body)
	c, ok := convert(&ts[0], ix)
	if !ok {
		t.Fatal("not converted")
	}
	p := c.post
	if p.URI != PostURI("1991500000000000001") || !c.edited {
		t.Errorf("uri %s", p.URI)
	}
	if !p.Sensitive {
		t.Error("possibly_sensitive not kept")
	}
	if !strings.HasPrefix(p.Text, "Q&A at #OurDay, in full") || !strings.Contains(p.Text, "quoted words") {
		t.Errorf("text %q", p.Text)
	}
	if !strings.Contains(p.HTML, `href="https://x.com/hashtag/OurDay"`) || !strings.Contains(p.HTML, `>#OurDay</a>, in full`) {
		t.Errorf("html %s", p.HTML)
	}
}
