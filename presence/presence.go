// Package presence keeps which post each moderator has open: a hint shown
// to the other moderators so a post is not handled twice. It is ephemeral
// (who looks at what for the next half minute), never written to the log.
//
// Store is the interface; Memory keeps it in this process (one node), and
// package redispresence keeps it in Redis, so moderators served by
// different fan-out nodes behind a load balancer see each other.
package presence

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/backchannel/backchannel/event"
)

// MaxViewers bounds the entries kept per event: far more moderators than
// any event has, so a script opening posts in a loop cannot grow the
// store without end.
const MaxViewers = 1000

// Entry is one moderator's screen with one post open.
type Entry struct {
	PostID string
	By     event.Actor
	// Viewer identifies the screen (a login session or a token): an
	// opaque string chosen by the caller, safe to show to others.
	Viewer string
	// Since is when the viewer opened this post (renewals keep it).
	Since time.Time
	// Expires is when the entry ends unless opened again.
	Expires time.Time
}

// Store keeps the open posts of every event. Each viewer has at most one
// post open per event: opening another lets go of the first, which is how
// a moderator moves down the queue. Times come from the caller's clock,
// so every node of a deployment must keep reasonable time (entries live
// for tens of seconds; a skew of a second or two does not matter).
// Implementations are safe for concurrent use.
type Store interface {
	// Open records that viewer (acting as by) has postID open in the event
	// slug until now plus the store's TTL, renewing it when it had it
	// already (Since unchanged) and letting go of any other post it had
	// open. It returns an event.ERATELIMIT error when the event has
	// MaxViewers live entries already and viewer is not among them, and
	// an event.EUNAVAILABLE error when the store cannot be reached.
	Open(ctx context.Context, slug, viewer string, by event.Actor, postID string, now time.Time) error
	// Release lets go of postID if viewer has it open; otherwise it does
	// nothing.
	Release(ctx context.Context, slug, viewer, postID string) error
	// List returns the entries of the event that have not expired at now,
	// oldest first (ties by Viewer).
	List(ctx context.Context, slug string, now time.Time) ([]Entry, error)
	// TTL is how long an entry lives without another Open.
	TTL() time.Duration
}

// Sort orders entries oldest first, ties by viewer, as List returns them.
func Sort(es []Entry) {
	slices.SortFunc(es, func(a, b Entry) int {
		if c := a.Since.Compare(b.Since); c != 0 {
			return c
		}
		return strings.Compare(a.Viewer, b.Viewer)
	})
}

// Memory is a Store in this process's memory: presence for moderators
// served by this node only. The zero value is not usable; use NewMemory.
type Memory struct {
	ttl time.Duration

	mu     sync.Mutex
	events map[string]map[string]*Entry // slug -> viewer -> what it has open
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory Store whose entries live ttl.
func NewMemory(ttl time.Duration) *Memory {
	return &Memory{ttl: ttl, events: map[string]map[string]*Entry{}}
}

// TTL implements Store.
func (m *Memory) TTL() time.Duration { return m.ttl }

// Open implements Store.
func (m *Memory) Open(_ context.Context, slug, viewer string, by event.Actor, postID string, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	ev := m.events[slug]
	if ev == nil {
		ev = map[string]*Entry{}
		m.events[slug] = ev
	}
	sweep(ev, now)
	v := ev[viewer]
	if v == nil {
		if len(ev) >= MaxViewers {
			return event.Errorf(event.ERATELIMIT, "too many moderators have posts open")
		}
		v = &Entry{Viewer: viewer}
		ev[viewer] = v
	}
	if v.PostID != postID {
		v.PostID, v.Since = postID, now
	}
	v.By = by
	v.Expires = now.Add(m.ttl)
	return nil
}

// Release implements Store.
func (m *Memory) Release(_ context.Context, slug, viewer, postID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ev := m.events[slug]; ev != nil {
		if v := ev[viewer]; v != nil && v.PostID == postID {
			delete(ev, viewer)
		}
	}
	return nil
}

// List implements Store.
func (m *Memory) List(_ context.Context, slug string, now time.Time) ([]Entry, error) {
	m.mu.Lock()
	ev := m.events[slug]
	sweep(ev, now)
	out := make([]Entry, 0, len(ev))
	for _, v := range ev {
		out = append(out, *v)
	}
	m.mu.Unlock()
	Sort(out)
	return out, nil
}

func sweep(ev map[string]*Entry, now time.Time) {
	for k, v := range ev {
		if !now.Before(v.Expires) {
			delete(ev, k)
		}
	}
}
