package feed

import (
	"html"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mmcdole/gofeed"
	ext "github.com/mmcdole/gofeed/extensions"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/ingest/sanitize"
	"github.com/backchannel/backchannel/internal/weburl"
)

// Bounds on what one item may bring, so one odd feed cannot flood a post.
const (
	maxMedia = 8
	maxTags  = 30
)

// mastodonStatusURL matches the web address Mastodon gives a status of its
// own: https://host/@user/ID. Remote-origin statuses link to their own
// server's page, which has this form only when that server is Mastodon too.
var mastodonStatusURL = regexp.MustCompile(`^https://([^/@]+)/@([A-Za-z0-9_]+)/([0-9]+)$`)

// PostURI returns the global identity of a feed item, the de-duplication key:
//
//   - In a Mastodon feed (a hashtag feed, or any feed whose generator is
//     Mastodon), an item whose link is a Mastodon status page
//     https://host/@user/ID gets https://host/users/user/statuses/ID: the
//     status's ActivityPub id, the URI the Mastodon REST source stores, so a
//     status seen through both is appended once.
//   - Otherwise a GUID that is an absolute http(s) URL is the URI as is.
//   - Any other GUID (a tag: URI, a uuid) is namespaced by the feed:
//     "urn:backchannel:feed:<first 12 bytes of SHA-256(feed URL), hex>:<GUID>",
//     since such a GUID is only unique within its feed.
//   - With no GUID, the item's absolute link.
//
// "" means the item has no identity and is skipped.
func (s *Source) PostURI(guid, link string, mastodon bool) string {
	guid, link = strings.TrimSpace(guid), strings.TrimSpace(link)
	if mastodon {
		for _, c := range []string{guid, link} {
			if m := mastodonStatusURL.FindStringSubmatch(c); m != nil {
				return "https://" + m[1] + "/users/" + m[2] + "/statuses/" + m[3]
			}
		}
	}
	switch {
	case weburl.Valid(guid):
		return guid
	case guid != "":
		return s.urnSpace + ":" + guid
	case weburl.Valid(link):
		return link
	}
	return ""
}

// convert turns one item into a post; false means it cannot be one (no
// identity, or nothing to show).
func (s *Source) convert(f *gofeed.Feed, it *gofeed.Item, mastodon bool, fetched time.Time) (event.Post, bool) {
	uri := s.PostURI(it.GUID, it.Link, mastodon)
	if uri == "" {
		return event.Post{}, false
	}
	p := event.Post{
		ID:         event.PostID(uri),
		URI:        uri,
		Source:     Kind,
		SourceName: s.name,
		Language:   sanitize.Line(f.Language),
	}
	switch {
	case weburl.Valid(it.Link):
		p.URL = strings.TrimSpace(it.Link)
	case weburl.Valid(uri):
		p.URL = uri
	}

	body := it.Description
	if strings.TrimSpace(body) == "" {
		body = it.Content
	}
	// A blog post's title says what it is about; a Mastodon item has none
	// (or, from old servers, a generated "New status by ...").
	if title := sanitize.Line(it.Title); title != "" && !mastodon {
		body = "<p><strong>" + html.EscapeString(title) + "</strong></p>" + body
	}
	p.HTML, p.Text = sanitize.HTML(body, nil)

	p.CreatedAt, p.EditedAt = dates(it, f.FeedType == "atom", fetched)

	p.Author = s.author(f, it, mastodon)
	p.Media, p.Sensitive = media(it)
	p.Tags = tags(it.Categories)
	if p.Text == "" && len(p.Media) == 0 {
		return event.Post{}, false
	}
	return p, true
}

// dates returns when the item was published and, in an Atom feed whose
// entry says it was updated later, when it was edited (zero otherwise).
// RSS has no update element: gofeed fills "updated" from dc:date, which
// many generators set to whatever time they like, and taking it as an edit
// time could append an edit on every poll.
func dates(it *gofeed.Item, atom bool, fetched time.Time) (created, edited time.Time) {
	switch {
	case it.PublishedParsed != nil:
		created = it.PublishedParsed.UTC()
		if atom && it.UpdatedParsed != nil && it.UpdatedParsed.After(*it.PublishedParsed) {
			edited = it.UpdatedParsed.UTC()
		}
	case it.UpdatedParsed != nil:
		created = it.UpdatedParsed.UTC()
	default:
		// No date at all: when we first saw it is the best we know.
		created = fetched
	}
	return created, edited
}

