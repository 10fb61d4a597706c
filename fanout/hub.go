// Package fanout pushes an event's log, as folded by fold.Live, to websocket
// clients: public walls, moderators and facilitators. Each log event is
// encoded once per audience and the bytes are shared by every connection of
// that audience; public clients get what they are owed as one frame per
// short tick; every connection has a bounded queue and a slow one is cut
// off, never waited for. A client resumes from the last position it saw
// (positions and the epoch are the log's, so the same on every node), or
// gets a snapshot when that is not possible. docs/PROTOCOL.md is the wire
// protocol.
package fanout

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
	"github.com/backchannel/backchannel/fold"
)

// msg is one encoded message of one audience.
type msg struct {
	pos  uint64
	at   time.Time // the event's append time, for the delivery delay metric
	data []byte
}

// frame is what goes into a connection's queue: one websocket message,
// usually shared by every connection of an audience.
type frame struct {
	// wire is the whole websocket frame as it goes on the socket (a
	// server's frames are not masked, and compression is off), encoded
	// once and written with one write call per socket.
	wire []byte
	msgs int       // messages in the frame
	at   time.Time // the oldest event's time; zero when none
	ping bool      // a ping control frame instead of pm
}

var (
	pingFrame = &frame{ping: true}
	pongFrame = mustFrame([]byte(`[{"type":"pong"}]`), 0, time.Time{})
)

func mustFrame(data []byte, n int, at time.Time) *frame {
	return &frame{wire: textFrame(make([]byte, 0, len(data)+10), data), msgs: n, at: at}
}

// textFrame appends to b an unmasked, final websocket text frame carrying
// data (RFC 6455 section 5.2).
func textFrame(b, data []byte) []byte {
	return append(textHeader(b, len(data)), data...)
}

