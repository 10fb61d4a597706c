// Package mastodon follows an event's hashtags on one Mastodon server and
// hands each public post to an ingest.Sink, with its edits and deletes.
//
// Polling the tag timelines is the backbone: a forward cursor per tag,
// paged until caught up, a regular re-read of the newest page (remote posts
// can arrive with ids older than the cursor), back-fill from the event's
// start on the first run, and a periodic re-read of the source's posts on
// the wall (in batches of 20 where the server has Mastodon 4.3's batch
// read) to see deletes and edits. With a user token, the token's account
// follows the event's tags and the websocket streaming API (its user
// stream, which then carries the tags, and the hashtag streams) adds
// sub-second arrival, edits and deletes; a streaming failure never stops
// polling. Handles use the server's own account domain (/api/v2/instance)
// and an author is "acct:user@domain", the same through every server.
//
// REST calls go through go-mastodon (its typed client and Status model)
// with this package's http.RoundTripper underneath: it records the
// rate-limit headers, turns 429 and 503 into a *ThrottledError at once
// (go-mastodon would retry a 429 silently for hours) and drops the empty
// bearer token go-mastodon sends when there is none. Cursors are kept here,
// never taken from go-mastodon's Pagination (which it overwrites, and
// zeroes on an empty page). Streaming is a small gorilla/websocket client
// of its own: go-mastodon's puts the token in the URL, opens one
// connection per tag and reconnects with no backoff.
package mastodon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gomastodon "github.com/mattn/go-mastodon"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/ingest"
	"github.com/backchannel/backchannel/internal/backoff"
	"github.com/backchannel/backchannel/internal/weburl"
)

// PageLimit is the page size asked for: Mastodon's maximum.
const PageLimit = 40

// StatusBatch is how many statuses one GET /api/v1/statuses?id[]= asks
// for: Mastodon's limit (DEFAULT_STATUSES_LIMIT; more is refused with 422).
const StatusBatch = 20

// Config configures the source for one server.
type Config struct {
	// Server is the server's base URL, e.g. "https://mastodon.social"; a
	// bare host name means https.
	Server string
	// Tags are the event's hashtags, without '#'.
	Tags []string
	// Token is an access token (from the environment), or "" for anonymous
	// reads. Streaming needs a user token; with one, the source has its
	// account follow the tags (scope write:follows besides read:statuses),
	// so use a dedicated account.
	Token string
	// Start is the earliest post wanted: the first run back-fills posts
	// created since then (pass the event's start minus its lead-in). Zero
	// back-fills only the newest page. Later polling takes every new post,
	// whatever its date.
	Start time.Time
	// PollInterval is the pause between polling rounds (one request per
	// tag when caught up). Zero means DefaultPollInterval.
	PollInterval time.Duration
	// RereadInterval is how often the newest page of each tag is read again
	// without a cursor, for posts that arrive with old ids and for edits.
	// Zero means 2 minutes.
	RereadInterval time.Duration
	// DeleteCheckInterval is how often this source's posts are read again
	// to see whether they were deleted or edited. Zero means 30 seconds.
	//
	// On a server that reads many statuses in one request (Mastodon 4.3+:
	// GET /api/v1/statuses?id[]=, at most StatusBatch ids), a check makes up
	// to DeleteCheckReads such reads: first the source's posts that are on
	// a public surface (OnWall), walking round all of them, then the newest
	// of the rest. So a post deleted at its source leaves the wall within
	// ceil(N / (StatusBatch × DeleteCheckReads)) intervals for N posts of
	// this source on the wall: 30 s up to 200 posts, 90 s for 500, at the
	// defaults. Elsewhere (GoToSocial, older Mastodon) a check reads
	// DeleteCheckBatch statuses one by one, in the same order: within
	// ceil(N / DeleteCheckBatch) intervals. DeleteCheckWindow is how many of
	// the newest posts the walk for the rest goes round. Zeros mean 10
	// reads, 10 statuses and 200 posts: at most 100 requests per 5 minutes,
	// a third of Mastodon's budget for an address.
	DeleteCheckInterval time.Duration
	DeleteCheckReads    int
	DeleteCheckBatch    int
	DeleteCheckWindow   int
	// OnWall, when set, reports whether the post with this URI is on a
	// public surface now. The delete check then visits this source's posts
	// that are on the wall first, however old, so a post deleted at its
	// source leaves the wall even when it is no longer among the newest.
	OnWall func(uri string) bool
	// MaxBackfillPages bounds the first run's back-fill. Zero means 50
	// pages (2,000 posts).
	MaxBackfillPages int
	// Stream turns on the websocket streaming API (needs Token).
	Stream bool
	// HTTPClient is used for every request; its Timeout bounds each one.
	// Nil means a client with a 30 second timeout.
	HTTPClient *http.Client
	// MinBackoff and MaxBackoff bound the jittered exponential backoff
	// after a failure. Zeros mean 2 seconds and 1 minute (short, so the wall fills again
	// soon after a venue's network returns).
	MinBackoff, MaxBackoff time.Duration
	// AuthBackoff is the pause after a 401/403: a person has to act, so
	// retrying fast is pointless. Zero means 10 minutes.
	AuthBackoff time.Duration
	// StreamReadTimeout: a stream silent for this long (no event, no ping)
	// is taken as dead and reconnected. Zero means 2 minutes.
	StreamReadTimeout time.Duration
	// StreamProbeEvery: while waiting to reconnect the stream after the
	// streaming host stopped answering, it is probed (a TCP connect) about
	// this often, and reconnected as soon as it answers. Zero means 1.5 s.
	StreamProbeEvery time.Duration
	// StreamProbeTimeout bounds one probe. Zero means 1 second.
	StreamProbeTimeout time.Duration
	// InstanceTimeout bounds the lookup of the streaming host
	// (/api/v2/instance). Zero means 5 seconds.
	InstanceTimeout time.Duration
	// UserAgent is sent with every request. Empty means "backchannel".
	UserAgent string
	// Logger receives the source's logs. Nil means slog.Default().
	Logger *slog.Logger
}

