// Package feed follows one RSS or Atom feed and hands its items to an
// ingest.Sink as posts: a Mastodon server's hashtag feed (/tags/<tag>.rss)
// for servers reached no other way, or an organiser's blog.
//
// Each poll is one conditional GET (If-None-Match and If-Modified-Since from
// the validators the last successful poll stored through Sink.SetCursor, so
// they survive restarts and move with the source to another process). A 304
// appends nothing. A 200 is parsed with gofeed; every item becomes a post
// once, keyed by its GUID or link (see Source.PostURI), and items already seen
// with the same update time are skipped without a round trip to the log.
// Failures (network, 5xx, garbage) are backed off with jitter; 429 and 503
// wait for Retry-After. Everything is reported on the sink's Health.
package feed

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mmcdole/gofeed"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
	"github.com/backchannel/backchannel/ingest"
	"github.com/backchannel/backchannel/internal/backoff"
	"github.com/backchannel/backchannel/internal/weburl"
)

// Kind is the source kind of every feed source, and the Source of its posts.
const Kind = "rss"

// DefaultPollInterval is the pause between polls when Config.PollInterval
// is zero. Blogs change a few times a day and Mastodon caches its public
// feeds for about a minute, so polling faster mostly fetches 304s.
const DefaultPollInterval = 60 * time.Second

// MinPollInterval is the shortest pause between polls: a feed is someone
// else's server, and Mastodon's anonymous responses are cached for 15 s
// anyway.
const MinPollInterval = 15 * time.Second

// MaxBody bounds a feed document. Real feeds are tens to hundreds of KB; a
// larger answer is garbage (or hostile) and is not parsed.
const MaxBody = 8 << 20

// cursorKey is the one cursor this source keeps: its state as JSON.
const cursorKey = "state"

// Config configures one feed.
type Config struct {
	// URL is the feed's address, e.g. "https://mastodon.example/tags/OurDay.rss"
	// or "https://blog.example.org/feed/". Required, http or https.
	URL string
	// Name is the source's name within the event. Empty means
	// "rss:" + host + path.
	Name string
	// Tags are the event's hashtags (with or without '#'). When set, only
	// items that carry one of them are kept: as a category, or as "#tag" in
	// the title or text. A Mastodon hashtag feed (path /tags/<tag>.rss) is
	// already the tag's timeline, so every item of it is kept regardless.
	Tags []string
	// PollInterval is the pause between polls. Zero means
	// DefaultPollInterval; less than MinPollInterval is raised to it.
	PollInterval time.Duration
	// HTTPClient makes the requests; its Timeout bounds each one. Nil means
	// a client with a 30 second timeout.
	HTTPClient *http.Client
	// MinBackoff and MaxBackoff bound the jittered exponential backoff
	// after a failure. Zeros mean 15 seconds and 5 minutes.
	MinBackoff, MaxBackoff time.Duration
	// MaxRetryAfter caps how long a Retry-After is honoured, so a mistaken
	// "come back tomorrow" does not silence the feed for the whole event.
	// Zero means 1 hour.
	MaxRetryAfter time.Duration
	// UserAgent is sent with every request. Empty means "backchannel".
	UserAgent string
	// Logger receives the source's logs. Nil means slog.Default().
	Logger *slog.Logger
}

// Source follows one feed. Create it with New; Run it under an
// ingest runner.
type Source struct {
	cfg      Config
	feedURL  *url.URL
	name     string
	tags     []string
	tagFeed  bool
	urnSpace string
	client   *http.Client
	log      *slog.Logger

	// now and floor are fields so tests can drive time and poll faster
	// than MinPollInterval.
	now   func() time.Time
	floor time.Duration
}

var _ ingest.Source = (*Source)(nil)

// tagFeedPath matches Mastodon's hashtag feed, /tags/<tag>.rss.
var tagFeedPath = regexp.MustCompile(`^/tags/[^/]+\.rss$`)