// textHeader appends the header of such a frame with n bytes of payload.
func textHeader(b []byte, n int) []byte {
	b = append(b, 0x80|websocket.TextMessage)
	switch {
	case n < 126:
		b = append(b, byte(n))
	case n <= 0xffff:
		b = append(b, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return b
}

// buildFrame joins encoded messages into one JSON array frame.
func buildFrame(head []byte, ms []msg) *frame {
	n := len(head) + 2 + len(ms)
	for i := range ms {
		n += len(ms[i].data)
	}
	// One allocation: the header's room, then the payload, then the
	// header is written in front of it.
	const hdr = 10
	buf := make([]byte, hdr, hdr+n)
	b := buf[hdr:hdr]
	b = append(b, '[')
	if head != nil {
		b = append(b, head...)
	}
	for i := range ms {
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = append(b, ms[i].data...)
	}
	b = append(b, ']')
	var at time.Time
	if len(ms) > 0 {
		at = ms[0].at
	}
	h := textHeader(make([]byte, 0, hdr), len(b))
	wire := buf[hdr-len(h) : hdr+len(b)]
	copy(wire, h)
	return &frame{wire: wire, msgs: len(ms), at: at}
}

// audState is the hub's state for one audience. Guarded by Hub.mu except
// the snapshot cache, which has its own lock.
type audState struct {
	a        Audience
	interval time.Duration // 0: immediate; -1: adaptive (public only)
	met      audMetrics

	// ring holds the most recent messages, in position order, for clients
	// that resume. Every message with pos > floor is in it.
	ring     []msg
	start, n int
	floor    uint64
	flushed  uint64 // positions up to here are in frames already queued
	pending  []msg  // messages after flushed, for the next frame
	synced   []*conn
	ahead    map[*conn]struct{} // clients whose position is past flushed
	// writeCost is the measured wall time of one socket's write in a
	// flush sweep (a moving average), from which the adaptive interval is
	// chosen; zero until measured. Only flushLoop touches it.
	writeCost time.Duration
	snapMu    sync.Mutex
	snapPos   uint64
	snapData  []byte
}

func (s *audState) push(m msg) {
	if s.n == len(s.ring) {
		s.floor = s.ring[s.start].pos
		s.ring[s.start] = msg{}
		s.start = (s.start + 1) % len(s.ring)
		s.n--
	}
	s.ring[(s.start+s.n)%len(s.ring)] = m
	s.n++
}

// between returns the ring's messages with after < pos <= through.
func (s *audState) between(after, through uint64) []msg {
	at := func(i int) *msg { return &s.ring[(s.start+i)%len(s.ring)] }
	i := sort.Search(s.n, func(i int) bool { return at(i).pos > after })
	var out []msg
	for ; i < s.n && at(i).pos <= through; i++ {
		out = append(out, *at(i))
	}
	return out
}

func (s *audState) addSynced(c *conn) {
	c.idx = len(s.synced)
	s.synced = append(s.synced, c)
}

func (s *audState) remove(c *conn) bool {
	if c.idx >= 0 {
		last := s.synced[len(s.synced)-1]
		s.synced[c.idx] = last
		last.idx = c.idx
		s.synced[len(s.synced)-1] = nil
		s.synced = s.synced[:len(s.synced)-1]
		c.idx = -1
		return true
	}
	if _, ok := s.ahead[c]; ok {
		delete(s.ahead, c)
		return true
	}
	return false
}

// Hub serves one event's websocket clients on one node.
type Hub struct {
	feed     Feed
	log      eventlog.Log
	opts     Options
	epoch    string
	logger   *slog.Logger
	upgrader websocket.Upgrader
	origins  map[string]bool

	mu        sync.Mutex
	ready     bool
	early     []earlyEvent
	head      uint64 // the last position applied
	aud       [numAudiences]*audState
	closed    bool
	cancelSub func()
	stop      chan struct{}
	wg        sync.WaitGroup
}

type earlyEvent struct {
	e   event.Entry
	eff fold.Effect
}

// writeBufferPool lends write buffers to connections only while a message
// is written through gorilla's NextWriter, which nothing here does (control
// frames and our frames need none): so no connection holds one.
var writeBufferPool = &sync.Pool{}

// New starts a hub for the event whose log is log and whose live fold is
// feed. It reads the log's epoch, subscribes to the fold and starts the
// flush and heartbeat timers; Close stops them.
func New(ctx context.Context, feed Feed, log eventlog.Log, opts Options) (*Hub, error) {
	opts = opts.withDefaults()
	head, err := log.Head(ctx)
	if err != nil {
		return nil, fmt.Errorf("fanout: reading the log's epoch: %w", err)
	}
	h := &Hub{
		feed:    feed,
		log:     log,
		opts:    opts,
		epoch:   head.Epoch,
		logger:  opts.Logger.With(slog.String("event", opts.Event)),
		origins: map[string]bool{},
		stop:    make(chan struct{}),
	}
	for _, o := range opts.AllowedOrigins {
		h.origins[strings.ToLower(strings.TrimRight(o, "/"))] = true
	}
	h.upgrader = websocket.Upgrader{
		// Small read buffer: clients send little. Our frames are
		// written straight to the socket and need no buffer at all.
		ReadBufferSize:  256,
		WriteBufferPool: writeBufferPool,
		CheckOrigin:     h.checkOrigin,
	}
	m := newMetrics(opts.Registerer)
	for a := Audience(0); a < numAudiences; a++ {
		iv := opts.StaffInterval
		if a == Public {
			switch {
			case opts.PublicInterval == 0:
				iv = -1
			case opts.PublicInterval < 0:
				iv = 0
			default:
				iv = opts.PublicInterval
			}
		}
		h.aud[a] = &audState{a: a, interval: iv, met: m.forAudience(opts.Event, a),
			ring: make([]msg, opts.RingSize), ahead: map[*conn]struct{}{}}
	}

	// Subscribe before reading the position: every event after p0 then
	// reaches onEvent; those at or before p0 are in any snapshot and are
	// dropped there.
	h.cancelSub = feed.Subscribe(h.onEvent)
	p0 := feed.Pos()
	h.mu.Lock()
	h.ready = true
	h.head = p0
	for _, s := range h.aud {
		s.floor, s.flushed = p0, p0
	}
	for _, ee := range h.early {
		h.applyLocked(&ee.e, &ee.eff)
	}
	h.early = nil
	h.mu.Unlock()

	for _, s := range h.aud {
		if s.interval != 0 {
			h.wg.Add(1)
			go h.flushLoop(s)
		}
	}
	h.wg.Add(1)
	go h.pingLoop()
	h.logger.Info("fanout hub started", slog.String("epoch", h.epoch), slog.Uint64("pos", p0))
	return h, nil
}

// Epoch is the log's epoch, as clients must echo it to resume.
func (h *Hub) Epoch() string { return h.epoch }

// Close stops the hub and closes every connection with 1001 (going away);
// clients reconnect, to this node or another, and resume.
func (h *Hub) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	var all []*conn
	for _, s := range h.aud {
		conns := slices.Clone(s.synced)
		for c := range s.ahead {
			conns = append(conns, c)
		}
		for _, c := range conns {
			s.remove(c)
			s.met.connections.Dec()
		}
		all = append(all, conns...)
	}
	h.mu.Unlock()
	h.cancelSub()
	close(h.stop)
	h.wg.Wait()
	for _, c := range all {
		c.closeWith(websocket.CloseGoingAway, "going away")
	}
}

func (h *Hub) onEvent(e event.Entry, eff fold.Effect) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	if !h.ready {
		h.early = append(h.early, earlyEvent{e, eff})
		return
	}
	h.applyLocked(&e, &eff)
}

