// Package bluesky follows an event's hashtags on Bluesky through Jetstream,
// the websocket stream of the network's records as JSON.
//
// Jetstream carries every post on the network, so the source filters on the
// raw bytes before decoding (see Matcher), matches tags exactly on tag
// facets, the record's tags field and, for posts without tag facets, on
// "#tag" in the text. It keeps the stream's cursor (time_us) beside the log
// and resumes from it minus a margin after a restart; the log's idempotent
// append makes the replayed margin harmless.
package bluesky

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
	"github.com/backchannel/backchannel/ingest"
	"github.com/backchannel/backchannel/internal/backoff"
)

// Config configures one Bluesky source.
type Config struct {
	// Name is the source's name within the event; default "bluesky".
	Name string
	// Hosts are Jetstream endpoints tried in turn, e.g.
	// "wss://jetstream1.us-east.bsky.network" (with or without /subscribe).
	Hosts []string
	// Tags are the event's hashtags, with or without '#'.
	Tags []string
	// AppView is the base URL profiles are looked up at; default
	// https://public.api.bsky.app. (Back-fill searches at Backfill.Service.)
	AppView string
	// CDN is the base URL of the image CDN; default https://cdn.bsky.app.
	CDN string
	// Web is the base URL of the web app, for links; default https://bsky.app.
	Web string
	// ReplayMargin is subtracted from the stored cursor on reconnect, so
	// events Jetstream had not flushed are not skipped; default 10s.
	ReplayMargin time.Duration
	// CursorEvery is how often the cursor is stored; default 5s.
	CursorEvery time.Duration
	// ReadTimeout: no frame for this long means a dead connection (the
	// network never goes quiet that long); default 60s.
	ReadTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between reconnects; defaults 1s and 1m
	// (short, so the wall fills again soon after a venue's network returns).
	MinBackoff, MaxBackoff time.Duration
	// ProbeEvery: while waiting to reconnect after Jetstream stopped
	// answering, the next host is probed (a TCP connect) about this often,
	// and reconnected to as soon as it answers; default 1.5s.
	ProbeEvery time.Duration
	// ProbeTimeout bounds one probe; default 1s.
	ProbeTimeout time.Duration
	// ProfileWorkers look authors' profiles up beside the stream, never in
	// its way; default 4.
	ProfileWorkers int
	// ProfileQueue bounds the lookups waiting for a worker; default 256.
	ProfileQueue int
	// ProfileTimeout bounds one profile lookup; default 3s.
	ProfileTimeout time.Duration
	// ProfileRetryAfter: a failed lookup for an author is not tried again
	// for this long; default 2m.
	ProfileRetryAfter time.Duration
	// Backfill, when set, searches posts before the stream's replay window.
	Backfill *BackfillConfig
	// HTTPClient is used for profiles and search; default a client with a 10s timeout.
	HTTPClient *http.Client
	// Dialer dials Jetstream; default a dialer with a 10s handshake timeout.
	Dialer *websocket.Dialer
	// Now is the clock; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Stats counts what the filter did, for metrics and benchmarks.
type Stats struct {
	Frames   atomic.Int64 // every frame read and handled
	Decoded  atomic.Int64 // frames that passed the byte pre-filter and were decoded
	Matched  atomic.Int64 // posts that carried a tag
	Deletes  atomic.Int64 // deletes of posts this source appended
	Connects atomic.Int64 // successful connections
	// Withdrawals counts posts of this source edited to drop the event's tags.
	Withdrawals atomic.Int64
	// ProfileLookups, ProfileFailures: getProfile calls made, and failed.
	ProfileLookups, ProfileFailures atomic.Int64
	// ProfileDropped: lookups not queued because the queue was full.
	ProfileDropped atomic.Int64
	// Fills: posts named by an edit once their author's profile arrived;
	// FillsDropped: posts left as the stream named them (too many waiting).
	Fills, FillsDropped atomic.Int64
	// Probes, ProbeFailures: probes of Jetstream while waiting to reconnect;
	// EarlyReconnects: waits cut short because it answered again.
	Probes, ProbeFailures, EarlyReconnects atomic.Int64
}

// Source is a Bluesky source. It implements ingest.Source.
type Source struct {
	cfg      Config
	matcher  *Matcher
	conv     converter
	profiles *profiles
	log      *slog.Logger
	// Stats is updated as the source runs.
	Stats Stats

	known *knownPosts

	// appendMu is held for every append of a post's version, by the reader
	// and by the profile workers (see fill.go).
	appendMu sync.Mutex
	waiting  map[string]map[string]waitingPost // DID -> URI -> version without the author's name
}

// New checks cfg and returns a source.
func New(cfg Config) (*Source, error) {
	if len(cfg.Hosts) == 0 {
		return nil, errors.New("bluesky: at least one Jetstream host is required")
	}
	for _, h := range cfg.Hosts {
		u, err := url.Parse(h)
		if err != nil || (u.Scheme != "wss" && u.Scheme != "ws") || u.Host == "" {
			return nil, fmt.Errorf("bluesky: host %q: want a ws:// or wss:// URL", h)
		}
	}
	m := NewMatcher(cfg.Tags)
	if len(m.tags) == 0 {
		return nil, errors.New("bluesky: at least one tag is required")
	}
	if cfg.Name == "" {
		cfg.Name = "bluesky"
	}
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
		*s = strings.TrimRight(*s, "/")
	}
	def(&cfg.AppView, "https://public.api.bsky.app")
	if u, err := url.Parse(cfg.AppView); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("bluesky: appview %q: want an http:// or https:// URL", cfg.AppView)
	}
	if b := cfg.Backfill; b != nil && b.Service != "" {
		if u, err := url.Parse(b.Service); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("bluesky: search host %q: want an http:// or https:// URL", b.Service)
		}
	}
	def(&cfg.CDN, "https://cdn.bsky.app")
	def(&cfg.Web, "https://bsky.app")
	defd := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	defd(&cfg.ReplayMargin, 10*time.Second)
	defd(&cfg.CursorEvery, 5*time.Second)
	defd(&cfg.ReadTimeout, 60*time.Second)
	defd(&cfg.MinBackoff, time.Second)
	defd(&cfg.MaxBackoff, time.Minute)
	defd(&cfg.ProbeEvery, 1500*time.Millisecond)
	defd(&cfg.ProbeTimeout, time.Second)
	defd(&cfg.ProfileTimeout, 3*time.Second)
	defd(&cfg.ProfileRetryAfter, 2*time.Minute)
	if cfg.ProfileWorkers <= 0 {
		cfg.ProfileWorkers = 4
	}
	if cfg.ProfileQueue <= 0 {
		cfg.ProfileQueue = 256
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Dialer == nil {
		cfg.Dialer = &websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 64 << 10}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Source{
		cfg:     cfg,
		matcher: m,
		conv:    converter{source: cfg.Name, cdn: cfg.CDN, web: cfg.Web},
		log:     cfg.Logger.With(slog.String("source", cfg.Name)),
		known:   newKnownPosts(5000),
		waiting: map[string]map[string]waitingPost{},
	}
	s.profiles = newProfiles(cfg.AppView, cfg.HTTPClient, cfg.ProfileTimeout, cfg.ProfileRetryAfter, cfg.ProfileQueue, cfg.Now, s.log, &s.Stats)
	return s, nil
}

