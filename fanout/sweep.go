package fanout

// The timed flush: an audience with an interval (the public one, by
// default adaptive) gets its frame queued once per tick, and the frames
// are written by one sweep through the sockets instead of a goroutine per
// socket.

import (
	"runtime"
	"sync/atomic"
	"time"
)

// flushLoop flushes s every interval. The frames are written by sweep,
// not by a goroutine per socket; the next flush starts an interval after
// this one started, and never right on the heels of a long sweep: a node
// short of CPU then sends fewer, larger frames instead of overflowing
// every queue.
func (h *Hub) flushLoop(s *audState) {
	defer h.wg.Done()
	t := time.NewTimer(h.interval(s, 0))
	defer t.Stop()
	var kicks []*conn
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		start := time.Now()
		h.mu.Lock()
		if !h.closed {
			h.flushInto(s, &kicks)
		}
		h.mu.Unlock()
		n := len(kicks)
		if n > 0 {
			if h.sweep(kicks) {
				clear(kicks)
				kicks = kicks[:0]
			} else {
				kicks = nil // a stuck writer may still read it
			}
			if n >= minCostSample {
				cost := time.Since(start) / time.Duration(n)
				if s.writeCost == 0 {
					s.writeCost = cost
				} else {
					s.writeCost += (cost - s.writeCost) / 4
				}
			}
		}
		h.mu.Lock()
		iv := h.interval(s, len(s.synced)+len(s.ahead))
		h.mu.Unlock()
		t.Reset(max(iv-time.Since(start), iv/3))
	}
}

// minCostSample is the fewest writes a sweep must have made for its time
// to update writeCost; smaller ones are mostly timer and scheduling noise.
const minCostSample = 64

// interval is the time to the next flush of s with conns connections.
// Adaptive: one and a half sweeps, so the writes take at most two thirds
// of the node's time, leaving the rest to the log, the fold and HTTP.
// Latency is the wait for the flush plus the sweep, so a shorter interval
// lowers it, but each flush is a write per socket whatever it carries.
// Measured at 10,000 walls and 10 posts/s on a quiet machine: 1.5 sweeps
// gave p99 211-219 ms in three runs at 6.3 µs of CPU per delivered
// message; 2 sweeps 260, 263 and 317 ms at 4.9-5.0 µs (the measured
// sweep's noise is doubled too). Before the first sweep is measured,
// FrameBudget stands in for the cost of a write.
func (h *Hub) interval(s *audState, conns int) time.Duration {
	if s.interval > 0 {
		return s.interval
	}
	var d time.Duration
	if s.writeCost > 0 {
		d = time.Duration(conns) * s.writeCost * 3 / 2
	} else {
		d = time.Duration(float64(conns) / float64(h.opts.FrameBudget) * float64(time.Second))
	}
	return min(max(d, MinPublicInterval), MaxPublicInterval)
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
