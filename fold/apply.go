package fold

import (
	"fmt"
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
	if e.Kind == event.SourceHealth || e.Kind == event.ConnectionsSampled {
		return false // records for the report, not decisions
	}
	switch e.Actor.Role {
	case event.RoleModerator, event.RoleFacilitator, event.RoleSystem:
		return true
	}
	return (e.Kind == event.PostReceived || e.Kind == event.PostEdited || e.Kind == event.PostWithdrawn) && summary != ""
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
	if e.Post != nil && (e.Post.Redacted || e.Post.Revised) {
		// The moderators' marks are the fold's to set, never a source's.
		cp := *e.Post
		cp.Redacted, cp.Revised = false, false
		e.Post = &cp
	}
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
	case event.PostWithdrawn:
		return s.withdraw(c, e)
	case event.PostApproved:
		ok, sum := s.decideTo(c, e, StateApproved)
		if ok {
			s.promoteCandidate(c, e)
		}
		return ok, sum
	case event.PostRejected:
		return s.decideTo(c, e, StateRejected)
	case event.PostUndone:
		return s.undo(c, e)
	case event.PostPinned:
		if ok, sum := s.staleApproval(e); !ok {
			return false, sum
		}
		return s.pin(c, e), ""
	case event.PostUnpinned:
		p := s.live(e.PostID)
		if p == nil || !p.v.Pinned {
			return false, ""
		}
		c.touch(p)
		s.unpin(p)
		return true, ""
	case event.PostRedacted:
		return s.redact(c, e)
	case event.PostRevised:
		return s.revise(c, e)
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
		if ok, sum := s.staleApproval(e); !ok {
			return false, sum
		}
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
	case event.StageRead:
		return s.stageRead(c, e), ""
	case event.SettingsChanged:
		return s.changeSettings(c, e), ""
	case event.EventWentLive:
		return s.goLive(c, e)
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
	if s.posts[id] != nil || s.ignored(e.Post) {
		return false, ""
	}
	p := &post{v: PostView{Post: *e.Post, State: StatePending, ReceivedPos: e.Pos, ReceivedAt: e.Time, Version: e.Pos}, raw: *e.Post}
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
	if isRehearsal(e.Post) {
		p.rehearsal = true
		s.counts.Rehearsal++
	}
	c.touchNew(p)
	return true, summary
}

// edit takes a new version of a post from its source. What the room sees
// never changes to a version nobody passed: a post not on the wall simply
// becomes its new version (a moderator sees it before it is shown), while
// an approved post shows the new version only when the rules approved it
// (e.Verdict, set by the sink); otherwise it keeps showing the version that
// was passed and the new one waits in the queue as its Edit.
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
	rule := RuleNoVerdict
	if e.Verdict != nil {
		rule = e.Verdict.Rule
	}
	p.lastEdit = editInfo{rule: rule, pos: e.Pos, at: e.Time}
	p.v.Version = e.Pos
	if e.Verdict != nil {
		p.v.Checks = e.Verdict.Checks // what the rules found in the version to decide on
	}
	// A moderator's redaction holds for every later version (redact.go).
	p.keepOriginal(*e.Post)
	version := p.redacted(*e.Post)
	if p.v.State != StateApproved {
		p.v.Post = version
		return true, ""
	}
	if e.Verdict != nil && e.Verdict.Decision == event.DecisionApprove {
		// A later version the rules passed makes any edit waiting moot.
		s.clearEdit(p)
		s.show(c, p, version)
		return true, "edit approved by rule: " + rule
	}
	s.setEdit(p, version)
	return true, "edit held for a moderator: " + rule
}

// show makes post the version p shows, its question following it.
func (s *State) show(c *change, p *post, content event.Post) {
	p.v.Post = content
	if q := s.questions[p.v.ID]; q != nil && p.v.Question {
		q.Text, q.HTML, q.Author = p.v.Text, p.v.HTML, p.v.Author
		c.touchQ(q.ID)
	}
}

// setEdit makes version the edit of p waiting for a moderator, replacing
// one already waiting; p.lastEdit says which event brought it.
func (s *State) setEdit(p *post, version event.Post) {
	if p.v.Edit == nil {
		s.counts.Edits++
	}
	p.v.Edit = &version
	p.v.EditRule, p.v.EditPos, p.v.EditReceivedAt = p.lastEdit.rule, p.lastEdit.pos, p.lastEdit.at
}

// clearEdit drops p's edit waiting, if any.
func (s *State) clearEdit(p *post) {
	if p.v.Edit == nil {
		return
	}
	s.counts.Edits--
	p.v.Edit, p.v.EditRule, p.v.EditPos, p.v.EditReceivedAt = nil, "", 0, zeroTime
}

