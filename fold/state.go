// Package fold turns an event's log into the views every screen needs: the
// public wall, the moderation queue, the facilitators' questions, the audit
// trail and the counts. The fold is pure and deterministic: it reads no clock
// (times come from the events), so every node that folds the same log shows
// the same thing. State is the fold itself; Live keeps one up to date by
// tailing a log. The rules it implements are written down in docs/FOLD.md.
package fold

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/backchannel/backchannel/event"
)

// Rules the fold itself applies, shown to moderators as PostView.Rule.
const (
	RuleAuthorBlocked = "author blocked"
	RuleDomainBlocked = "domain blocked"
	RuleEditedFirst   = "edited before it was received"
	// RuleNoVerdict is the EditRule of an edit logged without the rules'
	// verdict (by a sink with no rules, or before edits were judged): held.
	RuleNoVerdict = "edit not checked by the rules"
)

// rulesActor is who DecidedBy names when the moderation rules (or a block)
// decided a post's state on arrival: the system, not the source that saw it.
var rulesActor = event.Actor{Role: event.RoleSystem, Name: "rules"}

// post is the fold's record of one post.
type post struct {
	v PostView
	// pinPos is the position of the pin event: pins are ordered by it
	// (newest first), since positions are a total order and times are not.
	pinPos uint64
	// history holds the moderation state before each decision, most recent
	// last, so post.undone can take the last one back.
	history []snapshot
	// deleted marks a post deleted at its source: it is kept only so later
	// events on it are recognised as no-ops.
	deleted bool
	// rehearsal marks a post the rehearsal source made up (as received):
	// going live removes it (golive.go).
	rehearsal bool
	// lastEdit is the post.edited event that brought the newest version
	// (the pending edit, or the content when none is pending), so undo
	// can put that version back in the queue with its rule and place.
	lastEdit editInfo
	// raw is the newest version from the source as it came, before any
	// redaction or revision: PostView.Original once the moderators
	// changed the post (redact.go).
	raw event.Post
}

// editInfo is what the queue shows of an edit besides the new version.
type editInfo struct {
	rule string
	pos  uint64
	at   time.Time
}

// snapshot is a post's moderation state, as undo restores it.
type snapshot struct {
	state    PostState
	rule     string
	by       event.Actor
	at       time.Time
	pinned   bool
	pinnedAt time.Time
	pinPos   uint64
	// shown is the version the post showed when the decision took it off
	// the wall or showed its edit; nil when it was not on the wall.
	shown *event.Post
}

type blockRec struct {
	BlockView
	pos uint64
}

// State is the fold of one event's log. The zero value is not usable; use
// New or Fold. A State is not safe for concurrent use: Live wraps one for
// that.
type State struct {
	settings SettingsView
	pos      uint64

	posts map[string]*post
	// order holds every post ever received, in receipt (log) order, so the
	// queue, the wall and blocks walk posts deterministically without sorting.
	order  []*post
	pinned []*post // pinned posts, in no particular order (Wall sorts them)
	counts Counts

	blocks map[string]*blockRec

	questions map[string]*QuestionView // every question in a list, by id
	open      []string                 // open and reading questions, the facilitators' order
	answered  []string                 // answered questions, in the order answered
	reading   string                   // id of the question being read, "" when none

	audit []AuditEntry
	stage []StageMessageView

	// voters holds, per listed question, the devices that vote for it
	// (votes.go). Keyed by the question's record, so a question that
	// leaves the lists and comes back starts again from no votes.
	voters map[*QuestionView]map[string]struct{}
	// live is set by event.went_live: rehearsal posts received after it
	// are ignored (golive.go).
	wentLive bool
}

// New returns the state of an empty log with the event's configured
// settings; settings.changed events override them as they are folded.
func New(initial SettingsView) *State {
	initial.Display = maps.Clone(initial.Display)
	if len(initial.Display) == 0 {
		initial.Display = nil // so "no options" has one form and compares equal
	}
	return &State{
		settings:  initial,
		posts:     make(map[string]*post),
		blocks:    make(map[string]*blockRec),
		questions: make(map[string]*QuestionView),
	}
}

// Fold returns the state after applying events, in order, to New(initial).
func Fold(initial SettingsView, events []event.Entry) *State {
	s := New(initial)
	for _, e := range events {
		s.Apply(e)
	}
	return s
}

// Pos returns the position of the last event applied, 0 for none.
func (s *State) Pos() uint64 { return s.pos }

// Settings returns the event's settings as they stand.
func (s *State) Settings() SettingsView {
	v := s.settings
	v.Display = maps.Clone(v.Display)
	return v
}

// Post returns the moderator's view of the post with this id. Posts deleted
// at their source, and ids never received, are not found.
func (s *State) Post(id string) (PostView, bool) {
	p := s.posts[id]
	if p == nil || p.deleted {
		return PostView{}, false
	}
	return p.v, true
}

// Wall returns what public surfaces show: at most limit approved posts
// (limit <= 0: all), pinned first (newest pin first), then newest received
// first, and the question being read out.
func (s *State) Wall(limit int) Wall {
	n := s.counts.Approved
	if limit > 0 && limit < n {
		n = limit
	}
	w := Wall{Posts: make([]PublicPost, 0, n), Pos: s.pos}
	pinned := slices.Clone(s.pinned)
	slices.SortFunc(pinned, func(a, b *post) int { return cmpDesc(a.pinPos, b.pinPos) })
	full := func() bool { return limit > 0 && len(w.Posts) >= limit }
	for _, p := range pinned {
		if full() {
			break
		}
		w.Posts = append(w.Posts, public(p))
	}
	for i := len(s.order) - 1; i >= 0 && !full(); i-- {
		p := s.order[i]
		if !p.deleted && p.v.State == StateApproved && !p.v.Pinned {
			w.Posts = append(w.Posts, public(p))
		}
	}
	w.NowReading = s.nowReading()
	w.Questions = s.publicQuestions()
	return w
}

