package x

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/ingest/sanitize"
	"github.com/backchannel/backchannel/internal/weburl"
)

// Kind is the kind of this source and the Source of its posts.
const Kind = "x"

// PostURI is the URI a post is keyed on: its first version's id, so every
// edit, and every retweet of it, lands on the same post.
func PostURI(firstID string) string { return "https://x.com/i/web/status/" + firstID }

// snowflakeTime is when X made the id (its upper bits are milliseconds
// since X's epoch), zero for an id that is not a number.
func snowflakeTime(id string) time.Time {
	n, err := strconv.ParseUint(id, 10, 64)
	if err != nil || n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(int64(n>>22) + 1288834974657).UTC()
}

// index is what a page's includes hold, by id.
type index struct {
	users  map[string]*user
	media  map[string]*media
	tweets map[string]*tweet
}

func newIndex(in *includes) *index {
	ix := &index{users: map[string]*user{}, media: map[string]*media{}, tweets: map[string]*tweet{}}
	for i := range in.Users {
		ix.users[in.Users[i].ID] = &in.Users[i]
	}
	for i := range in.Media {
		ix.media[in.Media[i].MediaKey] = &in.Media[i]
	}
	for _, ts := range [][]tweet{in.Tweets, in.Posts} {
		for i := range ts {
			ix.tweets[ts[i].ID] = &ts[i]
		}
	}
	return ix
}

// original resolves a retweet to the post retweeted, which is what the
// wall shows (once, however many retweets of it arrive). It returns nil
// when the original is not in the includes (deleted, or its author
// protected: a partial error says so).
func (ix *index) original(t *tweet) *tweet {
	if id := t.ref("retweeted"); id != "" {
		return ix.tweets[id]
	}
	return t
}

// converted is a post ready for the sink, with what the source needs to
// keep track of it.
type converted struct {
	post    event.Post
	firstID string
	// edited: the version converted is not the first.
	edited bool
}

// convert turns a post (not a retweet: resolve it with original first)
// into an event.Post, or reports false when it cannot be shown: its author
// is missing from the includes (a protected or suspended account), and X's
// display rules need the author.
func convert(t *tweet, ix *index) (converted, bool) {
	u := ix.users[t.AuthorID]
	if u == nil || u.Protected || u.Username == "" {
		return converted{}, false
	}
	hist := t.history()
	first := hist[0]
	p := event.Post{
		URI:       PostURI(first),
		Source:    Kind,
		URL:       "https://x.com/" + userPath(u.Username) + "/status/" + t.ID,
		Author:    author(u),
		Language:  t.Lang,
		Sensitive: t.PossiblySensitive,
	}
	p.ID = event.PostID(p.URI)
	p.CreatedAt = t.CreatedAt
	if len(hist) > 1 {
		// The version in hand is an edit: its created_at is the edit's
		// time; the post was first made when its first id was.
		p.EditedAt = t.CreatedAt
		if c := snowflakeTime(first); !c.IsZero() {
			p.CreatedAt = c
		}
	}
	text, ents := t.Text, t.Entities
	if n := t.note(); n != nil {
		text, ents = n.Text, n.Entities
	}
	var b sanitize.Builder
	b.Paragraph()
	linked(&b, text, &ents)
	for _, h := range ents.Hashtags {
		if tag := sanitize.Line(h.Tag); tag != "" {
			p.Tags = append(p.Tags, tag)
		}
	}
	if q := t.ref("quoted"); q != "" {
		if qt := ix.tweets[q]; qt != nil {
			if qu := ix.users[qt.AuthorID]; qu != nil && !qu.Protected && qu.Username != "" {
				quote(&b, qt, qu)
			}
		}
	}
	p.HTML, p.Text = b.Body()
	for _, k := range t.Attachments.MediaKeys {
		if m, ok := mediaOf(ix.media[k]); ok {
			p.Media = append(p.Media, m)
		}
	}
	return converted{post: p, firstID: first, edited: len(hist) > 1}, true
}

// quote writes the quoted post below the post, with its author as X's
// display rules want it (name, @username) and a link to it.
func quote(b *sanitize.Builder, qt *tweet, qu *user) {
	b.Paragraph()
	b.Text(sanitize.Line(qu.Name) + " ")
	b.Link("@"+qu.Username, "https://x.com/"+userPath(qu.Username))
	b.Text(": ")
	text, ents := qt.Text, qt.Entities
	if n := qt.note(); n != nil {
		text, ents = n.Text, n.Entities
	}
	linked(b, text, &ents)
	b.Text(" ")
	b.Link("(view quoted post)", "https://x.com/"+userPath(qu.Username)+"/status/"+qt.ID)
}

