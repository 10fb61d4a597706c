package mastodon

import (
	"net/url"
	"strings"

	gomastodon "github.com/mattn/go-mastodon"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/ingest/sanitize"
	"github.com/backchannel/backchannel/internal/weburl"
)

// Kind is the kind of this source and the Source of its posts.
const Kind = "mastodon"

// original resolves a boost to the boosted status; other statuses are
// returned as they are.
func original(st *gomastodon.Status) *gomastodon.Status {
	for st != nil && st.Reblog != nil {
		st = st.Reblog
	}
	return st
}

// keep reports whether a status may be shown at an event: only public ones,
// with the global identity de-duplication needs.
func keep(st *gomastodon.Status) bool {
	return st != nil && st.Visibility == "public" && st.URI != ""
}

// Convert turns a status, as the server host serves it, into a post. The
// caller has resolved boosts (a boost's own URI is the boost activity, not
// the post). HTML is sanitised here; nothing the server sent is trusted.
//
// Decisions where a status offers a choice:
//   - Media URL: the serving server's url (its cached copy; the one its own
//     web UI shows, fetched fast and with no hotlink trouble), remote_url
//     only while url is still empty (processing).
//   - Avatar: avatar_static, so the projected wall does not animate.
//   - Emoji: static_url first, for the same reason.
//   - Author.ID: the account's ActivityPub uri when the server sends it
//     (the same on every server), else its url.
func Convert(st *gomastodon.Status, host string) event.Post {
	p := event.Post{
		ID:             event.PostID(st.URI),
		URI:            st.URI,
		Source:         Kind,
		SourceName:     host,
		Language:       st.Language,
		CreatedAt:      st.CreatedAt,
		EditedAt:       st.EditedAt,
		ContentWarning: sanitize.Line(st.SpoilerText),
		Sensitive:      st.Sensitive,
		Author:         author(&st.Account, host),
	}
	if weburl.Valid(st.URL) {
		p.URL = st.URL
	} else if weburl.Valid(st.URI) {
		p.URL = st.URI
	}
	p.HTML, p.Text = sanitize.HTML(st.Content, emojis(st.Emojis))
	for _, a := range st.MediaAttachments {
		if m, ok := media(a); ok {
			p.Media = append(p.Media, m)
		}
	}
	for _, t := range st.Tags {
		if n := strings.TrimPrefix(sanitize.Line(t.Name), "#"); n != "" {
			p.Tags = append(p.Tags, n)
		}
	}
	return p
}

func author(a *gomastodon.Account, host string) event.Author {
	au := event.Author{
		Name: sanitize.Line(a.DisplayName),
	}
	if au.Name == "" {
		au.Name = sanitize.Line(a.Username)
	}
	if acct := sanitize.Line(a.Acct); acct != "" {
		// acct has no domain for the server's own users.
		if !strings.Contains(acct, "@") {
			acct += "@" + hostname(host)
		}
		au.Handle = "@" + acct
	}
	switch {
	case a.URI != "":
		au.ID = a.URI
	case a.URL != "":
		au.ID = a.URL
	default:
		au.ID = au.Handle
	}
	if weburl.Valid(a.URL) {
		au.URL = a.URL
	}
	if weburl.Valid(a.AvatarStatic) {
		au.Avatar = a.AvatarStatic
	} else if weburl.Valid(a.Avatar) {
		au.Avatar = a.Avatar
	}
	// Every Mastodon account entity has both; one without created_at is
	// not a real one, and its zero followers would mean nothing. The spam
	// rules hold links from new accounts and accounts few follow.
	if !a.CreatedAt.IsZero() {
		au.CreatedAt = a.CreatedAt.UTC()
		au.Followers, au.FollowersKnown = int(max(a.FollowersCount, 0)), true
	}
	return au
}

// hostname drops a port: a handle's domain has none.
func hostname(host string) string {
	if u, err := url.Parse("//" + host); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	return host
}

func emojis(es []gomastodon.Emoji) []sanitize.Emoji {
	if len(es) == 0 {
		return nil
	}
	out := make([]sanitize.Emoji, 0, len(es))
	for _, e := range es {
		u := e.StaticURL
		if !weburl.Valid(u) {
			u = e.URL
		}
		out = append(out, sanitize.Emoji{Shortcode: e.ShortCode, URL: u})
	}
	return out
}

func media(a gomastodon.Attachment) (event.Media, bool) {
	u := a.URL
	if !weburl.Valid(u) {
		u = a.RemoteURL
	}
	if !weburl.Valid(u) {
		return event.Media{}, false
	}
	m := event.Media{
		Kind:     a.Type,
		URL:      u,
		Alt:      strings.TrimSpace(a.Description),
		Blurhash: a.BlurHash,
		Width:    int(a.Meta.Original.Width),
		Height:   int(a.Meta.Original.Height),
	}
	switch m.Kind {
	case "image", "gifv", "video", "audio":
	default:
		m.Kind = "unknown"
	}
	if weburl.Valid(a.PreviewURL) {
		m.PreviewURL = a.PreviewURL
	}
	if m.Width == 0 || m.Height == 0 {
		m.Width, m.Height = int(a.Meta.Small.Width), int(a.Meta.Small.Height)
	}
	return m, true
}
