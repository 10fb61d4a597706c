package fold

import (
	"fmt"
	"time"

	"github.com/backchannel/backchannel/event"
)

// isRehearsal reports whether p was made up by the rehearsal source.
func isRehearsal(p *event.Post) bool { return p.Source == event.SourceRehearsal }

// ignored reports whether a post arriving now is left out of every view:
// a rehearsal post once the event went live.
func (s *State) ignored(p *event.Post) bool { return s.wentLive && isRehearsal(p) }

// goLive ends the rehearsal: every rehearsal post leaves every view as a
// post deleted at its source does (the wall, the queue, questions,
// now-reading, pins, exports), with every decision about it, and blocks of
// their made-up authors are lifted. Unlike a deletion it is not counted:
// Received and Deleted drop the rehearsal as if it never happened. The
// audit keeps every entry it had and one line for this. Going live again
// with no rehearsal post left changes nothing.
func (s *State) goLive(c *change, e event.Entry) (bool, string) {
	authors := map[string]bool{}
	n := 0
	kept := s.order[:0]
	for _, p := range s.order {
		if !p.rehearsal || p.deleted {
			kept = append(kept, p)
			continue
		}
		c.touch(p)
		if p.v.Question {
			s.unquestion(c, p)
		}
		s.unpin(p)
		s.clearEdit(p)
		s.count(p.v.State, -1)
		s.counts.Received--
		p.deleted = true
		if p.v.Author.ID != "" {
			authors[(&event.Block{AuthorID: p.v.Author.ID}).Key()] = true
		}
		n++
	}
	// Out of the receipt order too, so no view walks them again; the map
	// keeps them, deleted, so later events on them are no-ops.
	clear(s.order[len(kept):])
	s.order = kept
	s.counts.Rehearsal = 0
	lifted := 0
	for k := range authors {
		if s.blocks[k] != nil {
			delete(s.blocks, k)
			lifted++
		}
	}
	if s.wentLive && n == 0 {
		return false, "already live: no rehearsal post left to remove"
	}
	s.wentLive = true
	sum := fmt.Sprintf("went live: %d rehearsal %s removed from every view", n, plural(n, "post", "posts"))
	if lifted > 0 {
		sum += fmt.Sprintf(", %d %s of made-up authors lifted", lifted, plural(lifted, "block", "blocks"))
	}
	return true, sum
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// reverses reports whether moderator decision e would take back another
// person's decision on p that the moderator had not seen: e says which
// state the moderator saw (Entry.Was), p is in another one now, and a
// person (not the rules) put it there within event.ReversalWindow of e.
// The API then asks the moderator first, who decides again with no Was.
func (s *State) reverses(p *post, e event.Entry) bool {
	if e.Was == "" || string(p.v.State) == e.Was {
		return false
	}
	switch p.v.DecidedBy.Role {
	case event.RoleModerator, event.RoleFacilitator:
	default:
		return false
	}
	return e.Time.Sub(p.v.DecidedAt) < event.ReversalWindow
}

func reversalSummary(p *post, e event.Entry) string {
	by := p.v.DecidedBy.Name
	if by == "" {
		by = "another " + string(p.v.DecidedBy.Role)
	}
	return fmt.Sprintf("not applied: would reverse %s's decision (%s at %s), made after the moderator looked; asked first",
		by, p.v.State, p.v.DecidedAt.UTC().Format(time.TimeOnly))
}

// stageRead marks the stage message at e.Ref read, once: the first
// acknowledgement counts.
func (s *State) stageRead(c *change, e event.Entry) bool {
	for i := range s.stage {
		m := &s.stage[i]
		if m.Pos != e.Ref {
			continue
		}
		if !m.ReadAt.IsZero() {
			return false
		}
		m.ReadAt, m.ReadBy = e.Time, e.Actor
		out := *m
		c.stage = &out
		return true
	}
	return false
}
