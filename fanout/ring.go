package fanout

// The hub's state for one audience: the ring of recent encoded messages
// from which a resuming client is sent what it missed, and the sets of
// connections that are owed the next frame.

import (
	"sort"
	"sync"
	"time"
)

// audState is the hub's state for one audience. Guarded by Hub.mu except
// the snapshot cache, which has its own lock.
type audState struct {
	a        Audience
	interval time.Duration // 0: immediate; -1: adaptive (public only); else the least spacing of flushes
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
	// wake tells flushLoop that the audience is owed something (capacity
	// one: a wake-up already waiting stands for any number).
	wake chan struct{}
	// opened and closed count connections since the hub started, for the
	// periodic summary (summary.go).
	opened, closed uint64
	snapMu         sync.Mutex
	snapPos        uint64
	snapData       []byte
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

// left counts a connection that was removed.
func (s *audState) left() {
	s.met.connections.Dec()
	s.closed++
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
