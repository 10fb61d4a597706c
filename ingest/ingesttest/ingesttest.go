// Package ingesttest holds what the sources' tests share: an in-memory
// idempotent log, a Sink over it that records what a source appends and
// how its health changed, and a wait for a condition with a deadline.
package ingesttest

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
	"github.com/backchannel/backchannel/ingest"
)

// Log is the smallest log with the real log's idempotent append (one key,
// one entry) and meta beside it. Several Sinks may share one, as several
// sources or processes share an event's log. Its zero value is not ready:
// use NewLog.
type Log struct {
	mu       sync.Mutex
	keys     map[string]uint64
	entries  []event.Entry
	meta     map[string]string
	received map[string]bool // post URIs
	fail     error
}

// NewLog returns an empty Log.
func NewLog() *Log {
	return &Log{keys: map[string]uint64{}, meta: map[string]string{}, received: map[string]bool{}}
}

// Fail makes every later append return err, as an unreachable log does,
// until Fail(nil).
func (l *Log) Fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fail = err
}

// Append appends e under key once: a second append with the same key is a
// duplicate of the first. An entry that does not validate is refused.
func (l *Log) Append(key string, e event.Entry) (eventlog.Appended, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail != nil {
		return eventlog.Appended{}, l.fail
	}
	if pos, ok := l.keys[key]; ok && key != "" {
		return eventlog.Appended{Pos: pos, Duplicate: true}, nil
	}
	if err := e.Validate(); err != nil {
		return eventlog.Appended{}, err
	}
	e.Pos = uint64(len(l.entries) + 1)
	l.entries = append(l.entries, e)
	if key != "" {
		l.keys[key] = e.Pos
	}
	if e.Kind == event.PostReceived && e.Post != nil {
		l.received[e.Post.URI] = true
	}
	return eventlog.Appended{Pos: e.Pos}, nil
}

// Received reports whether a post with this URI was appended as received.
func (l *Log) Received(uri string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.received[uri]
}

// Entries returns a copy of every entry appended, in order.
func (l *Log) Entries() []event.Entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.entries)
}

// Count returns how many entries of kind k were appended.
func (l *Log) Count(k event.Kind) int {
	n := 0
	for _, e := range l.Entries() {
		if e.Kind == k {
			n++
		}
	}
	return n
}

// CountOf returns how many entries of kind k name the post with this URI.
func (l *Log) CountOf(k event.Kind, uri string) int {
	n := 0
	for _, e := range l.Entries() {
		if e.Kind == k && e.PostID == event.PostID(uri) {
			n++
		}
	}
	return n
}

// Kinds counts the entries by kind.
func (l *Log) Kinds() map[event.Kind]int {
	m := map[event.Kind]int{}
	for _, e := range l.Entries() {
		m[e.Kind]++
	}
	return m
}

func (l *Log) getMeta(key string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.meta[key]
}

func (l *Log) setMeta(key, value string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.meta[key] = value
}

// Sink is an ingest.Sink over a Log that does what the runner's sink
// does: each entry appended under its event.IdempotencyKey, a verdict from
// Rules on every received post, cursors kept per source name, duplicates
// and appends counted on Health. It also records every health change.
// Set its fields before the source runs.
type Sink struct {
	// Log is where the sink appends.
	Log *Log
	// Rules, when not nil, give every received post its verdict.
	Rules ingest.Evaluator
	// Clock stamps the entries; nil means time.Now.
	Clock func() time.Time
	// KnownOnly makes the sink read the log as the fold does: an edit of a
	// post the log never received is appended as received, and a delete of
	// one is dropped.
	KnownOnly bool

	name   string
	health *ingest.Health

	mu    sync.Mutex
	snaps []ingest.HealthSnapshot
}

var _ ingest.Sink = (*Sink)(nil)

// NewSink returns a Sink for the source called name, of kind, over l.
func NewSink(l *Log, name, kind string) *Sink {
	s := &Sink{Log: l, name: name, health: ingest.NewHealth(name, kind)}
	s.health.OnChange = func(h ingest.HealthSnapshot) {
		s.mu.Lock()
		s.snaps = append(s.snaps, h)
		s.mu.Unlock()
	}
	return s
}

func (s *Sink) now() time.Time {
	if s.Clock != nil {
		return s.Clock()
	}
	return time.Now()
}

func (s *Sink) actor() event.Actor { return event.Actor{Role: event.RoleSource, Name: s.name} }

// Post implements ingest.Sink.
func (s *Sink) Post(ctx context.Context, p event.Post) (eventlog.Appended, error) {
	now := s.now()
	e := event.Entry{Time: now, Kind: event.PostReceived, Actor: s.actor(), PostID: p.ID, Post: &p}
	if s.Rules != nil {
		v := s.Rules.Evaluate(p, now)
		e.Verdict = &v
	}
	return s.append(e, p.CreatedAt, now)
}

// Edit implements ingest.Sink.
func (s *Sink) Edit(ctx context.Context, p event.Post) (eventlog.Appended, error) {
	if s.KnownOnly && !s.Log.Received(p.URI) {
		return s.Post(ctx, p)
	}
	now := s.now()
	e := event.Entry{Time: now, Kind: event.PostEdited, Actor: s.actor(), PostID: p.ID, Post: &p}
	return s.append(e, p.CreatedAt, now)
}

// Delete implements ingest.Sink.
func (s *Sink) Delete(ctx context.Context, uri string) (eventlog.Appended, error) {
	if s.KnownOnly && !s.Log.Received(uri) {
		return eventlog.Appended{}, nil
	}
	e := event.Entry{Time: s.now(), Kind: event.PostDeleted, Actor: s.actor(), PostID: event.PostID(uri)}
	return s.Log.Append(e.IdempotencyKey(), e)
}

// Withdraw implements ingest.Sink.
func (s *Sink) Withdraw(ctx context.Context, p event.Post, reason string) (eventlog.Appended, error) {
	e := event.Entry{Time: s.now(), Kind: event.PostWithdrawn, Actor: s.actor(), PostID: p.ID, Post: &p, Reason: reason}
	return s.append(e, time.Time{}, e.Time)
}

func (s *Sink) append(e event.Entry, published, now time.Time) (eventlog.Appended, error) {
	a, err := s.Log.Append(e.IdempotencyKey(), e)
	if err == nil {
		s.health.Counted(a.Duplicate, published, now)
	}
	return a, err
}

// Cursor implements ingest.Sink.
func (s *Sink) Cursor(ctx context.Context, key string) (string, error) {
	return s.Log.getMeta(ingest.CursorKey(s.name, key)), nil
}

// SetCursor implements ingest.Sink.
func (s *Sink) SetCursor(ctx context.Context, key, value string) error {
	s.Log.setMeta(ingest.CursorKey(s.name, key), value)
	return nil
}

// Health implements ingest.Sink.
func (s *Sink) Health() *ingest.Health { return s.health }

// SawState reports whether the sink's health was ever in state with a last
// error containing errPart.
func (s *Sink) SawState(state, errPart string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range s.snaps {
		if h.State == state && strings.Contains(h.LastError, errPart) {
			return true
		}
	}
	return false
}

// WaitUntil checks cond every few milliseconds until it holds, and fails
// the test if it does not within ten seconds; what names the condition in
// the failure.
func WaitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
