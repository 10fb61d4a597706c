package fold

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
)

// Live is the state of one event as a node keeps it: a State fed by tailing
// the event's log, read by many goroutines (API handlers, websocket hubs)
// while Run applies new events. A Live is safe for concurrent use.
type Live struct {
	log eventlog.Log

	mu    sync.RWMutex
	state *State

	// posMu guards pos and advanced; advanced is closed and replaced each
	// time pos moves, which wakes every WaitFor at once.
	posMu    sync.Mutex
	pos      uint64
	advanced chan struct{}

	subMu  sync.Mutex
	subs   map[uint64]func(event.Entry, Effect)
	nextID uint64
}

// NewLive returns the live state of the event whose log is log, with the
// event's configured settings. It is empty until Run runs.
func NewLive(log eventlog.Log, initial SettingsView) *Live {
	return &Live{
		log:      log,
		state:    New(initial),
		advanced: make(chan struct{}),
		subs:     make(map[uint64]func(event.Entry, Effect)),
	}
}

// Run tails the log from its start, applies each event and then notifies
// the subscribers, until ctx is done; it then returns nil. It returns an
// error only when the log's tail fails for good. Call Run once.
func (l *Live) Run(ctx context.Context) error {
	err := l.log.Tail(ctx, l.Pos(), func(batch []event.Entry) error {
		for _, e := range batch {
			l.apply(e)
		}
		return nil
	})
	if ctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("fold: tail: %w", err)
	}
	return nil
}

// apply folds one event under the write lock, then, with the lock released
// so subscribers may call View, tells them what it did.
func (l *Live) apply(e event.Entry) {
	l.mu.Lock()
	prev := l.state.Pos()
	eff := l.state.Apply(e)
	pos := l.state.Pos()
	l.mu.Unlock()

	if pos == prev {
		// A repeat from the log: the State ignored it, and so do the
		// subscribers, who have been told of it already.
		slog.Warn("fold: repeated event ignored", slog.Uint64("pos", e.Pos), slog.Uint64("state_pos", pos))
		return
	}
	if e.Pos != prev+1 {
		slog.Warn("fold: gap in the log", slog.Uint64("pos", e.Pos), slog.Uint64("state_pos", prev))
	}
	e.Pos = pos

	// Subscribers first, then waiters: once WaitFor(pos) returns, every
	// subscriber (the fan-out) has been told of pos, so an API caller that
	// read its own write knows the sockets have it too.
	for _, fn := range l.subscribers() {
		fn(e, eff)
	}

	l.posMu.Lock()
	l.pos = pos
	close(l.advanced)
	l.advanced = make(chan struct{})
	l.posMu.Unlock()
}

func (l *Live) subscribers() []func(event.Entry, Effect) {
	l.subMu.Lock()
	defer l.subMu.Unlock()
	ids := make([]uint64, 0, len(l.subs))
	for id := range l.subs {
		ids = append(ids, id)
	}
	// Oldest subscriber first, so the order of calls is stable.
	slices.Sort(ids)
	fns := make([]func(event.Entry, Effect), 0, len(ids))
	for _, id := range ids {
		fns = append(fns, l.subs[id])
	}
	return fns
}

// View runs fn with the state under a read lock. fn must not keep s, nor
// anything it returns that is a slice or map of s's, after it returns (the
// views s returns are copies and may be kept), and must not call Live's
// other methods but Pos.
func (l *Live) View(fn func(s *State)) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	fn(l.state)
}

// Subscribe registers fn to be called with every event applied from now on
// and its Effect: in position order, after the state reflects the event,
// never concurrently, from Run's goroutine (so fn must not block for long;
// it may call View). The Effect is shared by every subscriber: fn must not
// modify it. To combine a snapshot with the stream without a gap,
// subscribe first, then View, and drop events at or before the snapshot's
// Pos. cancel stops the calls; a call already under way may still finish
// after cancel returns.
func (l *Live) Subscribe(fn func(e event.Entry, eff Effect)) (cancel func()) {
	l.subMu.Lock()
	defer l.subMu.Unlock()
	id := l.nextID
	l.nextID++
	l.subs[id] = fn
	return func() {
		l.subMu.Lock()
		defer l.subMu.Unlock()
		delete(l.subs, id)
	}
}

// WaitFor returns nil once the state reflects position pos (so an API call
// that appended an event can answer with a view that includes it) and every
// subscriber has been told of it, or
// ctx's error if ctx ends first.
func (l *Live) WaitFor(ctx context.Context, pos uint64) error {
	for {
		l.posMu.Lock()
		cur, ch := l.pos, l.advanced
		l.posMu.Unlock()
		if cur >= pos {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("fold: waiting for position %d (at %d): %w", pos, cur, ctx.Err())
		}
	}
}

// Pos returns the position of the last event the state reflects.
func (l *Live) Pos() uint64 {
	l.posMu.Lock()
	defer l.posMu.Unlock()
	return l.pos
}

// Mode returns the event's moderation mode as the state has it now: the
// configured one until a settings.changed sets another. Ingest evaluates
// each arriving post in this mode (moderation.ModeRules.Mode), so a switch
// through the settings API applies to the next post on every node.
func (l *Live) Mode() event.Mode {
	var m event.Mode
	l.View(func(s *State) { m = s.Settings().Moderation })
	return m
}

// OnWall reports whether the post with this URI is approved, and so on a
// public surface, now. Mastodon's delete check visits those posts first.
func (l *Live) OnWall(uri string) bool {
	var on bool
	l.View(func(s *State) {
		p, ok := s.Post(event.PostID(uri))
		on = ok && p.State == StateApproved
	})
	return on
}
