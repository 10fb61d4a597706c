package fanout

// Votes come in bursts: hundreds of phones within seconds when a question
// appears. Each vote is a log entry, but a screen needs only the latest
// count, so a message for an event that changed only vote counts carries
// a key (the question's id) and states the count in full, never as an
// increment. A later message with the same key then makes the earlier one
// redundant, and the hub drops it: from the frame being gathered (so a
// public tick carries one count per question however many votes came in
// it), and from the tail of the ring (so a burst does not push the
// messages clients resume from out of it). Only messages in an unbroken
// run of keyed messages are dropped, so a keyed message never moves past
// one that is not; and an immediate audience (the staff) has its keyed
// messages gathered for VoteInterval instead of sent one by one.

import (
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/fold"
)

// maxVoteRun bounds how many keyed messages an immediate audience gathers
// before it is flushed anyway.
const maxVoteRun = 256

// coalesceKey is the key of the messages of e: the question's id for an
// applied vote, which changes nothing but that question's count; "" for
// everything else.
func coalesceKey(e *event.Entry, eff *fold.Effect) string {
	if e.Kind != event.QuestionVoted && e.Kind != event.QuestionUnvoted {
		return ""
	}
	if !eff.Applied || eff.Wall != nil && (eff.Wall.Upsert != nil || eff.Wall.Remove != nil || eff.Wall.NowReadingChanged || eff.Wall.QuestionsChanged) {
		return ""
	}
	return "q:" + e.QuestionID
}

// pushCoalesced adds m to the ring, dropping a message with the same key
// from the run of keyed messages at the ring's end. The run holds at most
// one message per key, so it is as long as the questions being voted on.
func (s *audState) pushCoalesced(m msg) {
	if m.key != "" {
		at := func(i int) *msg { return &s.ring[(s.start+i)%len(s.ring)] }
		for i := s.n - 1; i >= 0 && at(i).key != ""; i-- {
			if at(i).key == m.key {
				for k := i; k < s.n-1; k++ {
					*at(k) = *at(k + 1)
				}
				*at(s.n - 1) = m
				return
			}
		}
	}
	s.push(m)
}

// pendCoalesced adds m to the next frame, dropping a message with the
// same key from the run of keyed messages at the frame's end.
func (s *audState) pendCoalesced(m msg) {
	if m.key != "" {
		for i := len(s.pending) - 1; i >= 0 && s.pending[i].key != ""; i-- {
			if s.pending[i].key == m.key {
				copy(s.pending[i:], s.pending[i+1:])
				s.pending[len(s.pending)-1] = m
				return
			}
		}
	}
	s.pending = append(s.pending, m)
}

// voteLoop flushes an immediate audience's gathered vote counts every
// VoteInterval; any other message flushes them at once with it.
func (h *Hub) voteLoop(s *audState) {
	defer h.wg.Done()
	t := time.NewTicker(h.opts.VoteInterval)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		h.mu.Lock()
		if !h.closed && len(s.pending) > 0 {
			h.flushLocked(s)
		}
		h.mu.Unlock()
	}
}