// DefaultPollInterval is the pause between polling rounds for tags tags.
//
// The arithmetic: Mastodon allows 300 requests per 5 minutes per IP (or
// per token) on /api, and 300 per 15 minutes on requests that page
// (min_id/max_id/since_id). A caught-up round costs one paging request per
// tag, so an interval I gives tags×900/I paging requests per 15 minutes.
// Keeping that under half the budget (150, leaving room for catching up
// and for other clients on the same address) needs I >= 6 s per tag.
// Anonymous responses are cached by the server for 15 s, so polling faster
// than that anonymously gains nothing; with a token the floor is 5 s.
//
// For 4 tags: I = 24 s: 150 paging requests per 15 minutes, plus per 5
// minutes 50 paging + 10 re-reads (4 tags every 2 minutes) + at most 100
// delete-check reads (10 every 30 s) + the instance lookups: under 165 of
// 300.
func DefaultPollInterval(tags int, token bool) time.Duration {
	floor := 15 * time.Second
	if token {
		floor = 5 * time.Second
	}
	return max(floor, time.Duration(tags)*6*time.Second)
}

// Source follows the configured tags on one server. Create it with New.
type Source struct {
	cfg    Config
	base   *url.URL
	host   string
	name   string
	tags   []string
	log    *slog.Logger
	client *gomastodon.Client
	httpc  *http.Client // the same transport, for the calls go-mastodon lacks
	rl     *rateLimit
	recent *recent
	now    func() time.Time

	// pollNow asks the poll loop for a round at once: the stream connected
	// or reconnected and the gap must be closed.
	pollNow chan struct{}

	mu      sync.Mutex
	health  *ingest.Health
	cursors map[string]string // tag -> newest id seen, as stored
	// inst is what the server said about itself at instAt (instOK: it
	// ever said); instFailedAt and instLastErr are the last failed lookup.
	inst         instanceInfo
	instAt       time.Time
	instOK       bool
	instFailedAt time.Time
	instLastErr  string
	// ownHostAt is when the API's own host took a streaming connection
	// the advertised address did not.
	ownHostAt time.Time
	// follows is where following each tag stands.
	follows map[string]followState
	// streamLastErr is the last reason streaming ended, reported once;
	// streamNote is the stream's part of the health's detail.
	streamLastErr, streamNote string
	logged                    map[string]bool
	// batchRead is whether the server reads many statuses in one request
	// (GET /api/v1/statuses?id[]=, Mastodon 4.3+): batchUnknown until a
	// batch read returned a status or the server showed it has none.
	batchRead atomic.Int32

	// probeFailures counts probes of the streaming host it did not answer.
	probeFailures atomic.Int64
	// streamFailures counts streaming attempts that ended.
	streamFailures atomic.Int64
	// homeIgnored counts user-stream statuses without the event's tags.
	homeIgnored atomic.Int64
}