// author is who wrote the item: from a Mastodon status link, else the
// item's author, else the feed's, else the feed itself (a news site).
func (s *Source) author(f *gofeed.Feed, it *gofeed.Item, mastodon bool) event.Author {
	if mastodon {
		for _, c := range []string{it.Link, it.GUID} {
			m := mastodonStatusURL.FindStringSubmatch(strings.TrimSpace(c))
			if m == nil {
				continue
			}
			host, user := m[1], m[2]
			a := event.Author{
				// The actor URI the Mastodon REST source uses, so a block
				// made on either applies to both.
				ID:     "https://" + host + "/users/" + user,
				Handle: "@" + user + "@" + host,
				URL:    "https://" + host + "/@" + user,
			}
			// An account feed (/@user.rss) names its one author on the channel.
			if strings.TrimRight(f.Link, "/") == a.URL {
				a.Name = sanitize.Line(f.Title)
				if f.Image != nil && weburl.Valid(f.Image.URL) {
					a.Avatar = f.Image.URL
				}
			}
			return a
		}
	}
	var name string
	for _, ps := range [][]*gofeed.Person{it.Authors, f.Authors} {
		for _, p := range ps {
			if p != nil && name == "" {
				name = sanitize.Line(p.Name)
			}
		}
	}
	a := event.Author{Name: name}
	if name == "" {
		a.Name = sanitize.Line(f.Title)
	}
	if weburl.Valid(f.Link) {
		a.URL = strings.TrimSpace(f.Link)
	}
	if f.Image != nil && weburl.Valid(f.Image.URL) {
		a.Avatar = f.Image.URL
	}
	// Blocks key on the id: one per name within this feed, or the feed itself.
	a.ID = s.urnSpace + ":author"
	if name != "" {
		a.ID += ":" + url.PathEscape(strings.ToLower(name))
	}
	return a
}

// media collects images and other attachments from media:content (with
// media:description as alt text and media:rating "adult" as sensitive) and
// from enclosures, http(s) only, each URL once.
func media(it *gofeed.Item) ([]event.Media, bool) {
	var out []event.Media
	sensitive := false
	seen := map[string]bool{}
	add := func(m event.Media) {
		if len(out) >= maxMedia || !weburl.Valid(m.URL) || seen[m.URL] {
			return
		}
		seen[m.URL] = true
		out = append(out, m)
	}
	for _, c := range mediaContents(it.Extensions) {
		m := event.Media{URL: strings.TrimSpace(c.Attrs["url"]), Kind: mediaKind(c.Attrs["medium"], c.Attrs["type"])}
		for _, d := range c.Children["description"] {
			if m.Alt == "" {
				m.Alt = sanitize.Line(d.Value)
			}
		}
		for _, r := range c.Children["rating"] {
			if strings.EqualFold(strings.TrimSpace(r.Value), "adult") {
				sensitive = true
			}
		}
		for _, t := range c.Children["thumbnail"] {
			if weburl.Valid(t.Attrs["url"]) && m.PreviewURL == "" {
				m.PreviewURL = t.Attrs["url"]
			}
		}
		add(m)
	}
	for _, e := range it.Enclosures {
		if e != nil {
			add(event.Media{URL: strings.TrimSpace(e.URL), Kind: mediaKind("", e.Type)})
		}
	}
	return out, sensitive
}

// mediaContents returns the item's media:content elements, including those
// inside media:group. gofeed files extensions under the prefix the document
// used, so any prefix bound to Media RSS is looked at.
func mediaContents(exts ext.Extensions) []ext.Extension {
	var out []ext.Extension
	for _, byName := range exts {
		out = append(out, byName["content"]...)
		for _, g := range byName["group"] {
			out = append(out, g.Children["content"]...)
		}
	}
	return out
}

// mediaKind maps Media RSS's medium, or else a MIME type, to event.Media.Kind.
func mediaKind(medium, mime string) string {
	switch strings.ToLower(strings.TrimSpace(medium)) {
	case "image":
		return "image"
	case "video":
		return "video"
	case "audio":
		return "audio"
	}
	mime = strings.ToLower(strings.TrimSpace(mime))
	switch {
	case strings.HasPrefix(mime, "image/"):
		return "image"
	case strings.HasPrefix(mime, "video/"):
		return "video"
	case strings.HasPrefix(mime, "audio/"):
		return "audio"
	}
	return "unknown"
}

// tags turns categories into hashtags without '#', each once (case-insensitively).
func tags(cats []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, c := range cats {
		c = strings.TrimPrefix(sanitize.Line(c), "#")
		k := strings.ToLower(c)
		if c == "" || seen[k] || len(out) >= maxTags {
			continue
		}
		seen[k] = true
		out = append(out, c)
	}
	return out
}

// carriesTag reports whether the post has one of tags as a category, or as
// "#tag" in its title or text, case-insensitively and never as the start
// of a longer tag (#OurDay does not match #OurDayOut).
func carriesTag(p event.Post, title string, want []string) bool {
	for _, t := range p.Tags {
		for _, w := range want {
			if strings.EqualFold(t, w) {
				return true
			}
		}
	}
	text := strings.ToLower(title + "\n" + p.Text)
	for _, w := range want {
		needle := "#" + strings.ToLower(w)
		for i := 0; ; {
			j := strings.Index(text[i:], needle)
			if j < 0 {
				break
			}
			end := i + j + len(needle)
			if r, _ := utf8.DecodeRuneInString(text[end:]); end == len(text) || !tagRune(r) {
				return true
			}
			i = end
		}
	}
	return false
}

// tagRune reports whether r may continue a hashtag.
func tagRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}
