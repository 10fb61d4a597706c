// Package rehearsal is a source that makes up posts, so a host can try the
// wall, the moderation queue and the question list before the event, with
// no network and no accounts: `backchannel serve --rehearse`.
//
// The posts come from a corpus embedded in the binary (several languages,
// short and long posts, content warnings, sensitive media with alt text,
// questions, and a few the moderation rules should catch). The media and
// avatars are data-free URLs under /static/rehearsal/ that the pages serve.
package rehearsal

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/ingest"
	"github.com/backchannel/backchannel/ingest/sanitize"
	"github.com/backchannel/backchannel/internal/backoff"
)

// Kind is the source kind of rehearsal posts (event.Post.Source).
const Kind = "rehearsal"

// DefaultTag is the hashtag used when the event has none.
const DefaultTag = "Rehearsal"

// cursorKey is where the source keeps the number of the last post it made,
// so a restarted or taken-over source continues the sequence.
const cursorKey = "seq"

// Config configures a rehearsal source.
type Config struct {
	// Name is the source's name within its event; default "rehearsal".
	Name string
	// Rate is how many new posts a minute it makes, on average. Edits and
	// deletes of earlier posts come on top, now and then.
	Rate float64
	// Tags are the event's hashtags, without '#'; each post carries one.
	Tags []string
	// Seed picks which corpus post each sequence number gets: with the
	// same seed, post n is always the same post.
	Seed int64
	// Clock defaults to time.Now.
	Clock func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Source makes up posts at the configured rate. It implements ingest.Source.
type Source struct {
	cfg Config
	// wait returns a channel that fires after d; tests replace it to check
	// the pacing without waiting.
	wait func(d time.Duration) <-chan time.Time
}

// New returns a rehearsal source. A Rate that is not positive is reported
// by Run, as a configuration error.
func New(cfg Config) *Source {
	if cfg.Name == "" {
		cfg.Name = Kind
	}
	if len(cfg.Tags) == 0 {
		cfg.Tags = []string{DefaultTag}
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Source{cfg: cfg, wait: time.After}
}

var _ ingest.Source = (*Source)(nil)

// Name implements ingest.Source.
func (s *Source) Name() string { return s.cfg.Name }

// Kind implements ingest.Source.
func (s *Source) Kind() string { return Kind }

// Interval is the mean time between two new posts.
func (s *Source) Interval() time.Duration {
	if s.cfg.Rate <= 0 {
		return 0
	}
	return time.Duration(float64(time.Minute) / s.cfg.Rate)
}

// Run implements ingest.Source: it makes a post every Interval (jittered,
// so the wall does not tick like a clock), continuing the sequence stored
// in the cursor, until ctx is done.
func (s *Source) Run(ctx context.Context, sink ingest.Sink) error {
	if s.cfg.Rate <= 0 || s.cfg.Rate > 60000 {
		return event.Errorf(event.EINVALID, "rehearsal: rate %v posts a minute is not between 0 and 60000", s.cfg.Rate)
	}
	h := sink.Health()
	var n uint64
	bo := backoff.Backoff{Min: time.Second, Max: time.Minute}
	for {
		cur, err := sink.Cursor(ctx, cursorKey)
		if err == nil {
			if cur != "" {
				if n, err = strconv.ParseUint(cur, 10, 64); err != nil {
					s.cfg.Logger.Warn("rehearsal: cursor is not a number; starting again at 1", slog.String("cursor", cur))
					n = 0
				}
			}
			break
		}
		if !s.backOff(ctx, h, &bo, err) {
			return nil
		}
	}
	bo.Reset()
	// The pacing jitter comes from its own generator: which post comes
	// next depends on the seed and the sequence number only.
	pace := rand.New(rand.NewPCG(uint64(s.cfg.Seed), n))
	mean := s.Interval()
	for {
		// Uniform in [mean/2, 3*mean/2): the mean is the configured rate.
		d := mean/2 + time.Duration(pace.Int64N(int64(mean)+1))
		select {
		case <-ctx.Done():
			return nil
		case <-s.wait(d):
		}
		if err := s.emit(ctx, sink, n+1); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if !s.backOff(ctx, h, &bo, err) {
				return nil
			}
			continue
		}
		bo.Reset()
		n++
		h.Succeeded(s.cfg.Clock())
	}
}

// emit appends post n, and now and then an edit or a delete of an earlier
// post, then stores n as the cursor. A crash before the cursor is stored
// makes the next run emit n again: the log finds it a duplicate.
func (s *Source) emit(ctx context.Context, sink ingest.Sink, n uint64) error {
	now := s.cfg.Clock()
	if _, err := sink.Post(ctx, s.Post(n, now)); err != nil {
		return err
	}
	if n%17 == 0 && n > 3 {
		p := s.Post(n-3, now)
		p.EditedAt = now
		p.Text += " (edited)"
		p.HTML = strings.TrimSuffix(p.HTML, "</p>") + " (edited)</p>"
		if _, err := sink.Edit(ctx, p); err != nil {
			return err
		}
	}
	if n%29 == 0 && n > 5 {
		if _, err := sink.Delete(ctx, URI(n-5)); err != nil {
			return err
		}
	}
	return sink.SetCursor(ctx, cursorKey, strconv.FormatUint(n, 10))
}

// backOff reports err on health and waits the next of bo's waits; it
// reports whether the whole wait passed.
func (s *Source) backOff(ctx context.Context, h *ingest.Health, bo *backoff.Backoff, err error) bool {
	d := bo.Next()
	now := s.cfg.Clock()
	h.Failed(now, err, now.Add(d))
	return backoff.Sleep(ctx, d)
}

// URI is the global identity of rehearsal post n.
func URI(n uint64) string {
	return "urn:backchannel:rehearsal:" + strconv.FormatUint(n, 10)
}

// Post returns rehearsal post n as it is appended at now: the same corpus
// post for the same seed and n, published a few seconds before now.
func (s *Source) Post(n uint64, now time.Time) event.Post {
	r := rand.New(rand.NewPCG(uint64(s.cfg.Seed), n^0x9e3779b97f4a7c15))
	i := r.IntN(len(corpus))
	tag := s.cfg.Tags[r.IntN(len(s.cfg.Tags))]
	lag := time.Duration(r.IntN(20000)) * time.Millisecond
	return s.build(i, n, tag, now.Add(-lag))
}

// build makes post n from corpus entry i.
func (s *Source) build(i int, n uint64, tag string, created time.Time) event.Post {
	e := corpus[i]
	a := personas[e.author]
	uri := URI(n)
	p := event.Post{
		ID:         event.PostID(uri),
		URI:        uri,
		Source:     Kind,
		SourceName: s.cfg.Name,
		Author: event.Author{
			ID:     "https://" + a.server + "/users/" + a.user,
			Name:   a.name,
			Handle: "@" + a.user + "@" + a.server,
			Avatar: fmt.Sprintf("/static/rehearsal/avatar-%d.svg", e.author%8),
			URL:    "https://" + a.server + "/@" + a.user,
		},
		Language:       e.lang,
		CreatedAt:      created,
		ContentWarning: e.cw,
		Sensitive:      e.sensitive,
		Tags:           []string{tag},
		Question:       e.question,
	}
	if e.question {
		// A web-form question: no account behind it.
		p.Author = event.Author{ID: "urn:backchannel:rehearsal:form:" + a.user, Name: a.name}
	}
	text := strings.ReplaceAll(e.text, "{tag}", "#"+tag)
	p.HTML, p.Text = render(text, e.link)
	for _, m := range e.media {
		p.Media = append(p.Media, event.Media{
			Kind:       "image",
			URL:        "/static/rehearsal/media/" + m.file,
			PreviewURL: "/static/rehearsal/media/" + m.file,
			Alt:        m.alt,
			Width:      m.w,
			Height:     m.h,
		})
	}
	return p
}

// render passes text through the sanitiser, a paragraph per blank line and
// the link, if any, in a last paragraph of its own, so the rehearsal's HTML
// and plain text are what a real source would store.
func render(text, link string) (safeHTML, plainText string) {
	var b sanitize.Builder
	b.Paragraphs(text)
	if link != "" {
		b.Paragraph()
		b.Link(link, link)
	}
	return b.Body()
}