// Queue returns what waits for a moderator, oldest first: the pending
// posts, each with the rule that sent it to the queue, and the approved
// posts with an edit waiting (PostView.Edit), placed by when the edit came.
func (s *State) Queue() []PostView {
	out := make([]PostView, 0, s.counts.Pending+s.counts.Edits)
	for _, p := range s.order {
		if !p.deleted && (p.v.State == StatePending || p.v.Edit != nil) {
			out = append(out, p.v)
		}
	}
	if s.counts.Edits > 0 {
		slices.SortStableFunc(out, func(a, b PostView) int { return cmpAsc(a.queuePos(), b.queuePos()) })
	}
	return out
}

// Approved returns the approved posts, oldest first, for export.
func (s *State) Approved() []PostView {
	return s.postsIn(StateApproved)
}

func (s *State) postsIn(st PostState) []PostView {
	n := s.counts.Pending
	if st == StateApproved {
		n = s.counts.Approved
	}
	out := make([]PostView, 0, n)
	for _, p := range s.order {
		if !p.deleted && p.v.State == st {
			out = append(out, p.v)
		}
	}
	return out
}

// Questions returns the open questions, the one being read among them, in
// the facilitators' order.
func (s *State) Questions() []QuestionView {
	return s.questionList(s.open)
}

// Answered returns the answered questions, in the order they were answered.
func (s *State) Answered() []QuestionView {
	return s.questionList(s.answered)
}

func (s *State) questionList(ids []string) []QuestionView {
	out := make([]QuestionView, 0, len(ids))
	for _, id := range ids {
		out = append(out, s.question(id))
	}
	return out
}

// question returns a copy of a listed question that shares no memory with
// the state.
func (s *State) question(id string) QuestionView {
	q := *s.questions[id]
	q.Notes = slices.Clone(q.Notes)
	return q
}

// Audit returns at most limit audit entries (limit <= 0: all), newest first.
func (s *State) Audit(limit int) []AuditEntry {
	return newestFirst(s.audit, limit)
}

// StageMessages returns at most limit messages sent to the stage (limit <=
// 0: all), newest first.
func (s *State) StageMessages(limit int) []StageMessageView {
	return newestFirst(s.stage, limit)
}

func newestFirst[T any](all []T, limit int) []T {
	n := len(all)
	if limit > 0 && limit < n {
		n = limit
	}
	out := make([]T, 0, n)
	for i := len(all) - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, all[i])
	}
	return out
}

// Counts returns the numbers the moderator page shows.
func (s *State) Counts() Counts {
	c := s.counts
	c.Live = s.wentLive
	c.QuestionsOpen = len(s.open)
	c.QuestionsAnswered = len(s.answered)
	return c
}

// Blocks returns the blocks in force at now, oldest first.
func (s *State) Blocks(now time.Time) []BlockView {
	var recs []*blockRec
	for _, b := range s.blocks {
		if inForce(b.Block, now) {
			recs = append(recs, b)
		}
	}
	slices.SortFunc(recs, func(a, b *blockRec) int { return cmpAsc(a.pos, b.pos) })
	out := make([]BlockView, 0, len(recs))
	for _, b := range recs {
		out = append(out, b.BlockView)
	}
	return out
}

// Blocked reports whether the author, or the author's domain, is blocked at
// the time at, and the rule to show for it ("author blocked" or "domain
// blocked").
func (s *State) Blocked(a event.Author, at time.Time) (blocked bool, rule string) {
	if a.ID != "" {
		if b := s.blocks[(&event.Block{AuthorID: a.ID}).Key()]; b != nil && inForce(b.Block, at) {
			return true, RuleAuthorBlocked
		}
	}
	if d := a.Domain(); d != "" {
		if b := s.blocks[(&event.Block{Domain: d}).Key()]; b != nil && inForce(b.Block, at) {
			return true, RuleDomainBlocked
		}
	}
	return false, ""
}

// inForce reports whether b applies at t: until its Until, or for good.
func inForce(b event.Block, t time.Time) bool {
	return b.Until.IsZero() || t.Before(b.Until)
}

// covers reports whether block b names the author a.
func covers(b event.Block, a event.Author) bool {
	if b.AuthorID != "" {
		return a.ID == b.AuthorID
	}
	d := a.Domain()
	return d != "" && d == strings.ToLower(b.Domain)
}

// public is the post as a public surface may show it.
func public(p *post) PublicPost {
	pp := PublicPost{Post: p.v.Post, Pinned: p.v.Pinned, Question: p.v.Question}
	if p.v.MediaHidden {
		pp.Media = nil
	}
	return pp
}

// nowReading is the question being read, as the wall shows it.
func (s *State) nowReading() *PublicQuestion {
	if s.reading == "" {
		return nil
	}
	q := s.questions[s.reading]
	return &PublicQuestion{ID: q.ID, Text: q.Text, HTML: q.HTML, Author: q.Author, Name: q.Name}
}

func cmpAsc(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpDesc(a, b uint64) int { return cmpAsc(b, a) }
