// Package x follows an event's hashtags on X (Twitter) through X's API v2
// and hands each post to an ingest.Sink, with its edits and deletes, while
// counting what it costs.
//
// Live posts come from the filtered stream, which X allows once per app: a
// process-wide Hub holds the one connection with one rule per event
// (tagged "event:<slug>") and routes each post by its rule's tag. Every
// event's Source is a SharedSource leased as "source:x", so in a deployment
// of several ingest processes over Redis only the lease holder runs X
// sources and connects. Recent search with a since_id cursor fills the gap
// after every (re)connection and is the whole source on plans without the
// stream. Posts on the wall are looked up again in batches of 100 to learn
// of deletes (X has no deletion feed below Enterprise) and edits. See
// docs/SOURCES-X.md.
package x

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/ingest"
	"github.com/backchannel/backchannel/internal/backoff"
)

// Prices are what X charges per resource read, in US dollars
// (pay-per-use, x-api.md section 1: Post $0.005, User $0.010).
type Prices struct {
	PostRead float64
	UserRead float64
}

// DefaultPrices are X's pay-per-use prices as of 2026.
var DefaultPrices = Prices{PostRead: 0.005, UserRead: 0.010}

// Defaults of Config's zero fields.
const (
	DefaultPollInterval    = 15 * time.Second
	DefaultRecheckInterval = 2 * time.Minute
	DefaultRecheckMax      = 1000
	DefaultMaxPages        = 10
	maxKnown               = 2000
)