func (h *Hub) applyLocked(e *event.Entry, eff *fold.Effect) {
	if e.Pos <= h.head {
		return
	}
	if e.Pos != h.head+1 {
		// The feed promises dense positions; say so loudly if not, but go on:
		// clients resume by position, so nothing is repeated.
		h.logger.Error("fanout: gap in the feed", slog.Uint64("after", h.head), slog.Uint64("pos", e.Pos))
	}
	h.head = e.Pos
	for _, s := range h.aud {
		data, err := encodeEvent(s.a, e, eff)
		if err != nil {
			h.logger.Error("fanout: encoding an event", slog.Uint64("pos", e.Pos), slog.Any("err", err))
			continue
		}
		if data != nil {
			m := msg{pos: e.Pos, at: e.Time, data: data}
			s.push(m)
			s.pending = append(s.pending, m)
		}
		if s.interval == 0 {
			h.flushLocked(s)
		}
	}
}

// flushLocked queues what s's clients are owed since the last flush: one
// frame, built and encoded once, shared by every synced client, and starts
// their writers.
func (h *Hub) flushLocked(s *audState) {
	h.flushInto(s, nil)
}

// flushInto is flushLocked; with kicks non-nil, the connections whose
// writer must be started are appended to *kicks instead, for the caller to
// start after releasing Hub.mu.
func (h *Hub) flushInto(s *audState, kicks *[]*conn) {
	to := h.head
	if len(s.pending) == 0 {
		s.flushed = to
		for c := range s.ahead {
			if c.sent <= to {
				delete(s.ahead, c)
				s.addSynced(c)
			}
		}
		return
	}
	f := buildFrame(nil, s.pending)
	var cut []*conn
	for _, c := range s.synced {
		ok, kick := c.put(f)
		switch {
		case !ok:
			cut = append(cut, c)
		case kick && kicks != nil:
			*kicks = append(*kicks, c)
		case kick:
			c.kick()
		}
	}
	// Clients ahead of this node (resumed with a position it had not
	// reached) get only what is after their position; rare, so built per client.
	for c := range s.ahead {
		i := sort.Search(len(s.pending), func(i int) bool { return s.pending[i].pos > c.sent })
		if i < len(s.pending) && !c.enqueue(buildFrame(nil, s.pending[i:])) {
			cut = append(cut, c)
			continue
		}
		if c.sent <= to {
			delete(s.ahead, c)
			s.addSynced(c)
		}
	}
	s.flushed = to
	clear(s.pending)
	s.pending = s.pending[:0]
	for _, c := range cut {
		h.cutSlowLocked(c)
	}
}

func (h *Hub) cutSlowLocked(c *conn) {
	if c.aud.remove(c) {
		c.aud.met.connections.Dec()
	}
	c.aud.met.slow.Inc()
	h.logger.Info("fanout: slow client cut off", slog.String("audience", c.aud.a.String()), slog.String("remote", c.remote))
	go c.closeWith(CloseSlow, "slow")
}

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

