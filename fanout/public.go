package fanout

// The public wire form of a post: what the wall, the overlay and the
// participant page show, each piece once. A wall socket's bytes are most of
// a node's work (one write per socket per frame), so nothing goes there
// that no screen reads: the body travels as its sanitised HTML only (the
// pages take plain text, for the ticker, from the HTML's textContent), and
// the post's URI, its source's configured name, its author's global id and
// profile URL and its tags stay off the wire. The REST wall
// (/api/events/{slug}/wall) keeps the whole fold.PublicPost, text included,
// for integrations that want it.

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/fold"
)

// publicPost is fold.PublicPost as a public socket carries it.
type publicPost struct {
	ID     string       `json:"id"`
	Source string       `json:"source"`
	URL    string       `json:"url,omitempty"`
	Author publicAuthor `json:"author"`
	// HTML was sanitised at ingest; the pages still insert it through their
	// own allowlist (post.js safeHTML).
	HTML           string        `json:"html"`
	Language       string        `json:"language,omitempty"`
	CreatedAt      time.Time     `json:"created_at"`
	EditedAt       time.Time     `json:"edited_at,omitzero"`
	ContentWarning string        `json:"content_warning,omitempty"`
	Sensitive      bool          `json:"sensitive,omitempty"`
	Media          []event.Media `json:"media,omitempty"`
	Pinned         bool          `json:"pinned,omitempty"`
	Question       bool          `json:"question,omitempty"`
	// Redacted and Revised say the moderators hid parts of the post or
	// rewrote it; the card says so.
	Redacted bool `json:"redacted,omitempty"`
	Revised  bool `json:"revised,omitempty"`
}

// publicAuthor is who wrote a post, as the cards show it.
type publicAuthor struct {
	Name   string `json:"name,omitempty"`
	Handle string `json:"handle,omitempty"`
	Avatar string `json:"avatar,omitempty"`
}

func toPublicPost(p *fold.PublicPost) publicPost {
	return publicPost{
		ID: p.ID, Source: p.Source, URL: p.URL,
		Author: publicAuthor{Name: p.Author.Name, Handle: p.Author.Handle, Avatar: p.Author.Avatar},
		HTML:   p.HTML, Language: p.Language,
		// A card shows minutes at most; the seconds' fraction is 10 bytes.
		CreatedAt: p.CreatedAt.Truncate(time.Second), EditedAt: p.EditedAt.Truncate(time.Second),
		ContentWarning: p.ContentWarning, Sensitive: p.Sensitive, Media: p.Media,
		Pinned: p.Pinned, Question: p.Question, Redacted: p.Redacted, Revised: p.Revised,
	}
}

func toPublicPosts(ps []fold.PublicPost) []publicPost {
	if ps == nil {
		return nil
	}
	out := make([]publicPost, len(ps))
	for i := range ps {
		out[i] = toPublicPost(&ps[i])
	}
	return out
}

// publicWall is fold.Wall on a public socket.
type publicWall struct {
	Posts      []publicPost         `json:"posts"`
	NowReading *fold.PublicQuestion `json:"now_reading,omitempty"`
	// Questions are the open questions with their votes (fold.Wall.Questions).
	Questions []fold.PublicQuestion `json:"questions"`
	Pos       uint64                `json:"pos"`
}

func toPublicWall(w *fold.Wall) *publicWall {
	posts := toPublicPosts(w.Posts)
	if posts == nil {
		posts = []publicPost{}
	}
	qs := w.Questions
	if qs == nil {
		qs = []fold.PublicQuestion{}
	}
	return &publicWall{Posts: posts, NowReading: w.NowReading, Questions: qs, Pos: w.Pos}
}

// publicDelta is fold.WallDelta on a public socket.
type publicDelta struct {
	Upsert            []publicPost         `json:"upsert,omitempty"`
	Remove            []string             `json:"remove,omitempty"`
	NowReadingChanged bool                 `json:"now_reading_changed,omitempty"`
	NowReading        *fold.PublicQuestion `json:"now_reading,omitempty"`
	Title             string               `json:"title,omitempty"`
	Display           map[string]string    `json:"display,omitempty"`
	// QuestionsChanged, Questions and Votes are fold.WallDelta's: the open
	// questions when they changed, or the new counts when only votes did.
	QuestionsChanged bool                  `json:"questions_changed,omitempty"`
	Questions        []fold.PublicQuestion `json:"questions,omitempty"`
	Votes            map[string]int        `json:"votes,omitempty"`
}

func toPublicDelta(d *fold.WallDelta) *publicDelta {
	return &publicDelta{Upsert: toPublicPosts(d.Upsert), Remove: d.Remove,
		NowReadingChanged: d.NowReadingChanged, NowReading: d.NowReading, Title: d.Title, Display: d.Display,
		QuestionsChanged: d.QuestionsChanged, Questions: d.Questions, Votes: d.Votes}
}

// marshalPublic encodes a public message without encoding/json's escaping
// of <, > and & (meant for JSON inside an HTML script element): the pages
// read it with JSON.parse, and the escapes would cost 5 bytes per character
// of a post's markup.
func marshalPublic(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