// The states of Source.batchRead.
const (
	batchUnknown int32 = iota
	batchYes
	batchNo
)

// New checks cfg and returns the source. It does no I/O.
func New(cfg Config) (*Source, error) {
	raw := strings.TrimSpace(cfg.Server)
	if raw == "" {
		return nil, event.Errorf(event.EINVALID, "mastodon: server is required")
	}
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	base, ok := weburl.Parse(strings.TrimRight(raw, "/"))
	if !ok {
		return nil, event.Errorf(event.EINVALID, "mastodon: server %q is not an http(s) URL", cfg.Server)
	}
	var tags []string
	seenTag := map[string]bool{}
	for _, t := range cfg.Tags {
		t = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(t), "#"))
		if t == "" || seenTag[strings.ToLower(t)] {
			continue
		}
		seenTag[strings.ToLower(t)] = true
		tags = append(tags, t)
	}
	if len(tags) == 0 {
		return nil, event.Errorf(event.EINVALID, "mastodon %s: at least one tag is required", base.Host)
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval(len(tags), cfg.Token != "")
	}
	if cfg.RereadInterval <= 0 {
		cfg.RereadInterval = 2 * time.Minute
	}
	if cfg.DeleteCheckInterval <= 0 {
		cfg.DeleteCheckInterval = 30 * time.Second
	}
	if cfg.DeleteCheckReads <= 0 {
		cfg.DeleteCheckReads = 10
	}
	if cfg.DeleteCheckBatch <= 0 {
		cfg.DeleteCheckBatch = 10
	}
	if cfg.DeleteCheckWindow <= 0 {
		cfg.DeleteCheckWindow = 200
	}
	if cfg.MaxBackfillPages <= 0 {
		cfg.MaxBackfillPages = 50
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 2 * time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = time.Minute // a venue's wifi back means posts within a minute
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = cfg.MinBackoff
	}
	if cfg.AuthBackoff <= 0 {
		cfg.AuthBackoff = 10 * time.Minute
	}
	if cfg.StreamReadTimeout <= 0 {
		cfg.StreamReadTimeout = 2 * time.Minute
	}
	if cfg.StreamProbeEvery <= 0 {
		cfg.StreamProbeEvery = 1500 * time.Millisecond
	}
	if cfg.StreamProbeTimeout <= 0 {
		cfg.StreamProbeTimeout = time.Second
	}
	if cfg.InstanceTimeout <= 0 {
		cfg.InstanceTimeout = 5 * time.Second
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "backchannel"
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	name := Kind + ":" + base.Host
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	s := &Source{
		cfg:     cfg,
		base:    base,
		host:    strings.ToLower(base.Host),
		name:    name,
		tags:    tags,
		log:     logger.With(slog.String("source", name)),
		rl:      &rateLimit{},
		recent:  newRecent(5000),
		now:     time.Now,
		pollNow: make(chan struct{}, 1),
		cursors: map[string]string{},
		follows: map[string]followState{},
		logged:  map[string]bool{},
	}
	rt := hc.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	tr := &transport{base: rt, now: s.now, rl: s.rl, onLimit: s.onRateLimit, userAgent: cfg.UserAgent}
	s.httpc = &http.Client{Transport: tr, Timeout: hc.Timeout, Jar: hc.Jar, CheckRedirect: hc.CheckRedirect}
	s.client = gomastodon.NewClient(&gomastodon.Config{Server: base.String(), AccessToken: cfg.Token})
	s.client.Client = *s.httpc
	s.client.UserAgent = cfg.UserAgent
	return s, nil
}

