// Package ingest runs the sources that bring posts from outside the room
// (Mastodon servers, Bluesky, feeds, the web form, rehearsal) into an event's
// log, exactly once each. The sources live in sub-packages; this package
// holds what they share: the Source and Sink contracts and source health.
package ingest

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
)

// Source finds posts for one event at one place (a Mastodon server, a
// Jetstream host, a feed) and hands them to a Sink.
type Source interface {
	// Name is unique within the event, e.g. "mastodon:mastodon.social".
	Name() string
	// Kind is the kind of source: "mastodon", "bluesky", "rss", "rehearsal".
	Kind() string
	// Run follows the source until ctx is done, then returns nil. Transient
	// failures (network, 429, 5xx, garbage) are backed off and reported on
	// the sink's health, never returned; Run returns an error only for a
	// fault that retrying cannot fix (a malformed configuration).
	Run(ctx context.Context, sink Sink) error
}

// SharedSource is a Source that must run in one process of the deployment
// for every event at once (X allows one stream connection per app). The
// runner leases it under "source:"+SharedLease() instead of per event, so
// the process that holds the lease runs that source of every event and the
// others stand by. The lease is not released on a graceful stop (it lapses
// after its ttl): another event's source in the same process may still be
// using it.
type SharedSource interface {
	Source
	SharedLease() string
}

// MetricsSource is a Source with Prometheus series of its own; the runner
// hands it its Registerer once, when it is given the source.
type MetricsSource interface {
	Source
	RegisterMetrics(reg prometheus.Registerer) error
}

// Sink is where a source puts what it finds. Implementations apply the
// event's moderation rules, de-duplicate through the log's idempotent append
// and count what they append. A Sink is safe for concurrent use.
type Sink interface {
	// Post appends p as received (once per p.URI: a second call with the
	// same URI changes nothing and reports Duplicate). p.ID must be
	// event.PostID(p.URI); p.HTML must already be sanitised.
	Post(ctx context.Context, p event.Post) (eventlog.Appended, error)
	// Edit appends p as the new version of a post edited at its source
	// (once per URI and EditedAt). An edit of a post never received is
	// appended as received instead.
	Edit(ctx context.Context, p event.Post) (eventlog.Appended, error)
	// Delete appends that the post with this URI was deleted at its source
	// (once per post). Deleting a post never received changes nothing.
	Delete(ctx context.Context, uri string) (eventlog.Appended, error)
	// Withdraw appends that the author edited the post so it no longer
	// carries the event's tags: it leaves every public surface and the
	// moderators see why (reason, e.g. "edited to remove #OurDay"). p is
	// the version that dropped the tags, EditedAt set (once per URI and
	// EditedAt). Only for posts this source appended.
	Withdraw(ctx context.Context, p event.Post, reason string) (eventlog.Appended, error)
	// Cursor returns the value the source stored under key, "" if none.
	// Cursors live beside the log, so they survive restarts and move with
	// the source to another ingest process.
	Cursor(ctx context.Context, key string) (string, error)
	// SetCursor stores value under key, durably.
	SetCursor(ctx context.Context, key, value string) error
	// Health is the source's health record, for the source to update.
	Health() *Health
}

// Health states.
const (
	StateStarting    = "starting"     // not yet succeeded
	StateOK          = "ok"           // the last attempt succeeded
	StateBackingOff  = "backing_off"  // the last attempt failed; waiting to retry
	StateRateLimited = "rate_limited" // the server asked us to wait
	StateWaiting     = "waiting"      // outside the event's time window
	StateStandby     = "standby"      // another ingest process runs this source
	StateStopped     = "stopped"      // not running (configuration error, shutdown)
)

