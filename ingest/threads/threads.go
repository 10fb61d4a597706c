// Package threads follows an event's hashtags on Threads (Meta) through its
// keyword search, polled with a Threads user token within the token's daily
// query allowance, and hands each post to an ingest.Sink.
//
// Meta allows 2,200 keyword-search queries per user per rolling 24 hours,
// across all apps. The source asks once per hashtag per poll and spaces its
// polls so a day of them uses at most 90% of the allowance it is given:
// interval = 24h × tags / (0.9 × DailyQueries). A rate-limit answer (HTTP
// 429, or Graph error code 4, 17, 32 or 613) pauses it until the next window.
//
// Results carry @username but no display name and no avatar (Meta leaves the
// owner out of search results), so cards show the @username only. Keywords
// Meta deems sensitive return an empty list, which looks like a quiet tag.
// See docs/SOURCES-X.md, "Threads".
package threads

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/ingest"
	"github.com/backchannel/backchannel/ingest/sanitize"
	"github.com/backchannel/backchannel/internal/backoff"
)

// Kind is the source kind, and Post.Source of what it finds.
const Kind = "threads"

// Search modes (Meta's search_mode).
const (
	ModeTag     = "tag"     // topic tags: one per post, chosen in the app
	ModeKeyword = "keyword" // words in the text, "#tag" included
)

// Defaults of Config's zero fields.
const (
	DefaultBaseURL      = "https://graph.threads.net"
	DefaultDailyQueries = 2200
	// Margin is the share of the allowance the polls plan to use.
	Margin = 0.9
	// DefaultRateLimitWait is the first pause after a rate-limit answer;
	// repeated answers double it up to a day.
	DefaultRateLimitWait = time.Hour
	day                  = 24 * time.Hour
)

// Fields asked of every result: what Meta documents for keyword search,
// without reposted_post (reposts are not wanted on a wall).
const Fields = "id,text,media_type,media_url,permalink,timestamp,username,alt_text,topic_tag,is_quote_post"