// Config configures one event's X source.
type Config struct {
	// Slug is the event's; the stream rule is tagged "event:<slug>".
	Slug string
	// Tags are the event's hashtags, without '#'.
	Tags []string
	// Query replaces the rule and search query built from Tags.
	Query string
	// Retweets keeps retweets in the query (they are unwrapped to their
	// original, shown once); by default the query has -is:retweet, since
	// the original matches by itself and each retweet is a post read.
	Retweets bool
	// Start is the earliest post wanted on the first search (the event's
	// start minus its lead-in); X's recent search reaches back 7 days.
	Start time.Time
	// Client is the app's client, shared by every event (X's limits are
	// per app).
	Client *Client
	// Hub is the process's stream connection; nil polls recent search
	// only (plans without the stream).
	Hub *Hub
	// PollInterval is the pause between searches when there is no stream.
	PollInterval time.Duration
	// RecheckInterval is how often the posts on the wall are looked up
	// again for deletes and edits; RecheckMax bounds how many per round
	// (ceil(RecheckMax/100) requests).
	RecheckInterval time.Duration
	RecheckMax      int
	// MaxPages bounds one search's pages of 100.
	MaxPages int
	// OnWall reports whether the post with this URI is on a public surface
	// now; nil re-checks every post the source handed over (newest first).
	OnWall func(uri string) bool
	// Prices default to DefaultPrices; Budget (US dollars) pauses the
	// source once the estimate reaches it; 0 means no budget.
	Prices Prices
	Budget float64
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Source is one event's X source. Create it with New.
type Source struct {
	cfg   Config
	query string
	tag   string
	log   *slog.Logger
	m     *metrics

	// pollNow is signalled by the Hub at every stream (re)connection.
	pollNow chan struct{}

	mu      sync.Mutex
	sink    ingest.Sink
	known   map[string]string // first id -> version id handed over
	order   []string          // first ids, oldest first
	posts   int64             // post resources read, all time
	users   int64
	paused  bool
	ruleErr string
}

// New checks cfg and returns the source; it does no I/O.
func New(cfg Config) (*Source, error) {
	if cfg.Client == nil || cfg.Client.Token == "" {
		return nil, event.Errorf(event.EINVALID, "x: a bearer token is required")
	}
	if cfg.Slug == "" {
		return nil, event.Errorf(event.EINVALID, "x: the event's slug is required")
	}
	q := strings.TrimSpace(cfg.Query)
	if q == "" {
		var tags []string
		for _, t := range cfg.Tags {
			if t = strings.TrimPrefix(strings.TrimSpace(t), "#"); t != "" {
				tags = append(tags, "#"+t)
			}
		}
		if len(tags) == 0 {
			return nil, event.Errorf(event.EINVALID, "x: at least one hashtag is required")
		}
		q = strings.Join(tags, " OR ")
		if len(tags) > 1 {
			q = "(" + q + ")"
		}
		if !cfg.Retweets {
			q += " -is:retweet"
		}
	}
	if len(q) > 512 {
		return nil, event.Errorf(event.EINVALID, "x: the query is %d characters; recent search takes at most 512", len(q))
	}
	if cfg.Prices == (Prices{}) {
		cfg.Prices = DefaultPrices
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.RecheckInterval <= 0 {
		cfg.RecheckInterval = DefaultRecheckInterval
	}
	if cfg.RecheckMax <= 0 {
		cfg.RecheckMax = DefaultRecheckMax
	}
	if cfg.MaxPages <= 0 {
		cfg.MaxPages = DefaultMaxPages
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Source{cfg: cfg, query: q, tag: ruleTagPrefix + cfg.Slug, pollNow: make(chan struct{}, 1),
		log:   cfg.Logger.With(slog.String("source", Kind), slog.String("event", cfg.Slug)),
		known: map[string]string{}}
	if cfg.Hub != nil {
		s.m = cfg.Hub.m
	} else {
		s.m = newMetrics()
	}
	return s, nil
}

// Name is "x".
func (s *Source) Name() string { return Kind }

// Kind is "x".
func (s *Source) Kind() string { return Kind }

// SharedLease is "x": one process runs the X source of every event.
func (s *Source) SharedLease() string { return Kind }

// Query is the stream rule and search query.
func (s *Source) Query() string { return s.query }

// RegisterMetrics implements ingest.MetricsSource.
func (s *Source) RegisterMetrics(reg prometheus.Registerer) error {
	if err := s.m.register(reg); err != nil {
		return err
	}
	s.m.budget.WithLabelValues(s.cfg.Slug).Set(s.cfg.Budget)
	return nil
}

// Cursor keys.
const (
	curSince = "since_id"
	curSpend = "spend"
	curPosts = "posts"
)

// Run follows the event on X until ctx is done.
func (s *Source) Run(ctx context.Context, sink ingest.Sink) error {
	h := sink.Health()
	s.mu.Lock()
	s.sink = sink
	s.mu.Unlock()
	if err := s.restore(ctx, sink); err != nil {
		return err
	}
	if s.overBudget() {
		return s.pause(ctx, h)
	}
	if e := s.cfg.Client.Capped(); e != nil {
		return s.capped(ctx, h, e)
	}
	var reg *registration
	if s.cfg.Hub != nil {
		reg = &registration{tag: s.tag, rule: s.query, deliver: s.deliver, state: s.streamState,
			ruleErr: s.setRuleErr, connected: s.pollNow}
		s.cfg.Hub.register(reg)
		defer func() {
			if reg != nil {
				s.cfg.Hub.unregister(reg)
			}
		}()
	}
	bo := &backoff.Backoff{Min: 2 * time.Second, Max: time.Minute}
	search := true // the gap since the last run
	nextRecheck := time.Now().Add(s.cfg.RecheckInterval)
	for ctx.Err() == nil {
		var err error
		if search {
			err = s.catchUp(ctx, sink)
		}
		if err == nil && !time.Now().Before(nextRecheck) {
			err = s.recheck(ctx, sink)
			if err == nil {
				nextRecheck = time.Now().Add(s.cfg.RecheckInterval)
			}
		}
		if err == nil {
			err = s.save(ctx, sink)
		}
		if ctx.Err() != nil {
			break
		}
		if e := s.cfg.Client.Capped(); e != nil {
			if reg != nil {
				s.cfg.Hub.unregister(reg)
				reg = nil
			}
			return s.capped(ctx, h, e)
		}
		if s.overBudget() {
			if reg != nil {
				s.cfg.Hub.unregister(reg) // its rule goes: no more posts billed
				reg = nil
			}
			return s.pause(ctx, h)
		}
		streaming := s.cfg.Hub != nil && !s.cfg.Hub.Unavailable()
		wait := min(time.Until(nextRecheck), s.cfg.PollInterval)
		if streaming {
			wait = time.Until(nextRecheck)
		}
		if err != nil {
			wait = s.failed(h, bo, err)
		} else {
			bo.Reset()
			s.healthy(h)
		}
		t := time.NewTimer(max(wait, 0))
		search = false
		select {
		case <-ctx.Done():
		case <-t.C:
			search = !streaming || err != nil
		case <-s.pollNow:
			search = true
		}
		t.Stop()
	}
	return nil
}

// failed reports err and returns the wait before the next try.
func (s *Source) failed(h *ingest.Health, bo *backoff.Backoff, err error) time.Duration {
	now := time.Now()
	var ae *APIError
	if errors.As(err, &ae) && ae.RateLimited() {
		wait := time.Until(ae.Reset)
		if ae.Reset.IsZero() || wait <= 0 {
			wait = bo.Next()
		}
		wait += backoff.Jitter(time.Second)
		h.RateLimited(now, fmt.Sprintf("X rate limit on %s: waiting for its reset at %s", ae.Endpoint, now.Add(wait).UTC().Format(time.TimeOnly)), now.Add(wait))
		return wait
	}
	wait := bo.Next()
	if errors.As(err, &ae) && (ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden) {
		wait = backoff.Jitter(10 * time.Minute) // a person must act
	}
	h.Failed(now, err, now.Add(wait))
	s.log.Warn("x request failed", slog.String("err", err.Error()), slog.Duration("retry_in", wait))
	return wait
}

// healthy records a good round, unless X refused the event's rule (which
// stays in the health until the rule is fixed). A stream that is retrying
// by itself reports on the health when it fails (streamState).
func (s *Source) healthy(h *ingest.Health) {
	s.mu.Lock()
	rerr := s.ruleErr
	s.mu.Unlock()
	if rerr != "" {
		h.Failed(time.Now(), errors.New(rerr), time.Time{})
	} else {
		h.Succeeded(time.Now())
	}
	s.rateLimits(h)
	s.detail(h)
}

// streamState is the Hub's report on the connection.
func (s *Source) streamState(connected bool, err error, retryAt time.Time) {
	s.mu.Lock()
	sink := s.sink
	s.mu.Unlock()
	if sink == nil {
		return
	}
	h := sink.Health()
	h.SetStreaming(connected)
	now := time.Now()
	var ae *APIError
	switch {
	case err == nil:
	case errors.As(err, &ae) && ae.UsageCapped:
	case errors.As(err, &ae) && ae.Status == http.StatusTooManyRequests:
		h.RateLimited(now, "stream: "+err.Error(), retryAt)
	default:
		h.Failed(now, fmt.Errorf("stream: %w", err), retryAt)
	}
}

func (s *Source) setRuleErr(msg string) {
	s.mu.Lock()
	s.ruleErr = msg
	sink := s.sink
	s.mu.Unlock()
	if msg != "" && sink != nil {
		sink.Health().Failed(time.Now(), errors.New(msg), time.Time{})
	}
}

// rateLimits copies what X last said of its rate limits into the health
// and the metrics.
func (s *Source) rateLimits(h *ingest.Health) {
	for ep, rl := range s.cfg.Client.Limits() {
		s.m.rateRemaining.WithLabelValues(ep).Set(float64(rl.Remaining))
		if ep == epSearch {
			h.RateLimit(rl.Remaining, rl.Reset)
		}
	}
}

// capped stops the source for good (until a restart) after X's usage cap.
func (s *Source) capped(ctx context.Context, h *ingest.Health, e *APIError) error {
	s.m.usageCapped.Set(1)
	now := time.Now()
	h.Failed(now, fmt.Errorf("%w; not retrying: %w", errCappedWords, e), time.Time{})
	h.SetState(ingest.StateStopped)
	s.detail(h)
	s.log.Error("X usage cap reached: X sources stopped until the operator acts and restarts",
		slog.String("period", e.Problem.Period), slog.String("scope", e.Problem.Scope), slog.String("detail", e.Problem.Detail))
	<-ctx.Done()
	return nil
}

// pause stops the source when the budget is spent.
func (s *Source) pause(ctx context.Context, h *ingest.Health) error {
	s.mu.Lock()
	s.paused = true
	s.mu.Unlock()
	spend := s.spend()
	msg := fmt.Sprintf("X budget of $%.2f reached ($%.2f estimated): paused; raise budget_usd and restart to go on", s.cfg.Budget, spend)
	h.Failed(time.Now(), errors.New(msg), time.Time{})
	h.SetState(ingest.StateStopped)
	s.detail(h)
	s.log.Warn("x source paused: budget reached", slog.Float64("budget_usd", s.cfg.Budget), slog.Float64("spend_usd", spend))
	<-ctx.Done()
	return nil
}

// spend is the estimate so far, in US dollars.
func (s *Source) spend() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return float64(s.posts)*s.cfg.Prices.PostRead + float64(s.users)*s.cfg.Prices.UserRead
}

func (s *Source) overBudget() bool { return s.cfg.Budget > 0 && s.spend() >= s.cfg.Budget }

// Spend returns the posts and users read so far and the estimate in US
// dollars.
func (s *Source) Spend() (posts, users int64, usd float64) {
	usd = s.spend()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.posts, s.users, usd
}

func (s *Source) detail(h *ingest.Health) {
	posts, users, usd := s.Spend()
	d := fmt.Sprintf("spent about $%.2f (%d posts, %d users read)", usd, posts, users)
	if s.cfg.Budget > 0 {
		d += fmt.Sprintf(" of a $%.2f budget", s.cfg.Budget)
	}
	if rl, ok := s.cfg.Client.Limit(epSearch); ok {
		d += fmt.Sprintf("; search rate limit %d/%d left", rl.Remaining, rl.Limit)
	}
	h.SetDetail(d)
}

// charge counts what a response returned against the event.
func (s *Source) charge(pg *page, posts int) {
	users := len(pg.Includes.Users)
	posts += len(pg.Includes.Tweets) + len(pg.Includes.Posts)
	s.mu.Lock()
	s.posts += int64(posts)
	s.users += int64(users)
	s.mu.Unlock()
	s.m.postsRead.WithLabelValues(s.cfg.Slug).Add(float64(posts))
	s.m.usersRead.WithLabelValues(s.cfg.Slug).Add(float64(users))
	s.m.spend.WithLabelValues(s.cfg.Slug).Set(s.spend())
}

// ---- state kept beside the log ----

type spendState struct {
	Posts int64 `json:"posts"`
	Users int64 `json:"users"`
}

func (s *Source) restore(ctx context.Context, sink ingest.Sink) error {
	v, err := sink.Cursor(ctx, curSpend)
	if err != nil {
		return fmt.Errorf("x: read cursor: %w", err)
	}
	var sp spendState
	if v != "" && json.Unmarshal([]byte(v), &sp) != nil {
		s.log.Warn("ignoring unreadable spend cursor")
	}
	pv, err := sink.Cursor(ctx, curPosts)
	if err != nil {
		return fmt.Errorf("x: read cursor: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.posts, s.users = sp.Posts, sp.Users
	s.known, s.order = map[string]string{}, nil
	for e := range strings.SplitSeq(pv, ",") {
		first, ver, ok := strings.Cut(e, ":")
		if ok && first != "" {
			s.known[first] = ver
			s.order = append(s.order, first)
		}
	}
	s.m.spend.WithLabelValues(s.cfg.Slug).Set(float64(s.posts)*s.cfg.Prices.PostRead + float64(s.users)*s.cfg.Prices.UserRead)
	return nil
}

func (s *Source) save(ctx context.Context, sink ingest.Sink) error {
	s.mu.Lock()
	sp, _ := json.Marshal(spendState{Posts: s.posts, Users: s.users})
	var b strings.Builder
	for i, f := range s.order {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(f + ":" + s.known[f])
	}
	s.mu.Unlock()
	if err := sink.SetCursor(ctx, curSpend, string(sp)); err != nil {
		return err
	}
	return sink.SetCursor(ctx, curPosts, b.String())
}

// ---- search ----

// catchUp reads what recent search has since the cursor: the first page's
// newest_id becomes the next cursor once every page is read, and next_token
// is followed with the same since_id (x-api.md, pagination).
func (s *Source) catchUp(ctx context.Context, sink ingest.Sink) error {
	since, err := sink.Cursor(ctx, curSince)
	if err != nil {
		return fmt.Errorf("x: read cursor: %w", err)
	}
	var start time.Time
	if since == "" && !s.cfg.Start.IsZero() {
		start = s.cfg.Start
		if floor := time.Now().Add(-7*24*time.Hour + time.Minute); start.Before(floor) {
			start = floor
		}
	}
	var pages []*page
	newest, tok := "", ""
	for n := 0; n < s.cfg.MaxPages; n++ {
		pg, err := s.cfg.Client.search(ctx, s.query, since, start, tok)
		if err != nil {
			return err
		}
		if n == 0 {
			newest = pg.Meta.NewestID
		}
		pages = append(pages, pg)
		// Without a cursor or a start, the newest page is enough.
		if tok = pg.Meta.NextToken; tok == "" || (since == "" && start.IsZero()) {
			break
		}
	}
	// Pages are newest first: hand them over oldest first.
	for i := len(pages) - 1; i >= 0; i-- {
		if err := s.handle(ctx, sink, pages[i], true); err != nil {
			return err
		}
	}
	if newest != "" && newest != since {
		if err := sink.SetCursor(ctx, curSince, newest); err != nil {
			return fmt.Errorf("x: store cursor: %w", err)
		}
	}
	return nil
}

// deliver is the Hub's hand-off of a stream line for this event.
func (s *Source) deliver(ctx context.Context, pg *page) {
	s.mu.Lock()
	sink, paused := s.sink, s.paused
	s.mu.Unlock()
	if sink == nil || paused {
		return
	}
	if err := s.handle(ctx, sink, pg, false); err != nil {
		s.log.Warn("stream post not stored", slog.String("err", err.Error()))
		return
	}
	if err := s.save(ctx, sink); err != nil {
		s.log.Warn("could not store the x source's state", slog.String("err", err.Error()))
	}
	if s.overBudget() {
		select { // wake Run, which pauses the source
		case s.pollNow <- struct{}{}:
		default:
		}
	}
}

// handle hands a response's posts to the sink, oldest first, and counts
// what it cost. Partial errors are logged and counted, never fatal.
func (s *Source) handle(ctx context.Context, sink ingest.Sink, pg *page, newestFirst bool) error {
	ts, err := pg.posts()
	if err != nil {
		return fmt.Errorf("x: unreadable posts: %w", err)
	}
	s.charge(pg, len(ts))
	for _, p := range pg.Errors {
		s.m.partialErrors.WithLabelValues(p.kind()).Inc()
		s.log.Debug("x partial error", slog.String("type", p.kind()), slog.String("detail", p.words()))
	}
	ix := newIndex(&pg.Includes)
	for i := range ts {
		t := &ts[i]
		if newestFirst {
			t = &ts[len(ts)-1-i]
		}
		if err := s.handleOne(ctx, sink, t, ix); err != nil {
			return err
		}
	}
	return nil
}

func (s *Source) handleOne(ctx context.Context, sink ingest.Sink, t *tweet, ix *index) error {
	o := ix.original(t)
	if o == nil {
		s.log.Debug("retweet of a post X did not include; skipped", slog.String("id", t.ID))
		return nil
	}
	c, ok := convert(o, ix)
	if !ok {
		s.log.Debug("post without a visible author; skipped", slog.String("id", o.ID))
		return nil
	}
	s.mu.Lock()
	seen, had := s.known[c.firstID]
	s.mu.Unlock()
	if had && seen == o.ID {
		return nil // this version is already in the log
	}
	a, err := sink.Post(ctx, c.post)
	if err == nil && a.Duplicate && c.edited {
		_, err = sink.Edit(ctx, c.post)
	}
	if err != nil {
		if event.ErrorCode(err) == event.EINVALID {
			s.log.Warn("post refused by the sink", slog.String("uri", c.post.URI), slog.String("err", err.Error()))
			return nil
		}
		return fmt.Errorf("x: sink: %w", err)
	}
	s.remember(c.firstID, o.ID)
	return nil
}

func (s *Source) remember(first, version string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.known[first]; !ok {
		s.order = append(s.order, first)
	}
	s.known[first] = version
	if len(s.order) > maxKnown {
		for _, f := range s.order[:len(s.order)-maxKnown] {
			delete(s.known, f)
		}
		s.order = append([]string(nil), s.order[len(s.order)-maxKnown:]...)
	}
}

func (s *Source) forget(first string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.known, first)
	for i, f := range s.order {
		if f == first {
			s.order = append(s.order[:i], s.order[i+1:]...)
			break
		}
	}
}

// ---- deletes and edits ----

// recheck looks the posts on the wall up again, 100 per request, newest
// first, at most RecheckMax: what X no longer returns (deleted, protected,
// suspended) is taken down; a newer version is an edit.
func (s *Source) recheck(ctx context.Context, sink ingest.Sink) error {
	s.mu.Lock()
	ids := make([]string, 0, len(s.order))
	for i := len(s.order) - 1; i >= 0 && len(ids) < s.cfg.RecheckMax; i-- {
		f := s.order[i]
		if s.cfg.OnWall == nil || s.cfg.OnWall(PostURI(f)) {
			ids = append(ids, f)
		}
	}
	s.mu.Unlock()
	sort.Strings(ids)
	for len(ids) > 0 {
		batch := ids[:min(100, len(ids))]
		ids = ids[len(batch):]
		pg, err := s.cfg.Client.lookup(ctx, batch)
		if err != nil {
			return err
		}
		asked := map[string]bool{}
		for _, id := range batch {
			asked[id] = true
		}
		for _, p := range pg.Errors {
			if !p.gone() || p.Section == "includes" || !asked[p.ResourceID] ||
				(p.Parameter != "" && p.Parameter != "ids") {
				continue
			}
			if _, err := sink.Delete(ctx, PostURI(p.ResourceID)); err != nil {
				return fmt.Errorf("x: sink delete: %w", err)
			}
			s.forget(p.ResourceID)
			s.log.Info("post gone from X; taken down", slog.String("id", p.ResourceID), slog.String("why", p.kind()))
		}
		if err := s.handle(ctx, sink, pg, false); err != nil {
			return err
		}
	}
	return nil
}