// Name is "mastodon:<host>".
func (s *Source) Name() string { return s.name }

// Kind is "mastodon".
func (s *Source) Kind() string { return Kind }

// Tags are the tags followed, without '#', duplicates removed.
func (s *Source) Tags() []string { return append([]string(nil), s.tags...) }

func (s *Source) onRateLimit(remaining int, reset time.Time) {
	s.mu.Lock()
	h := s.health
	s.mu.Unlock()
	if h != nil {
		h.RateLimit(remaining, reset)
	}
}

// Run polls (and, when configured, streams) until ctx is done. Failures
// are backed off and reported on sink.Health(); Run returns nil when ctx is
// done.
func (s *Source) Run(ctx context.Context, sink ingest.Sink) error {
	h := sink.Health()
	s.mu.Lock()
	s.health = h
	// Cursors are read from the sink again: while this source was stopped
	// another process may have run it and moved them.
	s.cursors = map[string]string{}
	s.mu.Unlock()

	var wg sync.WaitGroup
	if s.cfg.Stream {
		if s.cfg.Token == "" {
			s.log.Warn("streaming needs a user token; polling only")
		} else {
			wg.Go(func() { s.streamLoop(ctx, sink) })
		}
	}
	s.pollLoop(ctx, sink)
	wg.Wait()
	return nil
}

// pollLoop runs polling rounds until ctx is done.
func (s *Source) pollLoop(ctx context.Context, sink ingest.Sink) {
	h := sink.Health()
	bo := &backoff.Backoff{Min: s.cfg.MinBackoff, Max: s.cfg.MaxBackoff}
	var nextReread time.Time // zero: re-read in the first round, for what a restart missed
	nextDeletes := s.now().Add(s.cfg.DeleteCheckInterval)
	restored := false
	for {
		err := s.round(ctx, sink, &restored, &nextReread, &nextDeletes)
		if ctx.Err() != nil {
			return
		}
		var wait time.Duration
		var pollNow <-chan struct{}
		if err != nil {
			wait = s.failed(h, bo, err)
		} else {
			bo.Reset()
			wait = s.cfg.PollInterval
			pollNow = s.pollNow // a stream may cut the pause short
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-pollNow:
			t.Stop()
		}
	}
}

// failed reports err on health and returns how long to wait.
func (s *Source) failed(h *ingest.Health, bo *backoff.Backoff, err error) time.Duration {
	now := s.now()
	var te *ThrottledError
	var ae *gomastodon.APIError
	switch {
	case errors.As(err, &te):
		wait := te.RetryAt.Sub(now)
		if te.RetryAt.IsZero() || wait <= 0 {
			wait = bo.Next()
		}
		// A little jitter after the reset, so several sources (or
		// processes) on one address do not all come back at once.
		wait += time.Duration(rand.Int64N(int64(s.cfg.MinBackoff)/4 + 1))
		h.RateLimited(now, err.Error(), now.Add(wait))
		// Debug: the runner logs the change of state once, not every retry.
		s.log.Debug("server asked us to wait", slog.Int("status", te.StatusCode), slog.Duration("wait", wait))
		return wait
	case errors.As(err, &ae) && (ae.StatusCode == http.StatusUnauthorized || ae.StatusCode == http.StatusForbidden):
		msg := "server refuses anonymous reads; set a token"
		if s.cfg.Token != "" {
			msg = "server refused the access token"
		}
		wait := backoff.Jitter(s.cfg.AuthBackoff)
		h.Failed(now, fmt.Errorf("%s: %w", msg, err), now.Add(wait))
		s.log.Debug(msg, slog.Int("status", ae.StatusCode), slog.Duration("retry_in", wait))
		return wait
	default:
		wait := bo.Next()
		h.Failed(now, err, now.Add(wait))
		s.log.Debug("poll failed", slog.String("err", err.Error()), slog.Duration("retry_in", wait))
		return wait
	}
}