// Name implements ingest.Source.
func (s *Source) Name() string { return s.cfg.Name }

// Kind implements ingest.Source.
func (s *Source) Kind() string { return "bluesky" }

// Cursor keys beside the log.
const (
	cursorKey = "time_us"
	knownKey  = "known"
)

// Run implements ingest.Source: it follows Jetstream until ctx is done,
// failing over between the configured hosts.
func (s *Source) Run(ctx context.Context, sink ingest.Sink) error {
	h := sink.Health()
	cur, err := s.loadState(ctx, sink)
	if err != nil {
		return err
	}
	// Profiles are looked up beside the stream, never in its way.
	workers, stopWorkers := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stopWorkers(); wg.Wait() }()
	for range s.cfg.ProfileWorkers {
		wg.Go(func() { s.profiles.work(workers, func(p Profile) { s.fill(workers, sink, p) }) })
	}
	if s.cfg.Backfill != nil {
		cur = s.backfill(ctx, sink, cur)
	}
	bo := backoff.Backoff{Min: s.cfg.MinBackoff, Max: s.cfg.MaxBackoff}
	earlyFailed := false // the last wait was cut short by a probe, and the attempt after it failed
	for host := 0; ctx.Err() == nil; host = (host + 1) % len(s.cfg.Hosts) {
		started := s.cfg.Now()
		n, err := s.follow(ctx, sink, s.cfg.Hosts[host], &cur)
		h.SetStreaming(false)
		if ctx.Err() != nil {
			break
		}
		if n > 0 {
			earlyFailed = false
			if s.cfg.Now().Sub(started) > s.cfg.MinBackoff {
				bo.Reset() // it worked for a while: start over
			}
		}
		wait := bo.Next()
		retry := s.cfg.Now().Add(wait)
		if err == nil {
			err = errors.New("connection closed")
		}
		next := s.cfg.Hosts[(host+1)%len(s.cfg.Hosts)]
		h.Failed(s.cfg.Now(), fmt.Errorf("%s: %w", s.cfg.Hosts[host], err), retry)
		s.log.Warn("jetstream connection lost; failing over",
			slog.String("host", s.cfg.Hosts[host]), slog.String("next", next),
			slog.Any("err", err), slog.Duration("retry_in", wait))
		// While waiting, probe the next host: once it answers again after
		// it did not, reconnect at once rather than sleep out a wait that
		// grew while it was down. An attempt that got no answer at all
		// counts as "did not", unless the last early reconnect failed too
		// (a balancer that accepts and drops): then a failed probe must be
		// seen first, so a host that stays broken keeps its backoff.
		var de *dialError
		down := errors.As(err, &de) && !de.answered && !earlyFailed
		ok, early := backoff.SleepProbing(ctx, wait, s.prober(next), down)
		if !ok {
			break
		}
		if early {
			s.Stats.EarlyReconnects.Add(1)
			s.log.Info("jetstream answers again; reconnecting before the backoff ends", slog.String("host", next))
		}
		earlyFailed = early
	}
	s.saveCursor(context.WithoutCancel(ctx), sink, cur)
	return nil
}

