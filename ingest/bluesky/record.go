package bluesky

import (
	"encoding/json"
	"net/url"
	"strings"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/ingest/sanitize"
	"github.com/backchannel/backchannel/internal/weburl"
)

// Collection is the record collection of Bluesky posts.
const Collection = "app.bsky.feed.post"

// frame is one Jetstream (v1 wire format) message.
type frame struct {
	Did    string `json:"did"`
	TimeUS int64  `json:"time_us"`
	Kind   string `json:"kind"` // commit, identity, account
	Commit *struct {
		Operation  string          `json:"operation"` // create, update, delete
		Collection string          `json:"collection"`
		Rkey       string          `json:"rkey"`
		Record     json.RawMessage `json:"record"`
		Cid        string          `json:"cid"`
	} `json:"commit"`
	Identity *struct {
		Did    string `json:"did"`
		Handle string `json:"handle"`
	} `json:"identity"`
	Account *struct {
		Active bool   `json:"active"`
		Did    string `json:"did"`
		Status string `json:"status"` // takendown, suspended, deleted, deactivated
	} `json:"account"`
}

// postRecord is an app.bsky.feed.post record, the fields a wall needs.
type postRecord struct {
	Text      string   `json:"text"`
	CreatedAt string   `json:"createdAt"`
	Langs     []string `json:"langs"`
	Tags      []string `json:"tags"`
	Facets    []facet  `json:"facets"`
	Embed     *embed   `json:"embed"`
	Labels    *struct {
		Values []struct {
			Val string `json:"val"`
		} `json:"values"`
	} `json:"labels"`
}

type facet struct {
	Index struct {
		ByteStart int `json:"byteStart"`
		ByteEnd   int `json:"byteEnd"`
	} `json:"index"`
	Features []struct {
		Type string `json:"$type"`
		Tag  string `json:"tag"`
		URI  string `json:"uri"`
		Did  string `json:"did"`
	} `json:"features"`
}

type blob struct {
	Ref struct {
		Link string `json:"$link"`
	} `json:"ref"`
	MimeType string `json:"mimeType"`
}

type image struct {
	Alt         string `json:"alt"`
	Image       blob   `json:"image"`
	AspectRatio *struct {
		Width  int `json:"width"`
		Height int `json:"height"`
	} `json:"aspectRatio"`
}

type embed struct {
	Type   string  `json:"$type"`
	Images []image `json:"images"`
	// app.bsky.embed.video
	Video       *blob  `json:"video"`
	Alt         string `json:"alt"`
	AspectRatio *struct {
		Width  int `json:"width"`
		Height int `json:"height"`
	} `json:"aspectRatio"`
	// app.bsky.embed.recordWithMedia
	Media *embed `json:"media"`
}

// facetTags returns the tags of the record's tag facets.
func (r *postRecord) facetTags() []string {
	var tags []string
	for _, f := range r.Facets {
		for _, ft := range f.Features {
			if ft.Type == "app.bsky.richtext.facet#tag" && ft.Tag != "" {
				tags = append(tags, ft.Tag)
			}
		}
	}
	return tags
}

// sensitiveLabels are the author's self-labels that mean "blur the media".
var sensitiveLabels = map[string]bool{"porn": true, "sexual": true, "nudity": true, "graphic-media": true, "gore": true}

// PostURI is the at:// URI of a post: its global identity and dedupe key.
func PostURI(did, rkey string) string { return "at://" + did + "/" + Collection + "/" + rkey }

// converter turns records into event.Posts.
type converter struct {
	source string // configured source name
	cdn    string // image CDN base, e.g. https://cdn.bsky.app
	web    string // web app base for links, e.g. https://bsky.app
}

// post converts a post record by did/rkey, with the author's profile.
func (c *converter) post(did, rkey string, rec *postRecord, prof Profile) event.Post {
	uri := PostURI(did, rkey)
	p := event.Post{
		ID:         event.PostID(uri),
		URI:        uri,
		Source:     "bluesky",
		SourceName: c.source,
		URL:        c.web + "/profile/" + did + "/post/" + url.PathEscape(rkey),
		Tags:       uniqueTags(append(rec.facetTags(), rec.Tags...)),
	}
	p.HTML, p.Text = c.richText(rec.Text, rec.Facets)
	if t, err := time.Parse(time.RFC3339Nano, rec.CreatedAt); err == nil {
		p.CreatedAt = t.UTC()
	}
	if len(rec.Langs) > 0 {
		p.Language = rec.Langs[0]
	}
	p.Author = c.author(did, prof)
	if rec.Labels != nil {
		for _, l := range rec.Labels.Values {
			if sensitiveLabels[l.Val] {
				p.Sensitive = true
			}
		}
	}
	p.Media = c.media(did, rec.Embed)
	return p
}

