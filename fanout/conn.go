package fanout

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// conn is one websocket client. Its writes happen on a goroutine started
// only while its queue has frames, or in a public tick's sweep (sweep.go);
// a public client's socket is read by the hub's poller (poller_linux.go)
// when it holds something, a staff client's by a goroutine (readLoop). So
// an idle public connection costs no goroutine, only a few hundred bytes
// besides the socket.
type conn struct {
	h      *Hub
	aud    *audState
	ws     *websocket.Conn
	remote string
	// release gives the socket's place back to the hub's SocketLimits.
	release func()

	q        chan *frame
	deadline time.Time // the write deadline set on ws; only the writer touches it
	expires  time.Time // when the hub closes it with CloseRebalance; zero: never
	writing  atomic.Bool
	dead     atomic.Bool
	// lingering: the reader closes the socket itself, after draining it.
	lingering atomic.Bool
	once      sync.Once
	// closeMsg is the close frame to send; set once before dead.
	closeMsg []byte
	// deflate: the client negotiated permessage-deflate, so shared frames
	// go to it compressed.
	deflate bool

	// The token bucket bounding the client's messages (Options.ClientRate
	// and ClientBurst); only its reader touches them.
	tokens   float64
	tokensAt time.Time

	// For a public client the poller reads (poller_linux.go): when it
	// last read anything, as Hub.mono (0: not polled, read by readLoop),
	// and what else it keeps.
	lastRead atomic.Int64
	polled

	// Guarded by Hub.mu.
	idx  int    // index in aud.synced, -1 when not there
	sent uint64 // for a client in aud.ahead: the position it has seen
}

// enqueue queues f without blocking; false means the queue is full (the
// client is slow). Called with Hub.mu held.
func (c *conn) enqueue(f *frame) bool {
	ok, kick := c.put(f)
	if kick {
		c.kick()
	}
	return ok
}

// put queues f like enqueue but leaves starting the writer to the caller:
// kick reports that it is needed.
func (c *conn) put(f *frame) (ok, kick bool) {
	if c.dead.Load() {
		return true, false
	}
	select {
	case c.q <- f:
		return true, !c.writing.Load()
	default:
		return false, false
	}
}

// kick starts the writer unless it runs.
func (c *conn) kick() {
	if c.writing.CompareAndSwap(false, true) {
		go c.drain()
	}
}

func (c *conn) drain() {
	for {
		if c.dead.Load() {
			// Closed while queued frames waited: they are dropped (the
			// client resumes from its position) and the close frame goes
			// out after the write under way, so a client that is merely
			// slow still learns why.
			if c.closeMsg != nil {
				c.finish()
			}
			return
		}
		select {
		case f := <-c.q:
			if c.dead.Load() {
				continue // the close goes out at the top of the loop
			}
			if err := c.write(f); err != nil {
				// Leave writing set: no writer starts again on a dead connection.
				c.kill()
				return
			}
		default:
			c.writing.Store(false)
			// A frame queued, or a close asked for, between the empty read
			// and the Store would otherwise wait for a kick that never comes.
			if (len(c.q) == 0 && !c.dead.Load()) || !c.writing.CompareAndSwap(false, true) {
				return
			}
		}
	}
}

func (c *conn) write(f *frame) error {
	now := time.Now()
	if f.ping {
		return c.ws.WriteControl(websocket.PingMessage, nil, now.Add(c.h.opts.WriteWait))
	}
	// Moving the deadline costs a timer update per write; moving it only
	// when less than half of WriteWait is left bounds a blocked write
	// between WriteWait/2 and WriteWait, for a fraction of the updates.
	if c.deadline.Sub(now) < c.h.opts.WriteWait/2 {
		c.deadline = now.Add(c.h.opts.WriteWait)
		if err := c.ws.NetConn().SetWriteDeadline(c.deadline); err != nil {
			return err
		}
	}
	// Straight to the socket, past gorilla's writer: the frame is
	// complete, and one Write call is never interleaved with another on
	// the same socket (gorilla's control frames from the reader), so
	// frames stay whole. What it saves is a lock, a map lookup and a
	// deadline update per frame.
	b, z := f.wire, false
	if c.deflate && f.shared {
		b = f.deflated()
		z = len(b) != len(f.wire)
	}
	if _, err := c.ws.NetConn().Write(b); err != nil {
		return err
	}
	if f.control {
		return nil
	}
	m := &c.aud.met
	m.frames.Inc()
	if z {
		m.compressed.Inc()
	}
	if f.msgs > 0 {
		m.messages.Add(float64(f.msgs))
	}
	if !f.at.IsZero() {
		m.delay.Observe(time.Since(f.at).Seconds())
	}
	return nil
}

