package fanout

// The paced flush: an audience with an interval (the public one, by
// default adaptive) gets what it is owed as one frame per flush, flushes
// spaced by nextFlush, and the frames are written by one sweep through
// the sockets instead of a goroutine per socket.

import (
	"runtime"
	"sync/atomic"
	"time"
)

// flushLoop flushes s when it is owed something: at once on an idle
// node, else as soon as nextFlush allows. The frames are written by sweep,
// not by a goroutine per socket.
func (h *Hub) flushLoop(s *audState) {
	defer h.wg.Done()
	t := time.NewTimer(time.Hour)
	t.Stop()
	defer t.Stop()
	var kicks []*conn
	var lastStart, lastEnd time.Time
	for {
		select {
		case <-h.stop:
			return
		case <-s.wake:
		}
		if wait := time.Until(h.nextFlush(s, lastStart, lastEnd)); wait > 0 {
			t.Reset(wait)
			select {
			case <-h.stop:
				return
			case <-t.C:
			}
		}
		start := time.Now()
		h.mu.Lock()
		if !h.closed {
			h.flushInto(s, &kicks)
		}
		h.mu.Unlock()
		if len(kicks) > 0 {
			if h.sweep(kicks) {
				clear(kicks)
				kicks = kicks[:0]
			} else {
				kicks = nil // a stuck writer may still read it
			}
		}
		lastStart, lastEnd = start, time.Now()
	}
}

// sweepRest is the pause after a sweep, as a fraction of the sweep's
// time, before the next flush may start: sweeps then take at most 4/5 of
// the node, leaving the rest to the log, the fold and HTTP; a node short
// of CPU, whose sweeps take longer, sends fewer, larger frames instead of
// overflowing every queue.
const sweepRest = 4

// nextFlush is the earliest time the next flush of s may start, after
// one that started at lastStart and whose sweep ended at lastEnd: at
// least the audience's interval (MinPublicInterval when adaptive) after
// the last start, and a quarter of the last sweep after its end.
//
// Latency is the wait for a flush plus the socket's place in the sweep.
// A flush used to wait for a tick every 1.5 sweeps whether or not anything
// was owed, so a post waited up to 1.5 sweeps and then up to one more: at
// 10,000 walls (a 60-70 ms sweep) p99 was 210-360 ms. Now a post that
// finds the node idle goes out at once and waits only for its place in
// the sweep; posts that arrive faster than sweeps can follow share frames.
func (h *Hub) nextFlush(s *audState, lastStart, lastEnd time.Time) time.Time {
	if lastStart.IsZero() {
		return time.Time{}
	}
	spacing := MinPublicInterval
	if s.interval > 0 {
		spacing = s.interval
	}
	a := lastStart.Add(spacing)
	b := lastEnd.Add(lastEnd.Sub(lastStart) / sweepRest)
	if b.After(a) {
		return b
	}
	return a
}

// stallCheck is how long a sweep may make no progress before another
// writer joins it: a socket whose kernel buffer is full blocks its write,
// and must not hold up the sockets after it.
const stallCheck = 10 * time.Millisecond

// maxSweepWriters bounds the writers one sweep starts; past it the
// remaining sockets get a writer goroutine each, as staff sockets do.
const maxSweepWriters = 16

// yieldEvery is how many sockets a sweep writer writes before letting the
// rest of the process run (the log's writer, the fold, HTTP handlers).
const yieldEvery = 128

// sweep writes what each connection in kicks has queued, from a writer
// goroutine that goes through them in order, instead of a goroutine per
// socket: on a tick of 10,000 public sockets that saves 10,000 goroutine
// starts and exits. A socket whose write blocks (its client is not
// reading) holds only the writer that took it: when no write has finished
// for stallCheck, another writer takes the next sockets. sweep returns
// once every socket is written or taken by a stuck writer; it reports
// whether kicks may be reused (no writer can still read it).
func (h *Hub) sweep(kicks []*conn) bool {
	var next, finished atomic.Int64
	n := int64(len(kicks))
	done := make(chan struct{})
	work := func() {
		for k := 0; ; k++ {
			i := next.Add(1) - 1
			if i >= n {
				return
			}
			c := kicks[i]
			if c.writing.CompareAndSwap(false, true) {
				c.drain()
			}
			if finished.Add(1) == n {
				close(done)
			}
			if k%yieldEvery == yieldEvery-1 {
				runtime.Gosched()
			}
		}
	}
	go work()
	t := time.NewTicker(stallCheck)
	defer t.Stop()
	last, writers := int64(0), 1
	for {
		select {
		case <-done:
			return true
		case <-t.C:
		}
		f := finished.Load()
		if f != last {
			last = f
			continue
		}
		if next.Load() < n && writers < maxSweepWriters {
			writers++
			go work()
			continue
		}
		// Every writer is stuck, or the rest are taken by stuck writers:
		// leave them, and give each socket not yet taken its own writer.
		for i := next.Add(1) - 1; i < n; i = next.Add(1) - 1 {
			kicks[i].kick()
		}
		return false
	}
}