// author is the post's author as prof describes did. Without a handle
// (the profile not fetched yet, no identity frame seen) the handle shown
// is the DID's short form, so the wall has something better than
// "Someone" until the profile arrives.
func (c *converter) author(did string, prof Profile) event.Author {
	a := event.Author{ID: did, Name: prof.DisplayName, Avatar: prof.Avatar, URL: c.web + "/profile/" + did}
	if prof.Handle != "" && prof.Handle != "handle.invalid" {
		a.Handle = "@" + prof.Handle
		a.URL = c.web + "/profile/" + prof.Handle
	} else {
		a.Handle = shortDID(did)
	}
	return a
}

// shortDID is a DID as a person can read it on a wall: did:plc: and the
// first eight characters of its identifier, or did:web:'s host.
func shortDID(did string) string {
	if host, ok := strings.CutPrefix(did, "did:web:"); ok {
		return host
	}
	if id, ok := strings.CutPrefix(did, "did:plc:"); ok && len(id) > 8 {
		return "did:plc:" + id[:8] + "…"
	}
	return did
}

func (c *converter) media(did string, e *embed) []event.Media {
	if e == nil {
		return nil
	}
	switch e.Type {
	case "app.bsky.embed.images":
		var out []event.Media
		for _, im := range e.Images {
			cid := im.Image.Ref.Link
			if !safeID(cid) {
				continue
			}
			m := event.Media{
				Kind:       "image",
				URL:        c.cdn + "/img/feed_fullsize/plain/" + did + "/" + cid + "@jpeg",
				PreviewURL: c.cdn + "/img/feed_thumbnail/plain/" + did + "/" + cid + "@jpeg",
				Alt:        im.Alt,
			}
			if im.AspectRatio != nil {
				m.Width, m.Height = im.AspectRatio.Width, im.AspectRatio.Height
			}
			out = append(out, m)
		}
		return out
	case "app.bsky.embed.video":
		if e.Video == nil || !safeID(e.Video.Ref.Link) {
			return nil
		}
		cid := e.Video.Ref.Link
		m := event.Media{
			Kind:       "video",
			URL:        c.web + "/profile/" + did,
			PreviewURL: "https://video.bsky.app/watch/" + url.PathEscape(did) + "/" + cid + "/thumbnail.jpg",
			Alt:        e.Alt,
		}
		if e.AspectRatio != nil {
			m.Width, m.Height = e.AspectRatio.Width, e.AspectRatio.Height
		}
		return []event.Media{m}
	case "app.bsky.embed.recordWithMedia":
		return c.media(did, e.Media)
	}
	return nil
}

// safeID reports whether s is a plain identifier (a CID) that can go into a URL path as it is.
func safeID(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// richText renders text with its facets through the sanitiser: one
// paragraph, line breaks as <br>, link facets as links (http and https
// only), mentions and tags as links to the profile and the tag's page. It
// returns the HTML and the plain text as the sanitiser gives them. Facets
// out of range, overlapping or not on character boundaries are ignored, so
// a malformed record still shows its text.
func (c *converter) richText(text string, facets []facet) (safeHTML, plainText string) {
	var links []sanitize.Link
	for _, f := range facets {
		for _, ft := range f.Features {
			var href string
			switch ft.Type {
			case "app.bsky.richtext.facet#link":
				if u, ok := weburl.Parse(ft.URI); ok {
					href = u.String()
				}
			case "app.bsky.richtext.facet#mention":
				if strings.HasPrefix(ft.Did, "did:") {
					href = c.web + "/profile/" + url.PathEscape(ft.Did)
				}
			case "app.bsky.richtext.facet#tag":
				if ft.Tag != "" {
					href = c.web + "/hashtag/" + url.PathEscape(ft.Tag)
				}
			}
			if href != "" {
				links = append(links, sanitize.Link{Start: f.Index.ByteStart, End: f.Index.ByteEnd, Href: href})
				break
			}
		}
	}
	var b sanitize.Builder
	b.Paragraph()
	b.Linked(text, links)
	return b.Body()
}

func uniqueTags(tags []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, t := range tags {
		k := strings.ToLower(t)
		if t == "" || seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, t)
	}
	return out
}
