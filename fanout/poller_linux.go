//go:build linux

package fanout

// The public sockets' poller: one per hub, so that an idle public
// connection costs no goroutine.
//
// A goroutine parked in gorilla's read path costs a 4 KiB stack (the read
// path grows it past the 2 KiB it starts with); at 10,000 idle walls that
// was 41.5 MB of the process's ~100 MB, more than the sockets, queues and
// heap together. Public clients send almost nothing (a pong every
// PingInterval), so their sockets are watched by one epoll instance
// instead, and read only when they hold something:
//
//   - Each public socket is registered level-triggered, with
//     EPOLLIN|EPOLLRDHUP|EPOLLONESHOT. The event's data is the
//     connection's id in the poller's map, never its file descriptor: a
//     closed connection's fd number is soon another's.
//   - The poller's goroutine does not sit in epoll_wait. The epoll fd is
//     itself pollable, so it is handed to Go's netpoller (os.NewFile) and
//     the goroutine parks there like any socket reader, calling
//     epoll_wait with a zero timeout when woken; a goroutine blocked in a
//     syscall would keep its P until sysmon takes it back, up to 10 ms
//     in which, at GOMAXPROCS=1, nothing else (the sweep) runs.
//   - On readiness the poller reads what the socket holds without
//     blocking (syscall.Read inside SyscallConn().Control, until EAGAIN or
//     a short read, at most pollReadsPerWake reads), parses the frames by
//     hand (clientframe.go: a read may end mid-header, or hold several
//     frames) and hands whole messages to onMessage, as readLoop does.
//     All of that runs on the poller's goroutine: nothing there blocks.
//     Answers go through the connection's queue; closes through closeWith
//     and kill, whose writes run on goroutines of their own; only the
//     linger after closing a misbehaving client (closeReader, up to two
//     seconds of reading) gets a short-lived goroutine.
//   - Then the socket is re-armed (EPOLL_CTL_MOD) inside a Control call,
//     which holds the fd open: a socket closed meanwhile makes Control
//     fail, and its number, perhaps reused, is never re-armed for the
//     wrong connection. A closed fd leaves the epoll set by itself, and
//     the connection's map entry goes when it detaches from the hub.
//   - Liveness: readLoop's read deadline (PongWait, moved on by every
//     frame) has no equivalent here, so the poller records when it last
//     read anything from each socket and the hub's pingLoop, which visits
//     every connection every PingInterval anyway, kills those silent for
//     longer than PongWait (hub.go, silentLocked).
//   - A client that closes (EOF, a reset, EPOLLHUP/EPOLLERR) is killed
//     as readLoop's read error does: detached, its socket closed and its
//     place in the limits given back.
//
// Staff clients keep a goroutine each (readLoop), as do public ones on a
// socket that is not a plain one (SyscallConn unavailable) or if the
// epoll instance cannot be made.

import (
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// pollEvents is what a socket is armed for: readable, or its peer gone;
// once per arming (EPOLLONESHOT), level-triggered (no EPOLLET), so bytes
// left unread after a re-arm wake the poller again.
const pollEvents = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

// pollReadSize is the poller's read buffer: a client's messages are a few
// dozen bytes, and one at most ReadLimit (default 4 KiB).
const pollReadSize = 16 << 10

// pollReadsPerWake bounds the reads of one socket per readiness, so that
// one client sending without pause does not hold up the others: the
// socket is re-armed, and being level-triggered comes back at once.
const pollReadsPerWake = 4

// pollBatch is how many ready sockets one epoll_wait returns at most.
const pollBatch = 256

// polled is what a conn keeps for the poller.
type polled struct {
	in  clientFrames    // what is half read; only the poller touches it
	rc  syscall.RawConn // the socket, for reading and re-arming
	pid uint64          // the id in the poller's map; guarded by poller.mu
}

// poller reads the public clients of one hub; see the top of this file.
type poller struct {
	h       *Hub
	ep      *os.File // the epoll instance, parked on in Go's netpoller
	epfd    int
	wakeups prometheus.Counter
	// Only the poller's goroutine uses these.
	events []syscall.EpollEvent
	ready  []*conn
	buf    []byte

	stopping atomic.Bool

	mu     sync.Mutex
	next   uint64           // the last id given
	conns  map[uint64]*conn // the connections watched, by id
	closed bool             // the epoll fd is closed or closing
}

// newPublicReader returns the hub's poller, or a goroutine per client if
// the poller cannot be made.
func newPublicReader(h *Hub, wakeups prometheus.Counter) clientReader {
	p, err := newPoller(h, wakeups)
	if err != nil {
		h.logger.Warn("fanout: no poller for public sockets, one reader goroutine each", slog.Any("err", err))
		return goroutineReader{}
	}
	return p
}

func newPoller(h *Hub, wakeups prometheus.Counter) (*poller, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("fanout: epoll_create1: %w", err)
	}
	// Non-blocking, so that os.NewFile hands it to the netpoller.
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("fanout: epoll fd: %w", err)
	}
	ep := os.NewFile(uintptr(fd), "fanout-epoll")
	// A file the netpoller does not hold has no deadlines: then a read
	// of it would fail instead of parking.
	if err := ep.SetReadDeadline(time.Time{}); err != nil {
		ep.Close()
		return nil, fmt.Errorf("fanout: epoll fd not pollable: %w", err)
	}
	rc, err := ep.SyscallConn()
	if err != nil {
		ep.Close()
		return nil, fmt.Errorf("fanout: epoll fd: %w", err)
	}
	p := &poller{
		h: h, ep: ep, epfd: fd, wakeups: wakeups,
		events: make([]syscall.EpollEvent, pollBatch),
		ready:  make([]*conn, pollBatch),
		buf:    make([]byte, pollReadSize),
		conns:  map[uint64]*conn{},
	}
	h.wg.Add(1)
	go p.run(rc)
	return p, nil
}