// round polls every tag once (paging until caught up), re-reads the newest
// pages and checks recent posts when those are due, and stores what
// changed.
func (s *Source) round(ctx context.Context, sink ingest.Sink, restored *bool, nextReread, nextDeletes *time.Time) error {
	h := sink.Health()
	if !*restored {
		v, err := sink.Cursor(ctx, "recent")
		if err != nil {
			return fmt.Errorf("mastodon: read cursor: %w", err)
		}
		if err := s.recent.restore(v); err != nil {
			s.log.Warn("ignoring unreadable recent-posts cursor", slog.String("err", err.Error()))
		}
		*restored = true
	}
	// The account domain, for the handles of the server's own users: asked
	// once an hour (a failed lookup leaves the host in its place and is
	// tried again a minute later; it never stops polling).
	s.instance(ctx)
	for _, tag := range s.tags {
		if err := s.pollTag(ctx, sink, tag); err != nil {
			return err
		}
	}
	if now := s.now(); !now.Before(*nextReread) {
		for _, tag := range s.tags {
			if err := s.reread(ctx, sink, tag); err != nil {
				return err
			}
		}
		*nextReread = now.Add(s.cfg.RereadInterval)
	}
	if now := s.now(); !now.Before(*nextDeletes) {
		if err := s.checkRecent(ctx, sink); err != nil {
			return err
		}
		*nextDeletes = now.Add(s.cfg.DeleteCheckInterval)
	}
	if v, ok := s.recent.snapshot(100); ok {
		if err := sink.SetCursor(ctx, "recent", v); err != nil {
			return fmt.Errorf("mastodon: store cursor: %w", err)
		}
	}
	h.Succeeded(s.now())
	return nil
}

func cursorKey(tag string) string { return "tag:" + strings.ToLower(tag) }

func (s *Source) cursor(ctx context.Context, sink ingest.Sink, tag string) (string, error) {
	s.mu.Lock()
	c, ok := s.cursors[tag]
	s.mu.Unlock()
	if ok {
		return c, nil
	}
	c, err := sink.Cursor(ctx, cursorKey(tag))
	if err != nil {
		return "", fmt.Errorf("mastodon: read cursor: %w", err)
	}
	s.mu.Lock()
	s.cursors[tag] = c
	s.mu.Unlock()
	return c, nil
}

func (s *Source) setCursor(ctx context.Context, sink ingest.Sink, tag, id string) error {
	if err := sink.SetCursor(ctx, cursorKey(tag), id); err != nil {
		return fmt.Errorf("mastodon: store cursor: %w", err)
	}
	s.mu.Lock()
	s.cursors[tag] = id
	s.mu.Unlock()
	return nil
}

// pollTag reads what is new on one tag: forward from the cursor, page by
// page until a page is not full; or, with no cursor yet, the back-fill.
func (s *Source) pollTag(ctx context.Context, sink ingest.Sink, tag string) error {
	cur, err := s.cursor(ctx, sink, tag)
	if err != nil {
		return err
	}
	if cur == "" {
		return s.backfill(ctx, sink, tag)
	}
	// Bounded so one busy tag cannot starve the others or burn the
	// paging budget in one round; the rest comes next round.
	for range s.cfg.MaxBackfillPages {
		page, err := s.timeline(ctx, tag, gomastodon.Pagination{MinID: gomastodon.ID(cur), Limit: PageLimit})
		if err != nil {
			return err
		}
		if err := s.handlePage(ctx, sink, page); err != nil {
			return err
		}
		if len(page) == 0 {
			return nil
		}
		// Pages come newest first; min_id pages are the ones just above
		// the cursor, so the first is the new cursor.
		cur = string(page[0].ID)
		if err := s.setCursor(ctx, sink, tag, cur); err != nil {
			return err
		}
		if len(page) < PageLimit {
			return nil
		}
	}
	return nil
}