// detach removes c from the hub and gives its place back to the limits,
// once.
func (c *conn) detach() {
	c.h.mu.Lock()
	if c.aud.remove(c) {
		c.aud.left()
	}
	c.h.mu.Unlock()
	if c.aud.a == Public {
		c.h.public.forget(c)
	}
	c.release()
}

// kill drops the connection without a close frame (the socket failed).
func (c *conn) kill() {
	c.once.Do(func() {
		c.dead.Store(true)
		c.detach()
		if !c.lingering.Load() {
			c.ws.Close()
		}
	})
}

// closeWith sends a close frame with code and reason, after the write
// under way if any, then closes. Safe to call from any goroutine without
// Hub.mu held.
func (c *conn) closeWith(code int, reason string) {
	c.once.Do(func() {
		c.closeMsg = websocket.FormatCloseMessage(code, reason)
		c.dead.Store(true) // publishes closeMsg to the writer
		c.detach()
		if c.writing.CompareAndSwap(false, true) {
			go c.finish()
		}
	})
}

func (c *conn) finish() {
	_ = c.ws.WriteControl(websocket.CloseMessage, c.closeMsg, time.Now().Add(c.h.opts.WriteWait))
	if !c.lingering.Load() {
		c.ws.Close()
	}
}

// lingerFor bounds how long a misbehaving client's leftover bytes are read
// and dropped after its close frame.
const lingerFor = 2 * time.Second

// closeReader closes a client the reader found misbehaving. Closing a
// socket with unread bytes in it (the rest of a flood, the tail of an
// oversize frame) makes the kernel send a reset, and the client may lose
// the close frame and its reason; so the reader drops what the client
// still sends until it closes its side, for at most lingerFor, then closes.
func (c *conn) closeReader(code int, reason string) {
	c.lingering.Store(true)
	if code != 0 {
		c.closeWith(code, reason)
	} else {
		c.kill() // gorilla sent the close frame itself
	}
	nc := c.ws.NetConn()
	_ = nc.SetReadDeadline(time.Now().Add(lingerFor))
	_, _ = io.CopyN(io.Discard, nc, 1<<20)
	c.ws.Close()
}

// clientMsg is what a client may send.
type clientMsg struct {
	Type string `json:"type"`
}

// ServeWS upgrades the request to a websocket for audience a. The caller
// decides a from the request's credentials. Query: since (the last
// position the client saw) and epoch (the epoch it saw it in); without
// both the client starts from a snapshot. ServeWS returns once the
// connection is set up; it is served in the background until the client
// leaves or the hub closes. Returning frees net/http's connection state
// (its goroutine, buffers and request), most of what an idle socket would
// otherwise cost.
func (h *Hub) ServeWS(w http.ResponseWriter, r *http.Request, a Audience) {
	if a < 0 || a >= numAudiences {
		http.Error(w, "unknown audience", http.StatusInternalServerError)
		return
	}
	s := h.aud[a]
	if !h.checkOrigin(r) {
		s.met.badClient("origin")
		h.logger.Info("fanout: origin refused", slog.String("origin", r.Header.Get("Origin")), slog.String("remote", r.RemoteAddr))
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return
	}
	q := r.URL.Query()
	since, err := strconv.ParseUint(q.Get("since"), 10, 64)
	hasSince := err == nil
	epoch := q.Get("epoch")

	// Refused over a cap before the upgrade, so a flood from one address
	// costs the server a short HTTP answer, not a socket held open.
	release, ok := h.opts.Limits.admit(w, r, a, h.opts.Event)
	if !ok {
		return
	}
	ws, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		release()
		return // the upgrader answered with an HTTP error
	}
	c := &conn{h: h, aud: s, ws: ws, remote: r.RemoteAddr, release: release, q: make(chan *frame, h.opts.QueueSize), idx: -1,
		tokens: float64(h.opts.ClientBurst), tokensAt: time.Now(),
		deflate: h.upgrader.EnableCompression && deflateOffered(r.Header["Sec-Websocket-Extensions"])}
	if age := h.opts.MaxConnAge; age > 0 {
		c.expires = time.Now().Add(age/2 + rand.N(age))
	}

	// The request's context ends with the handler; the join may read the log.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err = h.join(ctx, c, since, hasSince, epoch)
	cancel()
	if err != nil {
		h.logger.Warn("fanout: join failed", slog.String("audience", a.String()), slog.Any("err", err))
		code := websocket.CloseInternalServerErr
		if errors.Is(err, errClosed) {
			code = websocket.CloseGoingAway
		}
		c.closeWith(code, "unavailable")
		return
	}
	if h.logger.Enabled(context.Background(), slog.LevelDebug) {
		h.logger.Debug("fanout: client joined", slog.String("audience", a.String()), slog.String("remote", c.remote),
			slog.Bool("resumed", hasSince && epoch == h.epoch))
	}
	if a == Public {
		h.public.serve(c)
	} else {
		go c.readLoop()
	}
}

