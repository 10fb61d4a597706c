package fold

import (
	"maps"
	"reflect"
	"slices"

	"github.com/backchannel/backchannel/event"
)

// change collects what one event touches, so the Effect is computed in one
// place by comparing before and after instead of each transition having to
// remember every audience it might affect.
type change struct {
	posts     []*post
	wasPublic map[*post]*PublicPost // nil value: the post was not on the wall
	qids      []string
	qseen     map[string]bool
	reading   *PublicQuestion
	stage     *StageMessageView
	settings  *SettingsView
	wall      WallDelta // settings part only; posts and now-reading are diffed
	kind      event.Kind
}

// touch records p's public form before the event changes it. Every
// transition calls it before mutating a post.
func (c *change) touch(p *post) {
	if _, ok := c.wasPublic[p]; ok {
		return
	}
	if c.wasPublic == nil {
		c.wasPublic = make(map[*post]*PublicPost)
	}
	var before *PublicPost
	if onWall(p) {
		pp := public(p)
		before = &pp
	}
	c.wasPublic[p] = before
	c.posts = append(c.posts, p)
}

// touchNew records a post that did not exist before the event.
func (c *change) touchNew(p *post) {
	if c.wasPublic == nil {
		c.wasPublic = make(map[*post]*PublicPost)
	}
	c.wasPublic[p] = nil
	c.posts = append(c.posts, p)
}

// touchQ records that the question with this id changed or left the list.
func (c *change) touchQ(id string) {
	if c.qseen[id] {
		return
	}
	if c.qseen == nil {
		c.qseen = make(map[string]bool)
	}
	c.qseen[id] = true
	c.qids = append(c.qids, id)
}

func onWall(p *post) bool { return !p.deleted && p.v.State == StateApproved }

// Apply folds e into the state and returns what it changed, per audience.
// Events must come in position order: an event at or before Pos() (a
// repeat) is ignored and reported not applied; an event with Pos 0 (not
// from a log, as in tests) takes the next position.
func (s *State) Apply(e event.Entry) Effect {
	if e.Pos == 0 {
		e.Pos = s.pos + 1
	} else if e.Pos <= s.pos {
		return Effect{Pos: e.Pos}
	}
	s.pos = e.Pos
	c := &change{reading: s.nowReading(), kind: e.Kind}
	applied, summary := s.transition(c, e)
	eff := s.effect(c, e.Pos, applied)
	if audited(e, summary) {
		if summary == "" {
			summary = s.describe(e)
		}
		s.audit = append(s.audit, AuditEntry{
			Pos: e.Pos, Time: e.Time, Kind: e.Kind, Actor: e.Actor,
			PostID: postIDOf(e), QuestionID: e.QuestionID,
			Summary: summary, Applied: applied,
		})
	}
	return eff
}

// audited reports whether e goes in the audit trail: every decision by a
// person or the system, and a post whose arrival a rule or block decided
// (the transition returns a summary for exactly those).
func audited(e event.Entry, summary string) bool {
	switch e.Actor.Role {
	case event.RoleModerator, event.RoleFacilitator, event.RoleSystem:
		return true
	}
	return (e.Kind == event.PostReceived || e.Kind == event.PostEdited) && summary != ""
}

func postIDOf(e event.Entry) string {
	if e.PostID == "" && e.Post != nil {
		return e.Post.ID
	}
	return e.PostID
}

// effect turns what c recorded into the Effect of the event at pos.
func (s *State) effect(c *change, pos uint64, applied bool) Effect {
	eff := Effect{Pos: pos, Applied: applied, Stage: c.stage, Settings: c.settings}
	wall := c.wall
	for _, p := range c.posts {
		p.v.LastPos = pos
		before := c.wasPublic[p]
		if p.deleted {
			eff.Gone = append(eff.Gone, p.v.ID)
		} else {
			eff.Posts = append(eff.Posts, p.v)
		}
		switch {
		case onWall(p):
			if after := public(p); before == nil || !reflect.DeepEqual(*before, after) {
				wall.Upsert = append(wall.Upsert, after)
			}
		case before != nil:
			wall.Remove = append(wall.Remove, p.v.ID)
		}
	}
	for _, id := range c.qids {
		if _, ok := s.questions[id]; ok {
			eff.Questions = append(eff.Questions, s.question(id))
		} else {
			eff.QuestionsGone = append(eff.QuestionsGone, id)
		}
	}
	if now := s.nowReading(); !reflect.DeepEqual(now, c.reading) {
		wall.NowReadingChanged, wall.NowReading = true, now
	}
	s.publicQuestionsDelta(c, &wall)
	if wall.Upsert != nil || wall.Remove != nil || wall.NowReadingChanged || wall.Title != "" || wall.Display != nil ||
		wall.QuestionsChanged || wall.Votes != nil {
		eff.Wall = &wall
	}
	return eff
}