// backfill reads the newest page and then older pages until the posts are
// older than Config.Start, and appends them oldest first so the log's
// order follows the posts'. The cursor is stored only at the end: a
// back-fill cut short is done again, and the log drops what it already has.
func (s *Source) backfill(ctx context.Context, sink ingest.Sink, tag string) error {
	page, err := s.timeline(ctx, tag, gomastodon.Pagination{Limit: PageLimit})
	if err != nil {
		return err
	}
	if len(page) == 0 {
		return nil // nothing yet: try again next round
	}
	newest := string(page[0].ID)
	all := page
	for pages := 1; !s.cfg.Start.IsZero() && len(page) == PageLimit && pages < s.cfg.MaxBackfillPages; pages++ {
		last := page[len(page)-1]
		if last.CreatedAt.Before(s.cfg.Start) {
			break
		}
		page, err = s.timeline(ctx, tag, gomastodon.Pagination{MaxID: last.ID, Limit: PageLimit})
		if err != nil {
			return err
		}
		all = append(all, page...)
	}
	kept := all[:0]
	for _, st := range all {
		if s.cfg.Start.IsZero() || !original(st).CreatedAt.Before(s.cfg.Start) {
			kept = append(kept, st)
		}
	}
	if err := s.handlePage(ctx, sink, kept); err != nil {
		return err
	}
	s.log.Info("back-filled tag", slog.String("tag", tag), slog.Int("statuses", len(kept)))
	return s.setCursor(ctx, sink, tag, newest)
}

// reread reads the newest page with no cursor: a remote post fetched late
// gets an id below the cursor and would otherwise never be seen; and an
// edited post shows a new edited_at here.
func (s *Source) reread(ctx context.Context, sink ingest.Sink, tag string) error {
	page, err := s.timeline(ctx, tag, gomastodon.Pagination{Limit: PageLimit})
	if err != nil {
		return err
	}
	return s.handlePage(ctx, sink, page)
}

// checkRecent reads this source's posts again (see
// Config.DeleteCheckInterval): gone means deleted at the source; a new
// edited_at means edited.
func (s *Source) checkRecent(ctx context.Context, sink ingest.Sink) error {
	if s.batchRead.Load() != batchNo {
		done, err := s.checkBatches(ctx, sink)
		if done || err != nil {
			return err
		}
	}
	for _, e := range s.recent.batch(s.cfg.DeleteCheckBatch, s.cfg.DeleteCheckWindow, s.cfg.OnWall) {
		if err := s.checkOne(ctx, sink, e); err != nil {
			return err
		}
	}
	return nil
}

// checkOne reads one status again.
func (s *Source) checkOne(ctx context.Context, sink ingest.Sink, e seen) error {
	if err := s.pace(ctx); err != nil {
		return err
	}
	st, err := s.client.GetStatus(ctx, gomastodon.ID(e.ID))
	var ae *gomastodon.APIError
	if errors.As(err, &ae) && (ae.StatusCode == http.StatusNotFound || ae.StatusCode == http.StatusGone) {
		return s.deleted(ctx, sink, e)
	}
	if err != nil {
		return fmt.Errorf("mastodon: check status %s: %w", e.ID, timedOut(err))
	}
	return s.handle(ctx, sink, st)
}

func (s *Source) deleted(ctx context.Context, sink ingest.Sink, e seen) error {
	if _, err := sink.Delete(ctx, e.URI); err != nil {
		return fmt.Errorf("mastodon: sink delete: %w", err)
	}
	s.recent.remove(e.ID)
	s.log.Info("post deleted at source", slog.String("uri", e.URI))
	return nil
}