// readLoop reads the client's frames on a goroutine of its own (ServeWS
// has returned by then): pongs extend the deadline; messages go to
// onMessage. Staff clients are read here; public ones too where the
// poller (poller_linux.go) is not available.
func (c *conn) readLoop() {
	defer c.kill()
	o := &c.h.opts
	c.ws.SetReadLimit(o.ReadLimit)
	_ = c.ws.SetReadDeadline(time.Now().Add(o.PongWait))
	c.ws.SetPongHandler(func(string) error {
		return c.ws.SetReadDeadline(time.Now().Add(o.PongWait))
	})
	// gorilla's own answer to a ping carries a one-second write deadline,
	// which would stay on the socket under the writer's (see write); this
	// one keeps WriteWait.
	c.ws.SetPingHandler(func(data string) error {
		err := c.ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(o.WriteWait))
		var ne net.Error
		if errors.Is(err, websocket.ErrCloseSent) || (errors.As(err, &ne) && ne.Timeout()) {
			return nil
		}
		return err
	})
	for {
		mt, r, err := c.ws.NextReader()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				// gorilla has sent 1009 (message too big) already.
				c.aud.met.badClient("oversize")
				c.closeReader(0, "")
			}
			return
		}
		// gorilla's read limit counts the bytes on the wire; a compressed
		// message could inflate to a thousand times that. The limit
		// holds for what it inflates to as well.
		data, err := io.ReadAll(io.LimitReader(r, o.ReadLimit+1))
		if err != nil {
			return
		}
		if int64(len(data)) > o.ReadLimit {
			c.aud.met.badClient("oversize")
			c.closeReader(websocket.CloseMessageTooBig, "")
			return
		}
		now := time.Now()
		_ = c.ws.SetReadDeadline(now.Add(o.PongWait))
		if ok, code, reason := c.onMessage(now, mt, data); !ok {
			if code != 0 {
				c.closeReader(code, reason)
			}
			return
		}
	}
}

// onMessage handles one whole data message of type mt (gorilla's
// TextMessage or BinaryMessage) from c's client, read at now; both readers
// (readLoop and the poller) call it. "ping" messages are answered; anything
// else, or a flood, closes this client only. It reports whether to go on
// reading; when not, a non-zero code and reason are the close frame the
// reader sends before it drops what the client still sends (closeReader),
// and a zero code means the connection is to be killed (it is closing
// already).
func (c *conn) onMessage(now time.Time, mt int, data []byte) (ok bool, code int, reason string) {
	o := &c.h.opts
	c.tokens = min(c.tokens+now.Sub(c.tokensAt).Seconds()*o.ClientRate, float64(o.ClientBurst))
	c.tokensAt = now
	if c.tokens < 1 {
		c.aud.met.badClient("flood")
		return false, websocket.ClosePolicyViolation, "flood"
	}
	c.tokens--
	var m clientMsg
	if mt != websocket.TextMessage || json.Unmarshal(data, &m) != nil {
		c.aud.met.badClient("bad_message")
		return false, websocket.CloseInvalidFramePayloadData, "bad message"
	}
	switch m.Type {
	case "ping":
		return c.reply(pongFrame), 0, ""
	default:
		c.aud.met.badClient("unknown_message")
		return false, websocket.ClosePolicyViolation, "unknown message"
	}
}

// reply queues f, an answer to the client, behind what c is owed; a full
// queue cuts c off as slow, and reply reports false.
func (c *conn) reply(f *frame) bool {
	c.h.mu.Lock()
	ok := c.enqueue(f)
	if !ok {
		c.h.cutSlowLocked(c)
	}
	c.h.mu.Unlock()
	return ok
}