func (s *Source) loadState(ctx context.Context, sink ingest.Sink) (cursor int64, err error) {
	v, err := sink.Cursor(ctx, cursorKey)
	if err != nil {
		return 0, fmt.Errorf("bluesky: read cursor: %w", err)
	}
	if v != "" {
		if cursor, err = strconv.ParseInt(v, 10, 64); err != nil {
			s.log.Warn("ignoring unreadable cursor", slog.String("cursor", v))
			cursor = 0
		}
	}
	k, err := sink.Cursor(ctx, knownKey)
	if err != nil {
		return 0, fmt.Errorf("bluesky: read known posts: %w", err)
	}
	s.known.load(k)
	return cursor, nil
}

func (s *Source) saveCursor(ctx context.Context, sink ingest.Sink, cur int64) {
	if cur == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := sink.SetCursor(ctx, cursorKey, strconv.FormatInt(cur, 10)); err != nil {
		s.log.Warn("could not store cursor", slog.Any("err", err))
	}
}

// prober probes host with a TCP connect.
func (s *Source) prober(host string) backoff.Prober {
	return backoff.Prober{
		Every: s.cfg.ProbeEvery, Timeout: s.cfg.ProbeTimeout, Probe: backoff.DialProbe(host),
		OnProbe: func(err error) {
			s.Stats.Probes.Add(1)
			if err != nil {
				s.Stats.ProbeFailures.Add(1)
			}
		},
	}
}

