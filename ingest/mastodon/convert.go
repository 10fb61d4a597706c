package mastodon

import (
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
//   - Author.Handle: the account's acct, with the server's account domain
//     added for its own users (see ConvertFrom).
//   - Author.ID: "acct:user@domain", lower case (see AuthorID).
//
// Convert takes host as the account domain too; a source uses ConvertFrom
// with the domain the server itself names.
func Convert(st *gomastodon.Status, host string) event.Post {
	return ConvertFrom(st, host, host)
}

// ConvertFrom is Convert for a server at host whose own users' handles end
// in domain: the domain in its /api/v2/instance, which may differ from the
// host it is reached at (GoToSocial's account-domain, Mastodon's
// LOCAL_DOMAIN beside WEB_DOMAIN), and keeps a port when it has one
// ("localhost:18080"), as the acct of the same user seen through any other
// server does.
func ConvertFrom(st *gomastodon.Status, host, domain string) event.Post {
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
		Author:         author(&st.Account, domain),
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

func author(a *gomastodon.Account, domain string) event.Author {
	au := event.Author{
		Name: sanitize.Line(a.DisplayName),
	}
	if au.Name == "" {
		au.Name = sanitize.Line(a.Username)
	}
	if acct := sanitize.Line(a.Acct); acct != "" {
		// acct has no domain for the server's own users.
		if !strings.Contains(acct, "@") && domain != "" {
			acct += "@" + strings.ToLower(domain)
		}
		au.Handle = "@" + acct
	}
	au.ID = AuthorID(au.Handle)
	switch {
	case au.ID != "":
	case a.URI != "":
		au.ID = a.URI
	default:
		au.ID = a.URL
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

// AuthorID is the identity of the fediverse account with this handle
// ("@Ada@example.org" gives "acct:ada@example.org"), or "" for a handle
// without a domain.
//
// Why not the actor URI: GoToSocial sends no uri for accounts (Mastodon
// 4.2+ does), so a uri-or-url identity differs for one person seen through
// two kinds of server, and a moderator's block, which the fold matches on
// the id exactly, would miss her posts that came through the other. The
// handle is what both give and what both key an account on (Mastodon's
// unique (username, domain), checked by WebFinger when an account is
// first seen), once its domain is the server's account domain and not the
// host it was reached at. Lower case: usernames and domains are unique
// without regard to case. Blocks by actor URI or profile URL still match:
// moderation compares them in the user@host form.
func AuthorID(handle string) string {
	h := strings.TrimPrefix(strings.TrimSpace(handle), "@")
	user, dom, ok := strings.Cut(h, "@")
	if !ok || user == "" || dom == "" {
		return ""
	}
	return "acct:" + strings.ToLower(h)
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
