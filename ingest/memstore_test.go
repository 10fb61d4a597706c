package ingest

import (
	"context"
	"sync"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
)

// memStore is a small in-memory eventlog.Store for this package's tests
// (the real engines are tested against these same tests in
// runner_engines_test.go). It keeps the guarantees the runner relies on:
// idempotent appends, meta beside the log, leases that run out.
type memStore struct {
	mu     sync.Mutex
	logs   map[string]*memLog
	leases map[string]memLease
}

type memLease struct {
	holder string
	until  time.Time
}

func newMemStore() *memStore {
	return &memStore{logs: make(map[string]*memLog), leases: make(map[string]memLease)}
}

func (s *memStore) Log(ctx context.Context, slug string) (eventlog.Log, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.logs[slug]
	if l == nil {
		l = &memLog{keys: make(map[string]uint64), meta: make(map[string]string), changed: make(chan struct{})}
		s.logs[slug] = l
	}
	return l, nil
}

func (s *memStore) Ping(ctx context.Context) error { return nil }

func (s *memStore) Lease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	cur, ok := s.leases[name]
	if ok && cur.holder != holder && now.Before(cur.until) {
		return false, nil
	}
	s.leases[name] = memLease{holder: holder, until: now.Add(ttl)}
	return true, nil
}

func (s *memStore) Close() error { return nil }

type memLog struct {
	mu      sync.Mutex
	events  []event.Entry
	keys    map[string]uint64
	meta    map[string]string
	changed chan struct{}
}

func (l *memLog) Append(ctx context.Context, key string, e event.Entry) (eventlog.Appended, error) {
	if err := e.Validate(); err != nil {
		return eventlog.Appended{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if key != "" {
		if pos, ok := l.keys[key]; ok {
			return eventlog.Appended{Pos: pos, Duplicate: true}, nil
		}
	}
	e.Pos = uint64(len(l.events)) + 1
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	l.events = append(l.events, e)
	if key != "" {
		l.keys[key] = e.Pos
	}
	close(l.changed)
	l.changed = make(chan struct{})
	return eventlog.Appended{Pos: e.Pos}, nil
}

func (l *memLog) Read(ctx context.Context, after uint64, limit int) ([]event.Entry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if after >= uint64(len(l.events)) {
		return nil, nil
	}
	out := l.events[after:]
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return append([]event.Entry(nil), out...), nil
}

func (l *memLog) Tail(ctx context.Context, after uint64, fn func([]event.Entry) error) error {
	for {
		l.mu.Lock()
		evs := append([]event.Entry(nil), l.events[min(after, uint64(len(l.events))):]...)
		ch := l.changed
		l.mu.Unlock()
		if len(evs) > 0 {
			if err := fn(evs); err != nil {
				return err
			}
			after = evs[len(evs)-1].Pos
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

func (l *memLog) Head(ctx context.Context) (eventlog.Head, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return eventlog.Head{Epoch: "mem", Last: uint64(len(l.events))}, nil
}

func (l *memLog) GetMeta(ctx context.Context, name string) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.meta[name], nil
}

func (l *memLog) SetMeta(ctx context.Context, name, value string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.meta[name] = value
	return nil
}