// dialError is a failed connection attempt; answered is set when the host
// answered (an HTTP status) rather than not at all.
type dialError struct {
	err      error
	answered bool
}

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// subscribeURL is host's subscribe endpoint for posts, from cursor (µs).
func (s *Source) subscribeURL(host string, cursor int64) string {
	u, _ := url.Parse(host) // checked in New
	if !strings.HasSuffix(u.Path, "/subscribe") {
		u.Path = strings.TrimRight(u.Path, "/") + "/subscribe"
	}
	q := u.Query()
	q.Set("wantedCollections", Collection)
	if cursor > 0 {
		q.Set("cursor", strconv.FormatInt(cursor-s.cfg.ReplayMargin.Microseconds(), 10))
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// follow reads one connection until it fails or ctx is done; it returns the
// number of frames read.
func (s *Source) follow(ctx context.Context, sink ingest.Sink, host string, cur *int64) (int, error) {
	h := sink.Health()
	target := s.subscribeURL(host, *cur)
	conn, resp, err := s.cfg.Dialer.DialContext(ctx, target, nil)
	if err != nil {
		if resp != nil {
			return 0, &dialError{err: fmt.Errorf("dial: %w (HTTP %s)", err, resp.Status), answered: true}
		}
		return 0, &dialError{err: fmt.Errorf("dial: %w", err)}
	}
	defer conn.Close()
	conn.SetReadLimit(2 << 20)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	s.Stats.Connects.Add(1)
	h.Succeeded(s.cfg.Now())
	h.SetStreaming(true)
	s.log.Info("jetstream connected", slog.String("host", host), slog.Int64("cursor", *cur))

	n := 0
	lastSave := s.cfg.Now()
	saved := *cur
	for {
		conn.SetReadDeadline(time.Now().Add(s.cfg.ReadTimeout))
		_, data, err := conn.ReadMessage()
		if err != nil {
			if *cur != saved {
				s.saveCursor(context.WithoutCancel(ctx), sink, *cur)
			}
			return n, err
		}
		n++
		if t := frameTime(data); t > *cur {
			*cur = t
		}
		if err := s.handle(ctx, sink, data); err != nil {
			if ctx.Err() != nil {
				return n, ctx.Err()
			}
			// The log refused: do not move the cursor past what was lost.
			return n, err
		}
		if now := s.cfg.Now(); now.Sub(lastSave) >= s.cfg.CursorEvery {
			s.saveCursor(ctx, sink, *cur)
			lastSave, saved = now, *cur
			h.Succeeded(now)
		}
	}
}

// frameTime reads time_us from a frame without decoding it (0 if absent).
func frameTime(data []byte) int64 {
	i := bytes.Index(data, []byte(`"time_us":`))
	if i < 0 {
		return 0
	}
	var t int64
	for _, c := range data[i+len(`"time_us":`):] {
		if c < '0' || c > '9' {
			break
		}
		t = t*10 + int64(c-'0')
	}
	return t
}

// frameDid reads the top-level did from a frame without decoding it or
// allocating.
func frameDid(data []byte) []byte {
	i := bytes.Index(data, []byte(`"did":"`))
	if i < 0 {
		return nil
	}
	rest := data[i+len(`"did":"`):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return nil
	}
	return rest[:j]
}

// handle processes one frame. It returns an error only when the log could
// not take what the frame asked for.
func (s *Source) handle(ctx context.Context, sink ingest.Sink, data []byte) error {
	// Counted when done, so a frame counted has reached the sink.
	defer s.Stats.Frames.Add(1)
	if !s.matcher.MaybeMatches(data) && !s.known.hasDid(frameDid(data)) && !isIdentity(data) {
		return nil
	}
	s.Stats.Decoded.Add(1)
	var f frame
	if err := json.Unmarshal(data, &f); err != nil {
		s.log.Debug("undecodable frame skipped", slog.Any("err", err))
		return nil
	}
	switch {
	case f.Kind == "commit" && f.Commit != nil && f.Commit.Collection == Collection:
		return s.commit(ctx, sink, &f)
	case f.Kind == "identity" && f.Identity != nil:
		// The handle is the author's name until the profile arrives, and
		// replaces the one a cached profile holds.
		s.profiles.setHandle(f.Did, f.Identity.Handle)
	case f.Kind == "account" && f.Account != nil && !f.Account.Active:
		switch f.Account.Status {
		case "deleted", "takendown", "suspended":
			// The author's posts are gone from the network: take them off the screens too.
			for _, uri := range s.known.byDid(f.Did) {
				if err := s.delete(ctx, sink, uri); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (s *Source) commit(ctx context.Context, sink ingest.Sink, f *frame) error {
	uri := PostURI(f.Did, f.Commit.Rkey)
	switch f.Commit.Operation {
	case "delete":
		if s.known.has(uri) {
			return s.delete(ctx, sink, uri)
		}
		return nil
	case "create", "update":
	default:
		return nil
	}
	var rec postRecord
	if err := json.Unmarshal(f.Commit.Record, &rec); err != nil {
		return nil
	}
	update := f.Commit.Operation == "update" && s.known.has(uri)
	if _, ok := s.matcher.Matches(rec.facetTags(), rec.Tags, rec.Text); !ok {
		if update {
			// Edited to drop the event's tags: no longer a post for it.
			return s.withdraw(ctx, sink, f, &rec)
		}
		return nil
	}
	s.Stats.Matched.Add(1)
	seen := time.UnixMicro(f.TimeUS).UTC()
	// Post with what is known now; a missing profile is looked up beside
	// the stream and fills the author in later (fill.go).
	// The cache is read under appendMu: a worker stores a profile before
	// it takes the lock to fill in, so a post appended nameless here is
	// always among those it fills.
	s.appendMu.Lock()
	defer s.appendMu.Unlock()
	prof, known, fresh := s.profiles.cached(f.Did)
	if !fresh {
		s.profiles.request(f.Did)
	}
	p := s.conv.post(f.Did, f.Commit.Rkey, &rec, prof)
	// The sink counts what it appends on the source's health.
	var res eventlog.Appended
	var err error
	if update {
		p.EditedAt = seen
		if res, err = sink.Edit(ctx, p); err != nil {
			return fmt.Errorf("append edit %s: %w", uri, err)
		}
	} else if res, err = sink.Post(ctx, p); err != nil {
		return fmt.Errorf("append %s: %w", uri, err)
	}
	switch {
	case res.Duplicate:
		// The log had this version: nothing was appended, nothing to name.
	case known:
		s.unwait(f.Did, uri) // this version names the author
	default:
		s.wait(p, seen)
	}
	if s.known.add(uri, f.Did) {
		if err := sink.SetCursor(ctx, knownKey, s.known.dump()); err != nil {
			s.log.Warn("could not store known posts", slog.Any("err", err))
		}
	}
	return nil
}

// withdraw takes a post of this source that its author edited to drop the
// event's tags off every public surface; moderators see why.
func (s *Source) withdraw(ctx context.Context, sink ingest.Sink, f *frame, rec *postRecord) error {
	prof, _, _ := s.profiles.cached(f.Did)
	p := s.conv.post(f.Did, f.Commit.Rkey, rec, prof)
	p.EditedAt = time.UnixMicro(f.TimeUS).UTC()
	s.appendMu.Lock()
	defer s.appendMu.Unlock()
	s.unwait(f.Did, p.URI)
	if _, err := sink.Withdraw(ctx, p, s.matcher.removedReason()); err != nil {
		return fmt.Errorf("append withdrawal %s: %w", p.URI, err)
	}
	s.Stats.Withdrawals.Add(1)
	s.log.Info("post edited to drop the event's tags; taken off the screens", slog.String("uri", p.URI))
	// It stays known: a delete, or an edit that puts the tag back, still
	// reaches the log.
	return nil
}

func (s *Source) delete(ctx context.Context, sink ingest.Sink, uri string) error {
	s.appendMu.Lock()
	if did, _, ok := splitPostURI(uri); ok {
		s.unwait(did, uri)
	}
	s.appendMu.Unlock()
	if _, err := sink.Delete(ctx, uri); err != nil {
		return fmt.Errorf("append delete %s: %w", uri, err)
	}
	s.Stats.Deletes.Add(1)
	s.known.remove(uri)
	if err := sink.SetCursor(ctx, knownKey, s.known.dump()); err != nil {
		s.log.Warn("could not store known posts", slog.Any("err", err))
	}
	return nil
}

// isIdentity reports whether frame is an identity frame, looking only at
// its start (Jetstream writes did, time_us and kind first).
func isIdentity(frame []byte) bool {
	return bytes.Contains(frame[:min(len(frame), 160)], []byte(`"kind":"identity"`))
}

// compile-time check.
var _ ingest.Source = (*Source)(nil)

// post is kept for tests that convert records directly.
func (s *Source) post(did, rkey string, rec *postRecord, prof Profile) event.Post {
	return s.conv.post(did, rkey, rec, prof)
}