// serve registers c's socket. A socket without a file descriptor of its
// own (a TLS one: the hub is behind no proxy) is read by readLoop.
func (p *poller) serve(c *conn) {
	var rc syscall.RawConn
	sc, ok := c.ws.NetConn().(syscall.Conn)
	if ok {
		var err error
		if rc, err = sc.SyscallConn(); err != nil {
			ok = false
		}
	}
	if !ok {
		go c.readLoop()
		return
	}
	c.rc = rc
	c.lastRead.Store(p.h.mono(time.Now()))
	p.mu.Lock()
	if p.closed || c.dead.Load() {
		// Closed already, or the hub is closing and closes it.
		p.mu.Unlock()
		return
	}
	p.next++
	id := p.next
	c.pid = id
	p.conns[id] = c
	ev := pollEvent(id)
	var aerr error
	cerr := rc.Control(func(fd uintptr) {
		aerr = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev)
	})
	if cerr == nil && aerr == nil {
		p.mu.Unlock()
		return
	}
	delete(p.conns, id)
	p.mu.Unlock()
	if cerr != nil {
		return // the socket closed: whoever closed it detached it
	}
	// Out of epoll watches (fs.epoll.max_user_watches) or memory: this
	// client gets a goroutine, as before.
	p.h.logger.Warn("fanout: cannot poll a public socket, reading it on a goroutine", slog.Any("err", aerr))
	c.lastRead.Store(0)
	go c.readLoop()
}

func (p *poller) forget(c *conn) {
	p.mu.Lock()
	if c.pid != 0 {
		delete(p.conns, c.pid)
	}
	p.mu.Unlock()
}

// stop closes the epoll instance, which ends run.
func (p *poller) stop() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.stopping.Store(true)
	p.ep.Close()
}

// run is the poller's goroutine. It holds the epoll fd (rc.Read) while it
// runs, so re-arming never uses a closed or reused epoll fd.
func (p *poller) run(rc syscall.RawConn) {
	defer p.h.wg.Done()
	var werr error
	err := rc.Read(func(efd uintptr) bool {
		for !p.stopping.Load() {
			n, err := syscall.EpollWait(int(efd), p.events, 0)
			if err == syscall.EINTR {
				continue
			}
			if err != nil {
				werr = err
				return true
			}
			if n == 0 {
				return false // parks until the epoll fd is readable again
			}
			p.wakeups.Inc()
			p.handle(int(efd), p.events[:n])
		}
		return true
	})
	switch {
	case werr != nil:
		// Not expected (EBADF, EINVAL); the public sockets are no longer
		// read, and pingLoop closes them as silent: they reconnect.
		p.h.logger.Error("fanout: the public sockets' poller stopped", slog.Any("err", werr))
	case err != nil && !p.stopping.Load():
		p.h.logger.Error("fanout: the public sockets' poller stopped", slog.Any("err", err))
	}
}

// handle serves the sockets that events say are ready.
func (p *poller) handle(efd int, events []syscall.EpollEvent) {
	p.mu.Lock()
	for i := range events {
		p.ready[i] = p.conns[eventID(&events[i])] // nil: closed since
	}
	p.mu.Unlock()
	for i := range events {
		c := p.ready[i]
		p.ready[i] = nil
		if c != nil {
			p.read(efd, c, eventID(&events[i]), events[i].Events)
		}
	}
}

// read reads what c's socket holds, handles it and re-arms the socket
// unless c is done.
func (p *poller) read(efd int, c *conn, id uint64, events uint32) {
	if c.dead.Load() {
		return
	}
	now := time.Now()
	for range pollReadsPerWake {
		var n int
		var rerr error
		if err := c.rc.Control(func(fd uintptr) {
			for {
				n, rerr = syscall.Read(int(fd), p.buf)
				if rerr != syscall.EINTR {
					return
				}
			}
		}); err != nil {
			return // the socket closed: whoever closed it detached it
		}
		if rerr == syscall.EAGAIN {
			if events&(syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
				c.kill() // nothing to read, yet hung up: re-arming would spin
				return
			}
			break
		}
		if rerr != nil || n <= 0 {
			// EOF or a reset: the client left, as readLoop's read error.
			c.kill()
			return
		}
		c.lastRead.Store(p.h.mono(now))
		if ok, code, reason := c.readFrames(now, p.buf[:n]); !ok {
			if code != 0 {
				go c.closeReader(code, reason)
			} else {
				c.kill()
			}
			return
		}
		if n < len(p.buf) {
			break // drained, most likely; if not, level-triggering says so
		}
	}
	if c.dead.Load() {
		return
	}
	ev := pollEvent(id)
	var merr error
	if err := c.rc.Control(func(fd uintptr) {
		merr = syscall.EpollCtl(efd, syscall.EPOLL_CTL_MOD, int(fd), &ev)
	}); err != nil {
		return
	}
	if merr != nil {
		p.h.logger.Debug("fanout: re-arming a public socket", slog.String("remote", c.remote), slog.Any("err", merr))
		c.kill()
	}
}

// pollEvent is the registration of the connection whose id is id. The
// event's 8 bytes of data are split by package syscall into Fd and Pad;
// both carry the id, which is only ever read back by eventID.
func pollEvent(id uint64) syscall.EpollEvent {
	return syscall.EpollEvent{Events: pollEvents, Fd: int32(uint32(id)), Pad: int32(uint32(id >> 32))}
}

func eventID(ev *syscall.EpollEvent) uint64 {
	return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
}