// Config configures one event's Threads source.
type Config struct {
	// Tags are the event's hashtags, without '#'; one query each per poll.
	Tags []string
	// Token is the Threads user access token (threads_basic and
	// threads_keyword_search).
	Token string
	// Mode is ModeTag (default) or ModeKeyword.
	Mode string
	// DailyQueries is the token's allowance per rolling 24 h given to this
	// source; default DefaultDailyQueries. A token shared by several
	// events' sources should have it split between them.
	DailyQueries int
	// Start is the earliest post wanted (the event's start minus its
	// lead-in); zero asks for whatever Meta calls recent.
	Start time.Time
	// BaseURL defaults to DefaultBaseURL (tests point it at a local server).
	BaseURL string
	// HTTPClient defaults to a client with a 30 s timeout.
	HTTPClient *http.Client
	// Interval replaces the interval computed from the allowance (tests).
	Interval time.Duration
	// RateLimitWait defaults to DefaultRateLimitWait.
	RateLimitWait time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Source is one event's Threads source. Create it with New.
type Source struct {
	cfg      Config
	tags     []string
	interval time.Duration
	log      *slog.Logger
	m        *metrics

	mu    sync.Mutex
	since time.Time // the newest post's time seen, asked from on the next poll
}

// Interval is the pause between polls that keeps tags queries per poll
// within Margin of daily queries a day.
func Interval(tags, daily int) time.Duration {
	if tags <= 0 || daily <= 0 {
		return day
	}
	return time.Duration(float64(day) * float64(tags) / (Margin * float64(daily)))
}

// New checks cfg and returns the source; it does no I/O.
func New(cfg Config) (*Source, error) {
	if cfg.Token == "" {
		return nil, event.Errorf(event.EINVALID, "threads: a user access token is required")
	}
	var tags []string
	for _, t := range cfg.Tags {
		if t = strings.TrimPrefix(strings.TrimSpace(t), "#"); t != "" {
			tags = append(tags, t)
		}
	}
	if len(tags) == 0 {
		return nil, event.Errorf(event.EINVALID, "threads: at least one hashtag is required")
	}
	switch cfg.Mode {
	case "":
		cfg.Mode = ModeTag
	case ModeTag, ModeKeyword:
	default:
		return nil, event.Errorf(event.EINVALID, "threads: mode must be %s or %s, not %q", ModeTag, ModeKeyword, cfg.Mode)
	}
	if cfg.DailyQueries < 0 {
		return nil, event.Errorf(event.EINVALID, "threads: daily_queries must not be negative")
	}
	if cfg.DailyQueries == 0 {
		cfg.DailyQueries = DefaultDailyQueries
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.RateLimitWait <= 0 {
		cfg.RateLimitWait = DefaultRateLimitWait
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	iv := cfg.Interval
	if iv <= 0 {
		iv = Interval(len(tags), cfg.DailyQueries)
	}
	return &Source{cfg: cfg, tags: tags, interval: iv, since: cfg.Start, m: newMetrics(),
		log: cfg.Logger.With(slog.String("source", Kind))}, nil
}

// Name is "threads".
func (s *Source) Name() string { return Kind }

// Kind is "threads".
func (s *Source) Kind() string { return Kind }

// PollInterval is the pause between polls.
func (s *Source) PollInterval() time.Duration { return s.interval }

// RegisterMetrics implements ingest.MetricsSource.
func (s *Source) RegisterMetrics(reg prometheus.Registerer) error {
	if err := s.m.register(reg); err != nil {
		return err
	}
	s.m.interval.Set(s.interval.Seconds())
	return nil
}

const curSince = "since"

// Run polls until ctx is done.
func (s *Source) Run(ctx context.Context, sink ingest.Sink) error {
	h := sink.Health()
	if v, err := sink.Cursor(ctx, curSince); err == nil && v != "" {
		if sec, err := strconv.ParseInt(v, 10, 64); err == nil {
			s.mu.Lock()
			s.since = time.Unix(sec, 0)
			s.mu.Unlock()
		}
	}
	h.SetDetail(s.detail())
	bo := &backoff.Backoff{Min: 5 * time.Second, Max: s.interval * 4}
	rl := &backoff.Backoff{Min: s.cfg.RateLimitWait, Max: day}
	for ctx.Err() == nil {
		err := s.poll(ctx, sink)
		if ctx.Err() != nil {
			break
		}
		wait := s.interval
		now := time.Now()
		var ae *APIError
		switch {
		case err == nil:
			bo.Reset()
			rl.Reset()
			h.Succeeded(now)
		case errors.As(err, &ae) && ae.RateLimited():
			wait = max(rl.Next(), s.interval)
			h.RateLimited(now, fmt.Sprintf("Threads query allowance used up (%s): waiting until %s, the next window", ae.Error(), now.Add(wait).UTC().Format(time.DateTime)), now.Add(wait))
			s.log.Warn("threads rate limited", slog.String("err", err.Error()), slog.Duration("retry_in", wait))
		case errors.As(err, &ae) && ae.AuthFailed():
			wait = backoff.Jitter(10 * time.Minute) // a person must act
			h.Failed(now, fmt.Errorf("%w (renew the Threads token, or check threads_keyword_search is approved)", err), now.Add(wait))
			s.log.Warn("threads token refused", slog.String("err", err.Error()))
		default:
			wait = max(bo.Next(), min(s.interval, time.Minute))
			h.Failed(now, err, now.Add(wait))
			s.log.Warn("threads poll failed", slog.String("err", err.Error()), slog.Duration("retry_in", wait))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	return nil
}

func (s *Source) detail() string {
	return fmt.Sprintf("%s search for %d tag(s) every %s, planned within %.0f%% of %d queries a day; results carry no display name or avatar",
		s.cfg.Mode, len(s.tags), s.interval.Round(time.Second), Margin*100, s.cfg.DailyQueries)
}

// poll asks once per tag and hands over what comes back.
func (s *Source) poll(ctx context.Context, sink ingest.Sink) error {
	s.mu.Lock()
	since := s.since
	s.mu.Unlock()
	newest := since
	for _, tag := range s.tags {
		posts, err := s.search(ctx, tag, since)
		if err != nil {
			return err
		}
		for _, m := range posts {
			p, ok := convert(m)
			if !ok {
				s.m.skipped.Inc()
				continue
			}
			if _, err := sink.Post(ctx, p); err != nil {
				return fmt.Errorf("threads: handing over %s: %w", p.URL, err)
			}
			if p.CreatedAt.After(newest) {
				newest = p.CreatedAt
			}
		}
	}
	if newest.After(since) {
		s.mu.Lock()
		s.since = newest
		s.mu.Unlock()
		// since is in whole seconds and may be inclusive or not (x-api.md,
		// Uncertain 9): ask from the newest second again; the sink drops
		// what it already has.
		if err := sink.SetCursor(ctx, curSince, strconv.FormatInt(newest.Unix(), 10)); err != nil {
			return err
		}
	}
	return nil
}

// media is one result of keyword search, in Meta's documented fields.
type media struct {
	ID          string `json:"id"`
	Text        string `json:"text"`
	MediaType   string `json:"media_type"`
	MediaURL    string `json:"media_url"`
	Permalink   string `json:"permalink"`
	Timestamp   string `json:"timestamp"`
	Username    string `json:"username"`
	AltText     string `json:"alt_text"`
	TopicTag    string `json:"topic_tag"`
	IsQuotePost bool   `json:"is_quote_post"`
}

type searchPage struct {
	Data []media `json:"data"`
}

// APIError is a refused request, with Meta's Graph error if it sent one.
type APIError struct {
	Status  int
	Code    int    `json:"code"`
	Subcode int    `json:"error_subcode"`
	Type    string `json:"type"`
	Message string `json:"message"`
}

func (e *APIError) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("threads: HTTP %d, error %d: %s", e.Status, e.Code, e.Message)
	}
	return fmt.Sprintf("threads: HTTP %d", e.Status)
}

// RateLimited reports a 429 or one of Graph's rate-limit codes (4 app,
// 17 user, 32 page, 613 calls within a time).
func (e *APIError) RateLimited() bool {
	switch e.Code {
	case 4, 17, 32, 613:
		return true
	}
	return e.Status == http.StatusTooManyRequests
}

// AuthFailed reports a refused or expired token (Graph code 190, or 10 and
// 200-299 for a missing permission).
func (e *APIError) AuthFailed() bool {
	return e.Code == 190 || e.Code == 10 || (e.Code >= 200 && e.Code < 300) ||
		e.Status == http.StatusUnauthorized
}

func (s *Source) search(ctx context.Context, tag string, since time.Time) ([]media, error) {
	q := url.Values{}
	if s.cfg.Mode == ModeKeyword {
		q.Set("q", "#"+tag)
		q.Set("search_mode", "KEYWORD")
	} else {
		q.Set("q", tag)
		q.Set("search_mode", "TAG")
	}
	q.Set("search_type", "RECENT")
	q.Set("fields", Fields)
	if !since.IsZero() {
		q.Set("since", strconv.FormatInt(since.Unix(), 10))
	}
	q.Set("access_token", s.cfg.Token)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.cfg.BaseURL+"/v1.0/keyword_search?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		s.m.queries.WithLabelValues("error").Inc()
		// The URL holds the token: say what failed without it.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("threads: keyword search for %q: %w", tag, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		s.m.queries.WithLabelValues("error").Inc()
		return nil, fmt.Errorf("threads: keyword search for %q: %w", tag, err)
	}
	var env struct {
		Error *APIError `json:"error"`
	}
	_ = json.Unmarshal(body, &env)
	if resp.StatusCode != http.StatusOK || env.Error != nil {
		e := env.Error
		if e == nil {
			e = &APIError{}
		}
		e.Status = resp.StatusCode
		if e.RateLimited() {
			s.m.queries.WithLabelValues("rate_limited").Inc()
		} else {
			s.m.queries.WithLabelValues("error").Inc()
		}
		return nil, e
	}
	var page searchPage
	if err := json.Unmarshal(body, &page); err != nil {
		s.m.queries.WithLabelValues("error").Inc()
		return nil, fmt.Errorf("threads: keyword search for %q: unreadable answer: %w", tag, err)
	}
	if len(page.Data) == 0 {
		s.m.queries.WithLabelValues("empty").Inc()
	} else {
		s.m.queries.WithLabelValues("ok").Inc()
	}
	return page.Data, nil
}

var hashtag = regexp.MustCompile(`(?:^|[^\p{L}\p{N}_&])#([\p{L}\p{N}_]+)`)

// PostURI is the de-duplication key of the Threads media with this id.
func PostURI(id string) string { return "threads:media:" + id }

// convert makes m a Post; false when it lacks what a card needs.
func convert(m media) (event.Post, bool) {
	if m.ID == "" || m.Username == "" {
		return event.Post{}, false
	}
	created, err := time.Parse("2006-01-02T15:04:05-0700", m.Timestamp)
	if err != nil {
		if created, err = time.Parse(time.RFC3339, m.Timestamp); err != nil {
			return event.Post{}, false
		}
	}
	user := sanitize.Line(m.Username)
	p := event.Post{
		URI:    PostURI(m.ID),
		Source: Kind,
		// No display name, no avatar: search results do not carry them.
		Author: event.Author{ID: "threads:" + user, Handle: "@" + user,
			URL: "https://www.threads.net/@" + url.PathEscape(user)},
		CreatedAt: created.UTC(),
	}
	if u, err := url.Parse(m.Permalink); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
		p.URL = m.Permalink
	}
	p.ID = event.PostID(p.URI)
	p.HTML, p.Text = sanitize.Plain(m.Text)
	seen := map[string]bool{}
	addTag := func(t string) {
		if t = sanitize.Line(strings.TrimPrefix(t, "#")); t != "" && !seen[strings.ToLower(t)] {
			seen[strings.ToLower(t)] = true
			p.Tags = append(p.Tags, t)
		}
	}
	addTag(m.TopicTag)
	for _, g := range hashtag.FindAllStringSubmatch(m.Text, -1) {
		addTag(g[1])
	}
	if u, err := url.Parse(m.MediaURL); err == nil && u.Scheme == "https" && u.Host != "" {
		kind := "unknown"
		switch m.MediaType {
		case "IMAGE":
			kind = "image"
		case "VIDEO":
			kind = "video"
		}
		p.Media = append(p.Media, event.Media{Kind: kind, URL: m.MediaURL, Alt: sanitize.Line(m.AltText)})
	}
	return p, true
}

type metrics struct {
	queries  *prometheus.CounterVec
	skipped  prometheus.Counter
	interval prometheus.Gauge
}

func newMetrics() *metrics {
	return &metrics{
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "backchannel_threads_queries_total",
			Help: "Threads keyword-search queries, by result: ok, empty (not counted by Meta), rate_limited, error."}, []string{"result"}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{Name: "backchannel_threads_results_skipped_total",
			Help: "Threads search results without an id, username or readable timestamp."}),
		interval: prometheus.NewGauge(prometheus.GaugeOpts{Name: "backchannel_threads_poll_interval_seconds",
			Help: "Seconds between polls, from the tags and the daily query allowance."}),
	}
}

// register registers the series with reg, or adopts the ones already there
// (several events' sources share them).
func (m *metrics) register(reg prometheus.Registerer) error {
	var errs []error
	adopt := func(c prometheus.Collector) prometheus.Collector {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return are.ExistingCollector
			}
			errs = append(errs, err)
		}
		return c
	}
	m.queries = adopt(m.queries).(*prometheus.CounterVec)
	m.skipped = adopt(m.skipped).(prometheus.Counter)
	m.interval = adopt(m.interval).(prometheus.Gauge)
	return errors.Join(errs...)
}
