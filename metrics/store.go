package metrics

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
)

// Store wraps s so that every log it returns records the metrics. The
// wrapper adds no guarantee and removes none: each call goes straight to s.
func (m *Metrics) Store(s eventlog.Store) eventlog.Store {
	return &store{Store: s, m: m, lengths: map[string]*atomic.Uint64{}}
}

type store struct {
	eventlog.Store
	m *Metrics

	mu sync.Mutex
	// lengths keeps one high-water mark per slug, shared by every Log
	// wrapper of that slug, so concurrent appends and tails never move the
	// gauge backwards.
	lengths map[string]*atomic.Uint64
}

func (s *store) Log(ctx context.Context, slug string) (eventlog.Log, error) {
	l, err := s.Store.Log(ctx, slug)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	hw, seen := s.lengths[slug]
	if !seen {
		hw = new(atomic.Uint64)
		s.lengths[slug] = hw
	}
	s.mu.Unlock()
	w := &log{Log: l, m: s.m, slug: slug, length: hw, gauge: s.m.LogLength.WithLabelValues(slug)}
	if !seen {
		// Every kind and result from 0, so a panel or increase() sees the
		// first error too, not only those after it.
		for _, k := range event.Kinds {
			for _, r := range []string{ResultAppended, ResultDuplicate, ResultError} {
				s.m.Appends.WithLabelValues(slug, string(k), r)
			}
		}
		// Start the gauge at the log's length, so a restarted process
		// reports it before anything new is appended.
		if h, err := l.Head(ctx); err == nil {
			w.saw(h.Last)
		}
	}
	return w, nil
}

type log struct {
	eventlog.Log
	m      *Metrics
	slug   string
	length *atomic.Uint64
	gauge  interface{ Set(float64) }
}

// saw raises the length high-water mark to pos.
func (l *log) saw(pos uint64) {
	for {
		cur := l.length.Load()
		if pos <= cur {
			return
		}
		if l.length.CompareAndSwap(cur, pos) {
			l.gauge.Set(float64(pos))
			return
		}
	}
}

func (l *log) Append(ctx context.Context, key string, e event.Entry) (eventlog.Appended, error) {
	start := time.Now()
	a, err := l.Log.Append(ctx, key, e)
	l.m.AppendSeconds.Observe(time.Since(start).Seconds())
	result := ResultAppended
	switch {
	case err != nil:
		result = ResultError
	case a.Duplicate:
		result = ResultDuplicate
	default:
		l.saw(a.Pos)
	}
	l.m.Appends.WithLabelValues(l.slug, string(e.Kind), result).Inc()
	return a, err
}

func (l *log) Tail(ctx context.Context, after uint64, fn func([]event.Entry) error) error {
	// Only events appended after the tail began measure delivery: the
	// history a restarting node replays would report hours of "delay".
	// "After" is judged by position, not by clock, so another node's
	// clock being behind ours cannot hide its events.
	var live uint64
	if h, err := l.Log.Head(ctx); err == nil {
		live = h.Last
	} else {
		live = ^uint64(0) // unknown: measure nothing rather than history
	}
	return l.Log.Tail(ctx, after, func(batch []event.Entry) error {
		now := time.Now()
		for i := range batch {
			if batch[i].Pos > live {
				d := now.Sub(batch[i].Time)
				if d < 0 { // another node's clock ahead of ours
					d = 0
				}
				l.m.TailDelay.Observe(d.Seconds())
			}
		}
		if n := len(batch); n > 0 {
			l.saw(batch[n-1].Pos)
		}
		return fn(batch)
	})
}