// New checks cfg and returns the source. An error is a configuration fault.
func New(cfg Config) (*Source, error) {
	u, ok := weburl.Parse(cfg.URL)
	if !ok {
		return nil, event.Errorf(event.EINVALID, "feed: url %q is not an absolute http(s) URL", cfg.URL)
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 15 * time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Minute
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = cfg.MinBackoff
	}
	if cfg.MaxRetryAfter <= 0 {
		cfg.MaxRetryAfter = time.Hour
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "backchannel"
	}
	s := &Source{
		cfg:     cfg,
		feedURL: u,
		name:    cfg.Name,
		tagFeed: tagFeedPath.MatchString(u.EscapedPath()),
		client:  cfg.HTTPClient,
		log:     cfg.Logger,
		now:     time.Now,
		floor:   MinPollInterval,
	}
	if s.name == "" {
		s.name = "rss:" + u.Host + u.Path
	}
	if s.client == nil {
		s.client = &http.Client{Timeout: 30 * time.Second}
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.log = s.log.With(slog.String("source", s.name))
	for _, t := range cfg.Tags {
		if t = strings.TrimPrefix(strings.TrimSpace(t), "#"); t != "" {
			s.tags = append(s.tags, t)
		}
	}
	sum := sha256.Sum256([]byte(u.String()))
	s.urnSpace = "urn:backchannel:feed:" + hex.EncodeToString(sum[:12])
	return s, nil
}

// Name implements ingest.Source.
func (s *Source) Name() string { return s.name }

// Kind implements ingest.Source.
func (s *Source) Kind() string { return Kind }

// pollInterval is the configured interval within its bounds, jittered by up
// to a tenth either way so many feeds on one server do not poll in step.
func (s *Source) pollInterval() time.Duration {
	d := s.cfg.PollInterval
	if d == 0 {
		d = DefaultPollInterval
	}
	d = max(d, s.floor)
	return backoff.Spread(d, d/10)
}

// ThrottledError is a 429 or 503 answer: the server asked us to wait.
type ThrottledError struct {
	StatusCode int
	// RetryAt is when Retry-After said to come back; zero when it did not say.
	RetryAt time.Time
}

// Error says what the server answered and when it said to come back.
func (e *ThrottledError) Error() string {
	s := fmt.Sprintf("feed: %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if !e.RetryAt.IsZero() {
		s += ", retry after " + e.RetryAt.UTC().Format(time.RFC3339)
	}
	return s
}

// ErrStatus is wrapped by the error for any other non-2xx, non-304 answer.
var ErrStatus = errors.New("feed: unexpected HTTP status")

// ErrBodyTooLarge is returned for a document larger than MaxBody.
var ErrBodyTooLarge = errors.New("feed: document too large")

// ErrParse is wrapped by the error for a document gofeed cannot read.
var ErrParse = errors.New("feed: not a feed")

// Run implements ingest.Source: it polls until ctx is done. Failures are
// reported on the sink's health and backed off, never returned.
func (s *Source) Run(ctx context.Context, sink ingest.Sink) error {
	h := sink.Health()
	bo := backoff.Backoff{Min: s.cfg.MinBackoff, Max: s.cfg.MaxBackoff}
	for {
		err := s.poll(ctx, sink)
		if ctx.Err() != nil {
			return nil
		}
		now := s.now()
		var wait time.Duration
		var te *ThrottledError
		switch {
		case err == nil:
			bo.Reset()
			wait = s.pollInterval()
		case errors.As(err, &te):
			wait = bo.Next()
			if !te.RetryAt.IsZero() {
				wait = max(min(te.RetryAt.Sub(now), s.cfg.MaxRetryAfter), s.cfg.MinBackoff)
			}
			h.RateLimited(now, err.Error(), now.Add(wait))
			s.log.WarnContext(ctx, "feed: server asked us to wait",
				slog.Int("status", te.StatusCode), slog.Duration("wait", wait))
		default:
			wait = bo.Next()
			h.Failed(now, err, now.Add(wait))
			s.log.WarnContext(ctx, "feed: poll failed",
				slog.Any("err", err), slog.Int("attempt", bo.Attempt()), slog.Duration("retry_in", wait))
		}
		if !backoff.Sleep(ctx, wait) {
			return nil
		}
	}
}

// state is what the source keeps between polls, as its one cursor.
type state struct {
	// ETag and LastModified are the validators of the last document whose
	// items were all handed to the sink.
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
	// Seen maps the post id of every item of that document to its edit
	// time in Unix seconds (0 when never edited): an item seen with the same
	// time is skipped, a later time is an edit. Only the current document's
	// items are kept, so it stays the size of the feed.
	Seen map[string]int64 `json:"seen,omitempty"`
	// Dropped is the same for items not kept (no tag of the event, nothing
	// to show) at that edit time, so they are not converted again.
	Dropped map[string]int64 `json:"dropped,omitempty"`
}

func (s *Source) loadState(ctx context.Context, sink ingest.Sink) (state, error) {
	var st state
	raw, err := sink.Cursor(ctx, cursorKey)
	if err != nil {
		return st, fmt.Errorf("feed: read cursor: %w", err)
	}
	if raw != "" {
		if err := json.Unmarshal([]byte(raw), &st); err != nil {
			// A cursor we cannot read costs one full fetch whose items the
			// log's idempotent append de-duplicates; better than stopping.
			s.log.WarnContext(ctx, "feed: ignoring unreadable cursor", slog.Any("err", err))
			st = state{}
		}
	}
	return st, nil
}

// poll fetches the feed once and hands what is new to sink. The cursor is
// read fresh each time, so a process that takes the source over continues
// from what the last holder stored.
func (s *Source) poll(ctx context.Context, sink ingest.Sink) error {
	st, err := s.loadState(ctx, sink)
	if err != nil {
		return err
	}
	body, etag, lastMod, notModified, err := s.fetch(ctx, st)
	if err != nil {
		return err
	}
	h := sink.Health()
	if notModified {
		h.Succeeded(s.now())
		return nil
	}
	f, err := gofeed.NewParser().Parse(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrParse, err)
	}
	next := state{ETag: etag, LastModified: lastMod, Seen: map[string]int64{}, Dropped: map[string]int64{}}
	mastodon := s.tagFeed || strings.HasPrefix(f.Generator, "Mastodon")
	filter := len(s.tags) > 0 && !s.tagFeed
	fetched := s.now().UTC()
	appended := 0
	for _, c := range s.candidates(f, mastodon, fetched) {
		prev, seen := st.Seen[c.id]
		if seen && c.ver <= prev {
			// Unchanged: no sanitising, no round trip to the log.
			next.Seen[c.id] = prev
			continue
		}
		if d, dropped := st.Dropped[c.id]; dropped && c.ver <= d {
			next.Dropped[c.id] = d
			continue
		}
		p, ok := s.convert(f, c.item, mastodon, fetched)
		if !ok || (filter && !carriesTag(p, c.item.Title, s.tags)) {
			next.Dropped[c.id] = c.ver
			continue
		}
		var res eventlog.Appended
		if seen {
			res, err = sink.Edit(ctx, p)
		} else {
			res, err = sink.Post(ctx, p)
		}
		if err != nil {
			return fmt.Errorf("feed: %s: %w", p.URI, err)
		}
		if !res.Duplicate {
			appended++
		}
		next.Seen[c.id] = c.ver
	}
	// Stored only now: validators saved before every item was appended
	// would turn the next poll into a 304 and lose the rest.
	raw, err := json.Marshal(next)
	if err != nil {
		return fmt.Errorf("feed: encode cursor: %w", err)
	}
	if err := sink.SetCursor(ctx, cursorKey, string(raw)); err != nil {
		return fmt.Errorf("feed: store cursor: %w", err)
	}
	h.Succeeded(s.now())
	if appended > 0 {
		s.log.InfoContext(ctx, "feed: appended", slog.Int("count", appended), slog.Int("items", len(f.Items)))
	}
	return nil
}

