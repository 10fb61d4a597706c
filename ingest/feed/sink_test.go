package feed

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
	"github.com/backchannel/backchannel/ingest"
)

// memSink is an ingest.Sink over an in-memory idempotent log, the same
// contract as the runner's sink over a real log: one append per key.
type memSink struct {
	mu     sync.Mutex
	keys   map[string]uint64
	events []event.Entry
	meta   map[string]string
	health *ingest.Health
	// failPost, when set, is returned by Post instead of appending: the
	// log being unreachable.
	failPost error
}

func newMemSink() *memSink {
	return &memSink{keys: map[string]uint64{}, meta: map[string]string{}, health: ingest.NewHealth("rss", Kind)}
}

func (m *memSink) append(e event.Entry) (eventlog.Appended, error) {
	if err := e.Validate(); err != nil {
		return eventlog.Appended{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	key := e.IdempotencyKey()
	if pos, ok := m.keys[key]; ok && key != "" {
		return eventlog.Appended{Pos: pos, Duplicate: true}, nil
	}
	e.Pos = uint64(len(m.events) + 1)
	m.events = append(m.events, e)
	m.keys[key] = e.Pos
	return eventlog.Appended{Pos: e.Pos}, nil
}

func (m *memSink) Post(_ context.Context, p event.Post) (eventlog.Appended, error) {
	m.mu.Lock()
	fail := m.failPost
	m.mu.Unlock()
	if fail != nil {
		return eventlog.Appended{}, fail
	}
	return m.append(event.Entry{Kind: event.PostReceived, Actor: event.Actor{Role: event.RoleSource}, PostID: p.ID, Post: &p})
}

func (m *memSink) Edit(_ context.Context, p event.Post) (eventlog.Appended, error) {
	return m.append(event.Entry{Kind: event.PostEdited, Actor: event.Actor{Role: event.RoleSource}, PostID: p.ID, Post: &p})
}

func (m *memSink) Delete(_ context.Context, uri string) (eventlog.Appended, error) {
	return m.append(event.Entry{Kind: event.PostDeleted, Actor: event.Actor{Role: event.RoleSource}, PostID: event.PostID(uri)})
}

func (m *memSink) Cursor(_ context.Context, key string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.meta[key], nil
}

func (m *memSink) SetCursor(_ context.Context, key, value string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.meta[key] = value
	return nil
}

func (m *memSink) Health() *ingest.Health { return m.health }

// snapshot returns the events appended, in order.
func (m *memSink) snapshot() []event.Entry {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]event.Entry(nil), m.events...)
}

func (m *memSink) count(kind event.Kind) int {
	n := 0
	for _, e := range m.snapshot() {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

// waitUntil polls cond until it holds or the deadline passes.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