// transition applies e and reports whether it changed anything, and, for
// decisions worth a particular audit line, its summary.
func (s *State) transition(c *change, e event.Entry) (bool, string) {
	switch e.Kind {
	case event.PostReceived:
		if e.Post == nil {
			return false, ""
		}
		return s.receive(c, e, e.Verdict)
	case event.PostEdited:
		return s.edit(c, e)
	case event.PostDeleted:
		return s.delete(c, e)
	case event.PostApproved:
		ok := s.decideTo(c, e, StateApproved)
		if ok {
			s.promoteCandidate(c, e)
		}
		return ok, ""
	case event.PostRejected:
		return s.decideTo(c, e, StateRejected), ""
	case event.PostUndone:
		return s.undo(c, e), ""
	case event.PostPinned:
		return s.pin(c, e), ""
	case event.PostUnpinned:
		p := s.live(e.PostID)
		if p == nil || !p.v.Pinned {
			return false, ""
		}
		c.touch(p)
		s.unpin(p)
		return true, ""
	case event.PostMediaHidden, event.PostMediaShown:
		p := s.live(e.PostID)
		hide := e.Kind == event.PostMediaHidden
		if p == nil || p.v.MediaHidden == hide {
			return false, ""
		}
		c.touch(p)
		p.v.MediaHidden = hide
		return true, ""
	case event.AuthorBlocked:
		return s.block(c, e)
	case event.AuthorUnblocked:
		if e.Block == nil || s.blocks[e.Block.Key()] == nil {
			return false, ""
		}
		delete(s.blocks, e.Block.Key())
		return true, ""
	case event.QuestionFlagged:
		return s.flag(c, e), ""
	case event.QuestionUnflagged:
		p := s.live(e.PostID)
		if p == nil || !p.v.Question {
			return false, ""
		}
		c.touch(p)
		s.unquestion(c, p)
		p.v.QuestionCandidate = false // a moderator said no: approving again does not ask it
		return true, ""
	case event.QuestionAdded:
		if e.Question == nil || e.Question.ID == "" || s.questions[e.Question.ID] != nil {
			return false, ""
		}
		q := &QuestionView{ID: e.Question.ID, Text: e.Question.Text, Name: e.Question.Name, State: QuestionOpen, AskedAt: e.Time}
		s.questions[q.ID] = q
		s.open = append(s.open, q.ID)
		c.touchQ(q.ID)
		return true, ""
	case event.QuestionReordered:
		return s.reorder(c, e.Order), ""
	case event.QuestionVoted, event.QuestionUnvoted:
		return s.vote(c, e), ""
	case event.QuestionReading, event.QuestionAnswered, event.QuestionReopened, event.QuestionNoted:
		return s.questionStep(c, e), ""
	case event.StageMessage:
		m := StageMessageView{Text: e.Message, By: e.Actor, At: e.Time, Pos: e.Pos}
		s.stage = append(s.stage, m)
		c.stage = &m
		return true, ""
	case event.SettingsChanged:
		return s.changeSettings(c, e), ""
	}
	return false, ""
}

// live returns the post with this id unless it is unknown or deleted.
func (s *State) live(id string) *post {
	p := s.posts[id]
	if p == nil || p.deleted {
		return nil
	}
	return p
}

// receive adds a new post with the state its verdict (or a block) gives it.
func (s *State) receive(c *change, e event.Entry, v *event.Verdict) (bool, string) {
	id := e.Post.ID
	if s.posts[id] != nil {
		return false, ""
	}
	p := &post{v: PostView{Post: *e.Post, State: StatePending, ReceivedPos: e.Pos, ReceivedAt: e.Time}}
	summary := ""
	p.v.QuestionCandidate = e.Post.Question
	if v != nil {
		p.v.Rule, p.v.Checks = v.Rule, v.Checks
		switch v.Decision {
		case event.DecisionApprove:
			p.v.State, summary = StateApproved, "approved by rule: "+v.Rule
		case event.DecisionReject:
			p.v.State, summary = StateRejected, "rejected by rule: "+v.Rule
		}
	}
	if blocked, rule := s.Blocked(p.v.Author, e.Time); blocked {
		p.v.State, p.v.Rule, summary = StateRejected, rule, "rejected: "+rule
	}
	if p.v.State != StatePending {
		p.v.DecidedBy, p.v.DecidedAt = rulesActor, e.Time
	}
	s.posts[id] = p
	s.order = append(s.order, p)
	s.counts.Received++
	s.count(p.v.State, 1)
	c.touchNew(p)
	return true, summary
}