func (h *Hub) pingLoop() {
	defer h.wg.Done()
	t := time.NewTicker(h.opts.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
			h.mu.Lock()
			for _, s := range h.aud {
				var cut []*conn
				for _, c := range s.synced {
					if !c.enqueue(pingFrame) {
						cut = append(cut, c)
					}
				}
				for c := range s.ahead {
					if !c.enqueue(pingFrame) {
						cut = append(cut, c)
					}
				}
				for _, c := range cut {
					h.cutSlowLocked(c)
				}
			}
			h.mu.Unlock()
		}
	}
}

// attachLocked registers c as having seen everything up to pos and queues
// first (a snapshot or resume message) with what it missed from the ring.
// It reports false when the ring no longer reaches back to pos.
func (h *Hub) attachLocked(c *conn, pos uint64, first []byte) bool {
	s := c.aud
	if pos < s.floor {
		return false
	}
	missed := s.between(pos, s.flushed)
	c.q <- buildFrame(first, missed) // the queue is empty: it fits
	c.kick()
	if pos <= s.flushed {
		s.addSynced(c)
	} else {
		c.sent = pos
		s.ahead[c] = struct{}{}
	}
	s.met.connections.Inc()
	return true
}

// errClosed is returned to a connection that arrives while the hub closes.
var errClosed = fmt.Errorf("fanout: hub closed: %w", eventlog.ErrClosed)

// join starts c at since when the epoch matches and the node can serve
// everything after it, else with a snapshot.
func (h *Hub) join(ctx context.Context, c *conn, since uint64, hasSince bool, epoch string) error {
	s := c.aud
	if hasSince && epoch == h.epoch {
		ok := true
		h.mu.Lock()
		head := h.head
		h.mu.Unlock()
		if since > head {
			// Past what this node has applied: fine if another node showed
			// it (this one catches up), not if the log never had it.
			lh, err := h.log.Head(ctx)
			if err != nil {
				return fmt.Errorf("fanout: reading the log head: %w", err)
			}
			ok = since <= lh.Last
		}
		if ok {
			first, _ := encodeResume(since, h.epoch)
			h.mu.Lock()
			if h.closed {
				h.mu.Unlock()
				return errClosed
			}
			ok = h.attachLocked(c, since, first)
			h.mu.Unlock()
			if ok {
				s.met.resumes.Inc()
				return nil
			}
		}
	}
	// A snapshot; retried in the unlikely case that more messages than the
	// ring holds arrived between taking it and attaching.
	for range 3 {
		pos, data, err := h.snapshot(s)
		if err != nil {
			return err
		}
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			return errClosed
		}
		ok := h.attachLocked(c, pos, data)
		h.mu.Unlock()
		if ok {
			s.met.snapshots.Inc()
			return nil
		}
	}
	return fmt.Errorf("fanout: could not attach a snapshot: events arrive faster than the ring holds")
}

// snapshot returns audience s's encoded snapshot message and its position,
// reusing the last one while the fold has not moved: a wall full of
// reconnecting clients costs one encoding.
func (h *Hub) snapshot(s *audState) (uint64, []byte, error) {
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	if s.snapData != nil && h.feed.Pos() == s.snapPos {
		return s.snapPos, s.snapData, nil
	}
	snap := h.feed.Snapshot(s.a)
	data, err := encodeSnapshot(s.a, h.epoch, snap)
	if err != nil {
		return 0, nil, fmt.Errorf("fanout: encoding a snapshot: %w", err)
	}
	s.snapPos, s.snapData = snap.Pos, data
	return snap.Pos, data, nil
}

func (h *Hub) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true // not a browser; credentials still apply
	}
	if h.origins[strings.ToLower(strings.TrimRight(origin, "/"))] {
		return true
	}
	u, err := url.Parse(origin)
	if err == nil && strings.EqualFold(u.Host, r.Host) {
		return true
	}
	return false
}

// Conns returns the number of open connections per audience, in Audience order.
func (h *Hub) Conns() []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]int, 0, numAudiences)
	for _, s := range h.aud {
		out = append(out, len(s.synced)+len(s.ahead))
	}
	return out
}
