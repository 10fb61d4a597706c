package ingest

import (
	"context"
	"fmt"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
)

// Evaluator decides what happens to a post when it arrives: the event's
// moderation rules (moderation.Rules satisfies it). It must be safe for
// concurrent use.
type Evaluator interface {
	Evaluate(p event.Post, now time.Time) event.Verdict
}

// LogSink is the Sink every source writes to: it validates what a source
// hands it, applies the rules to new posts, appends to the event's log under
// the event's idempotency key (so a post seen twice, on two servers or after
// a restart, is stored once) and counts the outcome on the source's Health.
type LogSink struct {
	log    eventlog.Log
	rules  Evaluator
	health *Health
	actor  event.Actor
	clock  func() time.Time
	// onAppend, when set, is told of every append and duplicate (the
	// runner hangs its per-kind counters here; Health has no kinds).
	onAppend func(kind event.Kind, dup bool)
}

// NewLogSink returns the Sink of the source that appends as actor (its Name
// is the source's name, which also prefixes the source's cursors) to log.
// rules may be nil: posts are then appended without a verdict and stay
// pending. clock may be nil for time.Now.
func NewLogSink(log eventlog.Log, rules Evaluator, health *Health, actor event.Actor, clock func() time.Time) *LogSink {
	if clock == nil {
		clock = time.Now
	}
	if health == nil {
		health = NewHealth(actor.Name, "")
	}
	return &LogSink{log: log, rules: rules, health: health, actor: actor, clock: clock}
}

var _ Sink = (*LogSink)(nil)

// Post implements Sink.
func (s *LogSink) Post(ctx context.Context, p event.Post) (eventlog.Appended, error) {
	now := s.clock()
	s.fill(&p)
	if err := p.Validate(); err != nil {
		return eventlog.Appended{}, fmt.Errorf("ingest: %s: %w", s.actor.Name, err)
	}
	e := event.Entry{Time: now, Kind: event.PostReceived, Actor: s.actor, PostID: p.ID, Post: &p}
	if s.rules != nil {
		v := s.rules.Evaluate(p, now)
		e.Verdict = &v
	}
	return s.append(ctx, e, p.CreatedAt, now)
}

// Edit implements Sink. The rules judge the new version as they judge a
// new post, and their verdict goes with the edit: the fold shows an edit
// of an approved post only when the verdict approves it, and otherwise
// keeps the version that was passed on the wall and queues the edit for a
// moderator (docs/FOLD.md). The edit is appended under its own key (URI
// and EditedAt), so the same edit re-read on the next poll is stored once.
// An edit of a post the log never received is folded as a new post held
// for a moderator (fold's "edited before received"), so it needs no lookup
// here.
func (s *LogSink) Edit(ctx context.Context, p event.Post) (eventlog.Appended, error) {
	now := s.clock()
	s.fill(&p)
	if err := p.Validate(); err != nil {
		return eventlog.Appended{}, fmt.Errorf("ingest: %s: %w", s.actor.Name, err)
	}
	if p.EditedAt.IsZero() {
		// Without an edit time every re-read of the edit would be a new
		// key, and so a new event.
		return eventlog.Appended{}, fmt.Errorf("ingest: %s: %w", s.actor.Name,
			event.Errorf(event.EINVALID, "edit of %s: edited_at is required", p.URI))
	}
	e := event.Entry{Time: now, Kind: event.PostEdited, Actor: s.actor, PostID: p.ID, Post: &p}
	if s.rules != nil {
		v := s.rules.Evaluate(p, now)
		e.Verdict = &v
	}
	return s.append(ctx, e, p.EditedAt, now)
}

// Delete implements Sink. A delete of a post never received is appended
// all the same (the log cannot be asked whether a key exists without a
// second round trip); the fold ignores it, so it changes no view.
func (s *LogSink) Delete(ctx context.Context, uri string) (eventlog.Appended, error) {
	now := s.clock()
	if uri == "" {
		return eventlog.Appended{}, fmt.Errorf("ingest: %s: %w", s.actor.Name,
			event.Errorf(event.EINVALID, "delete: uri is required"))
	}
	e := event.Entry{Time: now, Kind: event.PostDeleted, Actor: s.actor, PostID: event.PostID(uri)}
	return s.append(ctx, e, time.Time{}, now)
}

// Withdraw implements Sink.
func (s *LogSink) Withdraw(ctx context.Context, p event.Post, reason string) (eventlog.Appended, error) {
	now := s.clock()
	s.fill(&p)
	if err := p.Validate(); err != nil {
		return eventlog.Appended{}, fmt.Errorf("ingest: %s: %w", s.actor.Name, err)
	}
	if p.EditedAt.IsZero() {
		return eventlog.Appended{}, fmt.Errorf("ingest: %s: %w", s.actor.Name,
			event.Errorf(event.EINVALID, "withdrawal of %s: edited_at is required", p.URI))
	}
	e := event.Entry{Time: now, Kind: event.PostWithdrawn, Actor: s.actor, PostID: p.ID, Post: &p, Reason: reason}
	return s.append(ctx, e, time.Time{}, now)
}

func (s *LogSink) append(ctx context.Context, e event.Entry, published, now time.Time) (eventlog.Appended, error) {
	if err := e.Validate(); err != nil {
		return eventlog.Appended{}, fmt.Errorf("ingest: %s: %w", s.actor.Name, err)
	}
	res, err := s.log.Append(ctx, e.IdempotencyKey(), e)
	if err != nil {
		return res, fmt.Errorf("ingest: %s: append %s: %w", s.actor.Name, e.Kind, err)
	}
	s.health.Counted(res.Duplicate, published, now)
	if s.onAppend != nil {
		s.onAppend(e.Kind, res.Duplicate)
	}
	return res, nil
}

// fill sets what the sink knows better than a source may remember to: the
// id derived from the URI and the configured source that saw the post.
func (s *LogSink) fill(p *event.Post) {
	if p.ID == "" && p.URI != "" {
		p.ID = event.PostID(p.URI)
	}
	if p.SourceName == "" {
		p.SourceName = s.actor.Name
	}
}

// CursorKey is the meta name a source's cursor key is stored under beside
// the log: one namespace per source, so two sources never share a cursor.
func CursorKey(source, key string) string {
	return "cursor:" + source + ":" + key
}

// Cursor implements Sink.
func (s *LogSink) Cursor(ctx context.Context, key string) (string, error) {
	v, err := s.log.GetMeta(ctx, CursorKey(s.actor.Name, key))
	if err != nil {
		return "", fmt.Errorf("ingest: %s: cursor %q: %w", s.actor.Name, key, err)
	}
	return v, nil
}

// SetCursor implements Sink.
func (s *LogSink) SetCursor(ctx context.Context, key, value string) error {
	if err := s.log.SetMeta(ctx, CursorKey(s.actor.Name, key), value); err != nil {
		return fmt.Errorf("ingest: %s: set cursor %q: %w", s.actor.Name, key, err)
	}
	return nil
}

// Health implements Sink.
func (s *LogSink) Health() *Health { return s.health }