// settle keeps "only an approved post has an edit waiting": a post not on
// the wall shows nothing, so it simply is its newest version.
func (s *State) settle(p *post) {
	if p.v.State != StateApproved && p.v.Edit != nil {
		edit := *p.v.Edit
		s.clearEdit(p)
		p.v.Post = edit
	}
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
	s.clearEdit(p)
	s.count(p.v.State, -1)
	s.counts.Deleted++
	if p.rehearsal {
		s.counts.Rehearsal--
	}
	p.deleted = true
	return true, ""
}

// decideTo moves a post to st by a moderator's decision; moving it to the
// state it is already in changes nothing, but for approving an approved
// post with an edit waiting: that shows the edit.
func (s *State) decideTo(c *change, e event.Entry, st PostState) (bool, string) {
	p := s.live(e.PostID)
	if p == nil {
		return false, ""
	}
	if st == StateApproved && stale(p, e) {
		return false, staleSummary(p, e)
	}
	if p.v.State != st && s.reverses(p, e) {
		return false, reversalSummary(p, e)
	}
	if p.v.State == st {
		if st != StateApproved || p.v.Edit == nil {
			return false, ""
		}
		c.touch(p)
		s.decide(c, p, st, e)
		sum := "approved the edit of " + s.postName(p.v.ID)
		if e.Reason != "" {
			sum += " (" + clip(e.Reason) + ")"
		}
		return true, sum
	}
	c.touch(p)
	s.decide(c, p, st, e)
	return true, ""
}

// stale reports whether e decides on a version of p other than the one it
// has now: the source sent another while the moderator looked.
func stale(p *post, e event.Entry) bool {
	return e.Seen != 0 && e.Seen != p.v.Version
}

// staleApproval reports false, with the audit's words, when e would
// approve a pending post (pinning and flagging do) whose version the
// moderator has not seen.
func (s *State) staleApproval(e event.Entry) (bool, string) {
	if p := s.live(e.PostID); p != nil && p.v.State == StatePending && stale(p, e) {
		return false, staleSummary(p, e)
	}
	return true, ""
}

func staleSummary(p *post, e event.Entry) string {
	return fmt.Sprintf("not applied: the post changed at its source since the moderator looked (saw version %d, now %d)", e.Seen, p.v.Version)
}

// decide records p's state on its undo stack and moves it to st. A post
// that leaves the approved state leaves the wall's pins and the question
// list too, so nothing public can hold it. A decision on a post with an
// edit waiting settles the edit: approving shows it; anything else takes
// the post off the wall, where it is its newest version. The version a
// shown post showed is kept on the stack, so undo never puts a version
// nobody passed on the wall.
func (s *State) decide(c *change, p *post, st PostState, e event.Entry) {
	snap := snapshot{
		state: p.v.State, rule: p.v.Rule, by: p.v.DecidedBy, at: p.v.DecidedAt,
		pinned: p.v.Pinned, pinnedAt: p.v.PinnedAt, pinPos: p.pinPos,
	}
	if p.v.State == StateApproved {
		// Undo shows this version again, whatever the source sends
		// while the post is off the wall or shows another version.
		shown := p.v.Post
		snap.shown = &shown
	}
	if p.v.Edit != nil {
		edit := *p.v.Edit
		s.clearEdit(p)
		if st == StateApproved {
			s.show(c, p, edit)
		} else {
			p.v.Post = edit
		}
	}
	p.history = append(p.history, snap)
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

// undo takes back the post's last decision. A post that goes back to the
// wall shows the version it showed before the decision (edits that came
// while it was off the wall, or an edit a moderator approved, were not
// passed for that); the newest version from the source, when it differs,
// waits in the queue again as the edit.
func (s *State) undo(c *change, e event.Entry) (bool, string) {
	p := s.live(e.PostID)
	if p == nil || len(p.history) == 0 {
		return false, ""
	}
	if s.reverses(p, e) {
		return false, reversalSummary(p, e)
	}
	c.touch(p)
	last := p.history[len(p.history)-1]
	p.history = p.history[:len(p.history)-1]
	s.setState(c, p, last.state)
	p.v.Rule, p.v.DecidedBy, p.v.DecidedAt = last.rule, last.by, last.at
	if last.shown != nil {
		newest := p.v.Post
		if p.v.Edit != nil {
			newest = *p.v.Edit
		}
		s.clearEdit(p)
		s.show(c, p, *last.shown)
		if p.v.State == StateApproved && !reflect.DeepEqual(newest, *last.shown) {
			s.setEdit(p, newest)
		}
	}
	// A post still pinned (an approved edit undone) keeps its pin.
	if last.pinned && last.state == StateApproved && !p.v.Pinned {
		p.v.Pinned, p.v.PinnedAt, p.pinPos = true, last.pinnedAt, last.pinPos
		s.pinned = append(s.pinned, p)
		s.counts.Pinned++
	}
	s.settle(p)
	return true, ""
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