func userPath(username string) string { return strings.TrimPrefix(username, "@") }

// linked writes X's text with its entities as links: hashtags and mentions
// to their pages on X, URLs shown as their display_url and linking to the
// expanded URL (X's display rules). The text is X's, unaltered but for the
// three HTML escapes X applies to it, which are undone first: the entity
// indices count the code points of the unescaped text.
func linked(b *sanitize.Builder, text string, ents *entities) {
	text = unescape(text)
	type span struct {
		start, end int // code points
		show, href string
	}
	var spans []span
	for _, h := range ents.Hashtags {
		spans = append(spans, span{h.Start, h.End, "", "https://x.com/hashtag/" + h.Tag})
	}
	for _, m := range ents.Mentions {
		spans = append(spans, span{m.Start, m.End, "", "https://x.com/" + m.Username})
	}
	for _, u := range ents.URLs {
		href := u.ExpandedURL
		if !weburl.Valid(href) {
			href = u.URL
		}
		spans = append(spans, span{u.Start, u.End, u.DisplayURL, href})
	}
	sort.SliceStable(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
	// Byte offset of every code point, and one past the end.
	offs := make([]int, 0, len(text)+1)
	for i := range text {
		offs = append(offs, i)
	}
	n := len(offs)
	offs = append(offs, len(text))
	at := 0 // code points written
	for _, s := range spans {
		if s.start < at || s.end > n || s.start >= s.end || !weburl.Valid(s.href) {
			continue // overlapping or out of range: leave the text as it is
		}
		b.Text(text[offs[at]:offs[s.start]])
		show := text[offs[s.start]:offs[s.end]]
		if s.show != "" {
			show = s.show
		}
		b.Link(show, s.href)
		at = s.end
	}
	b.Text(text[offs[at]:])
}

// unescape undoes the HTML escaping X applies to post text (&amp; &lt;
// &gt;), so the Builder escapes it once.
func unescape(s string) string {
	if !strings.Contains(s, "&") {
		return s
	}
	return strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">").Replace(s)
}

func author(u *user) event.Author {
	a := event.Author{
		ID:     "https://x.com/i/user/" + u.ID,
		Name:   sanitize.Line(u.Name),
		Handle: "@" + sanitize.Line(u.Username),
		URL:    "https://x.com/" + userPath(u.Username),
	}
	if a.Name == "" {
		a.Name = sanitize.Line(u.Username)
	}
	if weburl.Valid(u.ProfileImageURL) {
		// _normal is 48 px: too small for a projected wall.
		a.Avatar = strings.Replace(u.ProfileImageURL, "_normal.", "_400x400.", 1)
	}
	return a
}

func mediaOf(m *media) (event.Media, bool) {
	if m == nil {
		return event.Media{}, false
	}
	out := event.Media{Alt: strings.TrimSpace(m.AltText), Width: m.Width, Height: m.Height}
	switch m.Type {
	case "photo":
		out.Kind, out.URL = "image", m.URL
	case "video", "animated_gif":
		out.Kind = "video"
		if m.Type == "animated_gif" {
			out.Kind = "gifv"
		}
		best := -1
		for _, v := range m.Variants {
			if v.ContentType == "video/mp4" && v.BitRate >= best && weburl.Valid(v.URL) {
				best, out.URL = v.BitRate, v.URL
			}
		}
		out.PreviewURL = m.PreviewImageURL
		if out.URL == "" {
			out.URL = m.PreviewImageURL
		}
	default:
		return event.Media{}, false
	}
	if !weburl.Valid(out.URL) {
		return event.Media{}, false
	}
	if !weburl.Valid(out.PreviewURL) {
		out.PreviewURL = ""
	}
	if !utf8.ValidString(out.Alt) {
		out.Alt = ""
	}
	return out, true
}

// Posts converts a response of X's API (a search or lookup page, or one
// stream line) into the posts the source hands its sink, retweets resolved
// to their originals and posts without a visible author left out. Tools
// and tests use it to see what the wall will get.
func Posts(body []byte) ([]event.Post, error) {
	var pg page
	if err := json.Unmarshal(body, &pg); err != nil {
		return nil, err
	}
	ts, err := pg.posts()
	if err != nil {
		return nil, err
	}
	ix := newIndex(&pg.Includes)
	var out []event.Post
	for i := range ts {
		if o := ix.original(&ts[i]); o != nil {
			if c, ok := convert(o, ix); ok {
				out = append(out, c.post)
			}
		}
	}
	return out, nil
}