// HealthSnapshot is a source's health at one moment, as the API shows it.
type HealthSnapshot struct {
	Source      string    `json:"source"`
	Kind        string    `json:"kind"`
	State       string    `json:"state"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	// RetryAt is when a backing-off or rate-limited source tries again.
	RetryAt time.Time `json:"retry_at,omitzero"`
	// RateLimitRemaining is the server's X-RateLimit-Remaining, -1 when unknown.
	RateLimitRemaining int       `json:"rate_limit_remaining"`
	RateLimitReset     time.Time `json:"rate_limit_reset,omitzero"`
	// Appended counts posts, edits and deletes this source appended (not duplicates).
	Appended int64 `json:"appended"`
	// Duplicates counts what it found that the log already had.
	Duplicates int64 `json:"duplicates"`
	// Lag is how long ago the newest post it appended was published, at that moment.
	Lag time.Duration `json:"lag_ns"`
	// Streaming reports a live streaming connection beside polling.
	Streaming bool `json:"streaming"`
	// Detail is what the source wants the host to see beside its state, in
	// words (an X source's spend so far against its budget, say).
	Detail string `json:"detail,omitempty"`
	// TroubleSince is when the source last went from working (or
	// starting) to failing or rate-limited; zero while it works.
	TroubleSince time.Time `json:"trouble_since,omitzero"`
}

// Health is the live health record of one source. Its methods are safe for
// concurrent use. OnChange, if set before the source starts, is called after
// every change with the new snapshot (metrics hang here).
type Health struct {
	mu       sync.Mutex
	s        HealthSnapshot
	OnChange func(HealthSnapshot)
}

// NewHealth returns the health record of a source that has not run yet.
func NewHealth(source, kind string) *Health {
	return &Health{s: HealthSnapshot{Source: source, Kind: kind, State: StateStarting, RateLimitRemaining: -1}}
}

func (h *Health) update(f func(*HealthSnapshot)) {
	h.mu.Lock()
	f(&h.s)
	s := h.s
	cb := h.OnChange
	h.mu.Unlock()
	if cb != nil {
		cb(s)
	}
}

// Snapshot returns the record as it is now.
func (h *Health) Snapshot() HealthSnapshot {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.s
}

// Succeeded records a successful request at t.
func (h *Health) Succeeded(t time.Time) {
	h.update(func(s *HealthSnapshot) {
		s.State, s.LastSuccess, s.RetryAt, s.TroubleSince = StateOK, t, time.Time{}, time.Time{}
	})
}

// Failed records a failed attempt at t, retried at retryAt.
func (h *Health) Failed(t time.Time, err error, retryAt time.Time) {
	h.update(func(s *HealthSnapshot) {
		s.State, s.LastError, s.LastErrorAt, s.RetryAt = StateBackingOff, err.Error(), t, retryAt
		if s.TroubleSince.IsZero() {
			s.TroubleSince = t
		}
	})
}

// RateLimited records that the server asked us to wait until retryAt.
func (h *Health) RateLimited(t time.Time, why string, retryAt time.Time) {
	h.update(func(s *HealthSnapshot) {
		s.State, s.LastError, s.LastErrorAt, s.RetryAt = StateRateLimited, why, t, retryAt
		if s.TroubleSince.IsZero() {
			s.TroubleSince = t
		}
	})
}

// RateLimit records the server's rate-limit headers.
func (h *Health) RateLimit(remaining int, reset time.Time) {
	h.update(func(s *HealthSnapshot) { s.RateLimitRemaining, s.RateLimitReset = remaining, reset })
}

// SetState sets the state (StateWaiting, StateStandby, StateStopped, ...).
func (h *Health) SetState(state string) {
	h.update(func(s *HealthSnapshot) { s.State = state })
}

// SetDetail sets the words shown beside the state (HealthSnapshot.Detail).
func (h *Health) SetDetail(detail string) {
	h.update(func(s *HealthSnapshot) { s.Detail = detail })
}

// SetStreaming records whether a streaming connection is live.
func (h *Health) SetStreaming(live bool) {
	h.update(func(s *HealthSnapshot) { s.Streaming = live })
}

// Counted records one append (dup=false) or one duplicate found, of a post
// published at published (zero when unknown), seen at now.
func (h *Health) Counted(dup bool, published, now time.Time) {
	h.update(func(s *HealthSnapshot) {
		if dup {
			s.Duplicates++
			return
		}
		s.Appended++
		if !published.IsZero() {
			s.Lag = now.Sub(published)
		}
	})
}