// checkBatches reads up to DeleteCheckReads batches of statuses. done is
// false when the server turned out to have no batch read (the caller
// then reads one by one).
//
// A status missing from a batch's answer was deleted; but until a batch
// read has returned a status, the server is not trusted to read the ids
// at all (a server that ignores id[] answers [] for every batch), so what
// is missing is read again one by one, and a status found that way means
// the server has no batch read.
func (s *Source) checkBatches(ctx context.Context, sink ingest.Sink) (done bool, err error) {
	entries := s.recent.batch(s.cfg.DeleteCheckReads*StatusBatch, s.cfg.DeleteCheckWindow, s.cfg.OnWall)
	for len(entries) > 0 {
		chunk := entries[:min(StatusBatch, len(entries))]
		entries = entries[len(chunk):]
		found, ok, err := s.readBatch(ctx, chunk)
		if err != nil {
			return true, err
		}
		if !ok {
			s.batchRead.Store(batchNo)
			s.log.Info("the server has no batch status read (Mastodon 4.3+); checking posts one by one",
				slog.Int("per_check", s.cfg.DeleteCheckBatch), slog.Duration("every", s.cfg.DeleteCheckInterval))
			return false, nil
		}
		if len(found) > 0 {
			s.batchRead.Store(batchYes)
		}
		trusted := s.batchRead.Load() == batchYes
		for _, e := range chunk {
			st, ok := found[e.ID]
			switch {
			case ok:
				err = s.handle(ctx, sink, st)
			case trusted:
				err = s.deleted(ctx, sink, e)
			default:
				before := s.batchRead.Load()
				err = s.checkOne(ctx, sink, e)
				if _, still := s.recent.uri(e.ID); err == nil && still && before == batchUnknown {
					// It is there, and the batch did not return it.
					s.batchRead.Store(batchNo)
					s.log.Info("the server ignores batch status reads; checking posts one by one")
					return false, nil
				}
			}
			if err != nil {
				return true, err
			}
		}
	}
	return true, nil
}

// readBatch reads the statuses of entries (at most StatusBatch) in one
// request, by local id. ok is false when the server has no such read:
// it answered 404, 405, 400, 422 or 501 (Mastodon before 4.3 has no route;
// 422 is Mastodon's answer to more ids than it takes, which a batch of
// StatusBatch never is).
func (s *Source) readBatch(ctx context.Context, entries []seen) (found map[string]*gomastodon.Status, ok bool, err error) {
	q := url.Values{}
	for _, e := range entries {
		q.Add("id[]", e.ID)
	}
	var list []*gomastodon.Status
	code, err := s.getJSON(ctx, "/api/v1/statuses?"+q.Encode(), &list)
	if err != nil {
		return nil, true, fmt.Errorf("mastodon: check statuses: %w", err)
	}
	switch code {
	case http.StatusOK:
	case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusBadRequest,
		http.StatusUnprocessableEntity, http.StatusNotImplemented:
		return nil, false, nil
	default:
		return nil, true, fmt.Errorf("mastodon: check statuses: %d %s", code, http.StatusText(code))
	}
	found = make(map[string]*gomastodon.Status, len(list))
	for _, st := range list {
		if st != nil {
			found[string(st.ID)] = st
		}
	}
	return found, true, nil
}

// timeline fetches one page of a tag timeline. pg is passed by value: a
// fresh copy each call, because go-mastodon overwrites it.
func (s *Source) timeline(ctx context.Context, tag string, pg gomastodon.Pagination) ([]*gomastodon.Status, error) {
	if err := s.pace(ctx); err != nil {
		return nil, err
	}
	page, err := s.client.GetTimelineHashtag(ctx, tag, false, &pg)
	var ae *gomastodon.APIError
	if errors.As(err, &ae) && ae.StatusCode == http.StatusNotFound {
		return nil, nil // an unknown tag: no posts yet
	}
	if err != nil {
		return nil, fmt.Errorf("mastodon: timeline #%s: %w", tag, timedOut(err))
	}
	s.health.Succeeded(s.now())
	return page, nil
}

// timedOut marks a timeout plainly: net/http words it three ways
// ("context deadline exceeded", "request canceled", "Client.Timeout
// exceeded"), and a host reading the health should not have to know them.
func timedOut(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("timed out: %w", err)
	}
	return err
}

