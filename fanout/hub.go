// Package fanout pushes an event's log, as folded by fold.Live, to websocket
// clients: public walls, moderators and facilitators. Each log entry is
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
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
	"github.com/backchannel/backchannel/fold"
)

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

	// public reads the public clients (reader.go); started is the origin
	// of mono's clock.
	public  clientReader
	started time.Time
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
		started: time.Now(),
	}
	for _, o := range opts.AllowedOrigins {
		h.origins[strings.ToLower(strings.TrimRight(o, "/"))] = true
	}
	h.upgrader = websocket.Upgrader{
		// Small read buffer: clients send little. Our frames are
		// written straight to the socket and need no buffer at all.
		ReadBufferSize:  256,
		WriteBufferPool: writeBufferPool,
		// Shared frames are compressed once for every client that offers
		// permessage-deflate (deflate.go).
		EnableCompression: true,
		CheckOrigin:       h.checkOrigin,
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
			ring: make([]msg, opts.RingSize), ahead: map[*conn]struct{}{}, wake: make(chan struct{}, 1)}
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

	h.public = newPublicReader(h, m.pollerWakeups.WithLabelValues(opts.Event))
	for _, s := range h.aud {
		h.wg.Add(1)
		if s.interval != 0 {
			go h.flushLoop(s)
		} else {
			go h.voteLoop(s)
		}
	}
	h.wg.Add(1)
	go h.pingLoop()
	if opts.SummaryEvery > 0 {
		h.wg.Add(1)
		go h.summaryLoop()
	}
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
			s.left()
		}
		all = append(all, conns...)
	}
	h.mu.Unlock()
	h.cancelSub()
	close(h.stop)
	h.public.stop()
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
	key := coalesceKey(e, eff) // the same for every audience
	for _, s := range h.aud {
		data, err := encodeEvent(s.a, e, eff)
		if err != nil {
			h.logger.Error("fanout: encoding an event", slog.Uint64("pos", e.Pos), slog.Any("err", err))
			continue
		}
		if data != nil {
			m := msg{pos: e.Pos, at: e.Time, data: data, key: key}
			s.pushCoalesced(m)
			s.pendCoalesced(m)
		}
		switch {
		case s.interval == 0 && (key == "" || len(s.pending) >= maxVoteRun):
			h.flushLocked(s)
		case s.interval == 0:
			// A vote count for a staff audience: gathered, and flushed
			// by the vote tick (coalesce.go) with the others.
		case data != nil || len(s.ahead) > 0:
			// Owed a frame, or clients ahead of this node may now be
			// caught up: flushLoop's next flush moves them.
			select {
			case s.wake <- struct{}{}:
			default:
			}
		case len(s.pending) == 0:
			// Nothing for this audience and nothing waiting: every
			// position up to here is in frames already queued, so a
			// client resuming from here joins the synced ones.
			s.flushed = h.head
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
	f.shared = true
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
		c.aud.left()
	}
	c.aud.met.slow.Inc()
	h.logger.Info("fanout: slow client cut off", slog.String("audience", c.aud.a.String()), slog.String("remote", c.remote))
	go c.closeWith(CloseSlow, "slow")
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
			now := time.Now()
			old := h.expiredLocked(now)
			silent := h.silentLocked(now)
			h.mu.Unlock()
			for _, c := range old {
				c.aud.met.rebalanced.Inc()
				c.closeWith(CloseRebalance, "rebalance")
			}
			for _, c := range silent {
				if h.logger.Enabled(context.Background(), slog.LevelDebug) {
					h.logger.Debug("fanout: silent client dropped", slog.String("remote", c.remote))
				}
				c.kill() // as readLoop's read deadline does
			}
		}
	}
}

// silentLocked returns the public connections the poller has read nothing
// from, not even a pong, for longer than PongWait. It stands for
// readLoop's read deadline, which closed a client PongWait after its last
// frame; checked once per ping tick, it closes one between PongWait and
// PongWait+PingInterval after (by default 60 to 85 s). Called with h.mu
// held.
func (h *Hub) silentLocked(now time.Time) []*conn {
	before := h.mono(now) - int64(h.opts.PongWait)
	var out []*conn
	s := h.aud[Public]
	silent := func(c *conn) bool {
		t := c.lastRead.Load()
		return t != 0 && t < before // 0: read by readLoop, which has its deadline
	}
	for _, c := range s.synced {
		if silent(c) {
			out = append(out, c)
		}
	}
	for c := range s.ahead {
		if silent(c) {
			out = append(out, c)
		}
	}
	return out
}

// mono is t on a monotonic clock of the hub's, in nanoseconds, always
// positive: what conn.lastRead holds.
func (h *Hub) mono(t time.Time) int64 {
	return max(int64(t.Sub(h.started)), 1)
}

// expiredLocked returns the connections past their maximum age, at most
// a tenth of them (and at least one) per call, so that a node never sends
// a large share of its clients away at once. Called with h.mu held.
func (h *Hub) expiredLocked(now time.Time) []*conn {
	if h.opts.MaxConnAge <= 0 {
		return nil
	}
	var old []*conn
	total := 0
	for _, s := range h.aud {
		total += len(s.synced) + len(s.ahead)
		for _, c := range s.synced {
			if now.After(c.expires) {
				old = append(old, c)
			}
		}
		for c := range s.ahead {
			if now.After(c.expires) {
				old = append(old, c)
			}
		}
	}
	if limit := max(total/10, 1); len(old) > limit {
		old = old[:limit]
	}
	return old
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
	s.opened++
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