// fetch makes the conditional GET. It returns the body and validators of a
// 200, notModified for a 304, and an error for anything else.
func (s *Source) fetch(ctx context.Context, st state) (body []byte, etag, lastMod string, notModified bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.feedURL.String(), nil)
	if err != nil {
		return nil, "", "", false, fmt.Errorf("feed: request: %w", err)
	}
	req.Header.Set("User-Agent", s.cfg.UserAgent)
	req.Header.Set("Accept", "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.1")
	if st.ETag != "" {
		req.Header.Set("If-None-Match", st.ETag)
	}
	if st.LastModified != "" {
		req.Header.Set("If-Modified-Since", st.LastModified)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, "", "", false, fmt.Errorf("feed: get: %w", err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified:
		return nil, "", "", true, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, "", "", false, &ThrottledError{StatusCode: resp.StatusCode, RetryAt: retryAfter(resp.Header.Get("Retry-After"), s.now())}
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, "", "", false, fmt.Errorf("%w: %s", ErrStatus, resp.Status)
	}
	body, err = io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		return nil, "", "", false, fmt.Errorf("feed: read body: %w", err)
	}
	if len(body) > MaxBody {
		return nil, "", "", false, ErrBodyTooLarge
	}
	return body, resp.Header.Get("ETag"), resp.Header.Get("Last-Modified"), false, nil
}

// retryAfter reads a Retry-After header: delta seconds or an HTTP date.
// Zero means absent or unreadable.
func retryAfter(v string, now time.Time) time.Time {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 {
			return time.Time{}
		}
		return now.Add(time.Duration(secs) * time.Second)
	}
	if t, err := http.ParseTime(v); err == nil {
		return t
	}
	return time.Time{}
}

// candidate is one feed item with its identity worked out, before the
// (costlier) conversion that only new and edited items need.
type candidate struct {
	item    *gofeed.Item
	id      string
	ver     int64 // edit time, Unix seconds; 0 if never edited
	created time.Time
	idx     int
}

// candidates returns the items that have an identity, each once, oldest
// first, so the log reads in the order they were published.
func (s *Source) candidates(f *gofeed.Feed, mastodon bool, fetched time.Time) []candidate {
	out := make([]candidate, 0, len(f.Items))
	seen := make(map[string]bool, len(f.Items))
	for i, it := range f.Items {
		if it == nil {
			continue
		}
		uri := s.PostURI(it.GUID, it.Link, mastodon)
		if uri == "" {
			continue
		}
		id := event.PostID(uri)
		if seen[id] {
			continue
		}
		seen[id] = true
		created, edited := dates(it, f.FeedType == "atom", fetched)
		c := candidate{item: it, id: id, created: created, idx: i}
		if !edited.IsZero() {
			c.ver = edited.Unix()
		}
		out = append(out, c)
	}
	sort.SliceStable(out, func(a, b int) bool {
		if !out[a].created.Equal(out[b].created) {
			return out[a].created.Before(out[b].created)
		}
		// Feeds list newest first: for equal times, later in the document is older.
		return out[a].idx > out[b].idx
	})
	return out
}
