package fold

import "github.com/backchannel/backchannel/event"

// withdraw takes a post its author edited out of the event (it no longer
// carries the event's tags) off every public surface: the wall, the pins,
// the questions and the one being read. Unlike a delete it stays in the
// moderators' view, rejected, with the reason as its rule, holding the
// version that dropped the tags when the entry carries it. Its undo history
// is cleared, so no undo can put the version the author took back on the
// wall again; a moderator may still approve the post as it now reads.
func (s *State) withdraw(c *change, e event.Entry) (bool, string) {
	p := s.live(e.PostID)
	if p == nil {
		return false, ""
	}
	if e.Post != nil && e.Post.ID != p.v.ID {
		return false, ""
	}
	if p.v.State == StateRejected && p.v.Rule == e.Reason && (e.Post == nil || samePost(p.v.Post, *e.Post)) {
		return false, "" // the same withdrawal read again
	}
	c.touch(p)
	s.clearEdit(p) // an edit waiting is moot: the author took the post out of the event
	if e.Post != nil {
		p.keepOriginal(*e.Post)
		p.v.Post, p.v.Version = p.redacted(*e.Post), e.Pos
	}
	if p.v.State != StateRejected {
		s.setState(c, p, StateRejected)
	}
	s.unpin(p)
	if p.v.Question {
		s.unquestion(c, p)
	}
	p.history = nil
	p.v.Rule, p.v.DecidedBy, p.v.DecidedAt = e.Reason, e.Actor, e.Time
	return true, "took " + s.postName(p.v.ID) + " off every public surface: " + clip(e.Reason)
}

// samePost reports whether two versions of a post read the same, so a
// withdrawal repeated by a source changes nothing.
func samePost(a, b event.Post) bool {
	return a.URI == b.URI && a.EditedAt.Equal(b.EditedAt) && a.HTML == b.HTML && a.Text == b.Text
}