// edit replaces a post's content, keeping where it stands in moderation.
func (s *State) edit(c *change, e event.Entry) (bool, string) {
	if e.Post == nil {
		return false, ""
	}
	p := s.posts[e.Post.ID]
	if p == nil {
		// The source saw the edit first (or the original append was
		// lost upstream): hold it for a moderator like any new post.
		return s.receive(c, e, &event.Verdict{Decision: event.DecisionHold, Rule: RuleEditedFirst})
	}
	if p.deleted {
		return false, ""
	}
	c.touch(p)
	p.v.Post = *e.Post
	if q := s.questions[p.v.ID]; q != nil && p.v.Question {
		q.Text, q.HTML, q.Author = p.v.Text, p.v.HTML, p.v.Author
		c.touchQ(q.ID)
	}
	return true, ""
}

// delete makes a post deleted at its source vanish from every view.
func (s *State) delete(c *change, e event.Entry) (bool, string) {
	p := s.live(e.PostID)
	if p == nil {
		return false, ""
	}
	c.touch(p)
	if p.v.Question {
		s.unquestion(c, p)
	}
	s.unpin(p)
	s.count(p.v.State, -1)
	s.counts.Deleted++
	p.deleted = true
	return true, ""
}

// decideTo moves a post to st by a moderator's decision; moving it to the
// state it is already in changes nothing.
func (s *State) decideTo(c *change, e event.Entry, st PostState) bool {
	p := s.live(e.PostID)
	if p == nil || p.v.State == st {
		return false
	}
	c.touch(p)
	s.decide(c, p, st, e)
	return true
}

// decide records p's state on its undo stack and moves it to st. A post
// that leaves the approved state leaves the wall's pins and the question
// list too, so nothing public can hold it.
func (s *State) decide(c *change, p *post, st PostState, e event.Entry) {
	p.history = append(p.history, snapshot{
		state: p.v.State, rule: p.v.Rule, by: p.v.DecidedBy, at: p.v.DecidedAt,
		pinned: p.v.Pinned, pinnedAt: p.v.PinnedAt, pinPos: p.pinPos,
	})
	s.setState(c, p, st)
	p.v.DecidedBy, p.v.DecidedAt = e.Actor, e.Time
}

func (s *State) setState(c *change, p *post, st PostState) {
	s.count(p.v.State, -1)
	p.v.State = st
	s.count(st, 1)
	if st != StateApproved {
		s.unpin(p)
		if p.v.Question {
			s.unquestion(c, p)
		}
	}
}

// undo takes back the post's last decision.
func (s *State) undo(c *change, e event.Entry) bool {
	p := s.live(e.PostID)
	if p == nil || len(p.history) == 0 {
		return false
	}
	c.touch(p)
	last := p.history[len(p.history)-1]
	p.history = p.history[:len(p.history)-1]
	s.setState(c, p, last.state)
	p.v.Rule, p.v.DecidedBy, p.v.DecidedAt = last.rule, last.by, last.at
	if last.pinned && last.state == StateApproved {
		p.v.Pinned, p.v.PinnedAt, p.pinPos = true, last.pinnedAt, last.pinPos
		s.pinned = append(s.pinned, p)
		s.counts.Pinned++
	}
	return true
}

func (s *State) pin(c *change, e event.Entry) bool {
	p := s.live(e.PostID)
	if p == nil || p.v.State == StateRejected || p.v.Pinned {
		return false
	}
	c.touch(p)
	if p.v.State == StatePending {
		s.decide(c, p, StateApproved, e)
	}
	p.v.Pinned, p.v.PinnedAt, p.pinPos = true, e.Time, e.Pos
	s.pinned = append(s.pinned, p)
	s.counts.Pinned++
	return true
}

func (s *State) unpin(p *post) {
	if !p.v.Pinned {
		return
	}
	p.v.Pinned, p.v.PinnedAt, p.pinPos = false, zeroTime, 0
	if i := slices.Index(s.pinned, p); i >= 0 {
		s.pinned = slices.Delete(s.pinned, i, i+1)
	}
	s.counts.Pinned--
}

// block records a block and rejects what the blocked author has in the
// queue or on the wall.
func (s *State) block(c *change, e event.Entry) (bool, string) {
	if e.Block == nil {
		return false, ""
	}
	b := *e.Block
	s.blocks[b.Key()] = &blockRec{BlockView: BlockView{Block: b, By: e.Actor, At: e.Time}, pos: e.Pos}
	rule := RuleAuthorBlocked
	if b.AuthorID == "" {
		rule = RuleDomainBlocked
	}
	n := 0
	if inForce(b, e.Time) {
		for _, p := range s.order {
			if p.deleted || p.v.State == StateRejected || !covers(b, p.v.Author) {
				continue
			}
			c.touch(p)
			s.decide(c, p, StateRejected, e)
			p.v.Rule = rule
			n++
		}
	}
	return true, s.describe(e) + postsRejected(n)
}