// handlePage hands a page (newest first, as served) to the sink oldest first.
func (s *Source) handlePage(ctx context.Context, sink ingest.Sink, page []*gomastodon.Status) error {
	for i := len(page) - 1; i >= 0; i-- {
		if err := s.handle(ctx, sink, page[i]); err != nil {
			return err
		}
	}
	return nil
}

// handle hands one status to the sink: boosts resolve to the original;
// only public posts are kept. Every status goes to Post first (the log
// drops it when it has the URI); an edited one (edited_at set, from a
// re-read, a status check or a status.update event) then goes to Edit when
// the post was already there. So the first version the log holds is always
// a post.received, whichever server or path saw the post first, and an
// edit is appended once per edit time. A status already handed over in
// this version is skipped, so re-reads cost the log nothing.
func (s *Source) handle(ctx context.Context, sink ingest.Sink, st *gomastodon.Status) error {
	o := original(st)
	if !keep(o) {
		return nil
	}
	id := string(o.ID)
	if s.recent.unchanged(id, o.URI, o.EditedAt) {
		return nil
	}
	p := ConvertFrom(o, s.host, s.knownDomain())
	// A post of this source edited to drop the event's tags (a re-fetch or
	// an edit event shows it) is no longer a post for this event. A new
	// status is taken as the server routed it: its tag timeline or stream.
	if _, ours := s.recent.uri(id); ours && !o.EditedAt.IsZero() && !s.carriesTag(o) {
		if _, err := sink.Withdraw(ctx, p, s.removedReason()); err != nil {
			if event.ErrorCode(err) == event.EINVALID {
				s.log.Warn("withdrawal refused by the sink", slog.String("uri", o.URI), slog.String("err", err.Error()))
				return nil
			}
			return fmt.Errorf("mastodon: sink: %w", err)
		}
		s.log.Info("post edited to drop the event's tags; taken off the screens", slog.String("uri", o.URI))
		// Still remembered: a delete, or an edit putting the tag back, still reaches the log.
		s.recent.add(id, o.URI, o.EditedAt)
		return nil
	}
	a, err := sink.Post(ctx, p)
	if err == nil && a.Duplicate && !o.EditedAt.IsZero() {
		_, err = sink.Edit(ctx, p)
	}
	if err != nil {
		if event.ErrorCode(err) == event.EINVALID {
			// This post can never be stored; retrying would block the tag.
			s.log.Warn("post refused by the sink", slog.String("uri", o.URI), slog.String("err", err.Error()))
			return nil
		}
		return fmt.Errorf("mastodon: sink: %w", err)
	}
	s.recent.add(id, o.URI, o.EditedAt)
	return nil
}

// carriesTag reports whether st carries one of the event's tags.
func (s *Source) carriesTag(st *gomastodon.Status) bool {
	for _, t := range st.Tags {
		for _, want := range s.tags {
			if strings.EqualFold(strings.TrimPrefix(t.Name, "#"), want) {
				return true
			}
		}
	}
	return false
}

// removedReason is what moderators read when a post was edited to drop
// the event's tags.
func (s *Source) removedReason() string {
	if len(s.tags) == 1 {
		return "edited to remove #" + s.tags[0]
	}
	return "edited to remove the event's tags (#" + strings.Join(s.tags, ", #") + ")"
}

// pace slows down when the server says the budget is nearly used up:
// below a tenth of the limit left, requests are spread evenly over the time
// to the reset (the last one is kept back until the reset, for the next
// window's first request).
func (s *Source) pace(ctx context.Context) error {
	known, limit, remaining, reset := s.rl.get()
	if !known || reset.IsZero() {
		return nil
	}
	until := reset.Sub(s.now())
	if until <= 0 {
		return nil
	}
	low := max(limit/10, 5)
	if remaining >= low {
		return nil
	}
	wait := until
	if remaining > 1 {
		wait = until / time.Duration(remaining)
	}
	if s.health != nil {
		s.health.RateLimited(s.now(), fmt.Sprintf("rate limit nearly used up (%d left); slowing down", remaining), s.now().Add(wait))
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