// flag makes a post a question at the end of the open list.
func (s *State) flag(c *change, e event.Entry) bool {
	p := s.live(e.PostID)
	if p == nil || p.v.State == StateRejected || p.v.Question || s.questions[p.v.ID] != nil {
		return false
	}
	c.touch(p)
	if p.v.State == StatePending {
		s.decide(c, p, StateApproved, e)
	}
	p.v.Question = true
	s.questions[p.v.ID] = &QuestionView{
		ID: p.v.ID, PostID: p.v.ID, Text: p.v.Text, HTML: p.v.HTML, Author: p.v.Author,
		State: QuestionOpen, AskedAt: e.Time,
	}
	s.open = append(s.open, p.v.ID)
	c.touchQ(p.v.ID)
	return true
}

// unquestion takes a post's question out of every list.
func (s *State) unquestion(c *change, p *post) {
	id := p.v.ID
	p.v.Question = false
	if s.questions[id] == nil {
		return
	}
	c.touchQ(id)
	s.open = remove(s.open, id)
	s.answered = remove(s.answered, id)
	if s.reading == id {
		s.reading = ""
	}
	delete(s.questions, id)
}

func remove(ids []string, id string) []string {
	if i := slices.Index(ids, id); i >= 0 {
		return slices.Delete(ids, i, i+1)
	}
	return ids
}

// reorder puts the listed open questions first, in the given order, and
// the rest after them in the order they had.
func (s *State) reorder(c *change, order []string) bool {
	next := make([]string, 0, len(s.open))
	placed := make(map[string]bool, len(s.open))
	for _, id := range order {
		q := s.questions[id]
		if q == nil || q.State == QuestionAnswered || placed[id] {
			continue
		}
		placed[id] = true
		next = append(next, id)
	}
	for _, id := range s.open {
		if !placed[id] {
			next = append(next, id)
		}
	}
	if slices.Equal(next, s.open) {
		return false
	}
	s.open = next
	for _, id := range next {
		c.touchQ(id)
	}
	return true
}

// questionStep moves a question along open -> reading -> answered, or
// notes it.
func (s *State) questionStep(c *change, e event.Entry) bool {
	q := s.questions[e.QuestionID]
	if q == nil {
		return false
	}
	switch e.Kind {
	case event.QuestionReading:
		if q.State != QuestionOpen {
			return false
		}
		if s.reading != "" {
			s.questions[s.reading].State = QuestionOpen
			c.touchQ(s.reading)
		}
		q.State, q.ReadAt, s.reading = QuestionReading, e.Time, q.ID
	case event.QuestionAnswered:
		if q.State == QuestionAnswered {
			return false
		}
		if s.reading == q.ID {
			s.reading = ""
		}
		q.State, q.AnsweredAt = QuestionAnswered, e.Time
		s.open = remove(s.open, q.ID)
		s.answered = append(s.answered, q.ID)
	case event.QuestionReopened:
		if q.State != QuestionAnswered {
			return false
		}
		q.State, q.AnsweredAt = QuestionOpen, zeroTime
		s.answered = remove(s.answered, q.ID)
		s.open = append(s.open, q.ID)
	case event.QuestionNoted:
		q.Notes = append(q.Notes, Note{Text: e.Note, By: e.Actor, At: e.Time})
	}
	c.touchQ(q.ID)
	return true
}

// changeSettings overrides the settings the event names; Display merges,
// an empty value deleting its key.
func (s *State) changeSettings(c *change, e event.Entry) bool {
	if e.Settings == nil {
		return false
	}
	next := s.Settings()
	if t := e.Settings.Title; t != nil {
		next.Title = *t
	}
	if m := e.Settings.Moderation; m != nil {
		next.Moderation = *m
	}
	for k, v := range e.Settings.Display {
		if v == "" {
			delete(next.Display, k)
			continue
		}
		if next.Display == nil {
			next.Display = make(map[string]string)
		}
		next.Display[k] = v
	}
	if len(next.Display) == 0 {
		next.Display = nil
	}
	if reflect.DeepEqual(next, s.settings) {
		return false
	}
	if next.Title != s.settings.Title {
		c.wall.Title = next.Title
	}
	if !maps.Equal(next.Display, s.settings.Display) {
		c.wall.Display = maps.Clone(next.Display)
		if c.wall.Display == nil {
			c.wall.Display = map[string]string{}
		}
	}
	s.settings = next
	out := s.Settings()
	c.settings = &out
	return true
}

// count moves the per-state counters.
func (s *State) count(st PostState, d int) {
	switch st {
	case StatePending:
		s.counts.Pending += d
	case StateApproved:
		s.counts.Approved += d
	case StateRejected:
		s.counts.Rejected += d
	}
}
