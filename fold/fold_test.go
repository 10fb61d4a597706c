package fold

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
)

// TestTransitions walks every kind of event through the states it can meet,
// including the transitions that must not happen.
func TestTransitions(t *testing.T) {
	type check func(t *testing.T, s *State, effs []Effect)
	cases := []struct {
		name   string
		events []event.Entry
		check  check
	}{
		{
			name:   "held post waits in the queue, off the wall",
			events: seq(pending("p1", ada)),
			check: func(t *testing.T, s *State, effs []Effect) {
				wantIDs(t, "queue", queueIDs(s), ids("p1"))
				wantIDs(t, "wall", wallIDs(s), nil)
				p, _ := s.Post(id("p1"))
				if p.Rule != "pre-moderation" || p.ReceivedPos != 1 || !p.ReceivedAt.Equal(t0.Add(time.Minute)) {
					t.Errorf("post = rule %q, received at #%d %v", p.Rule, p.ReceivedPos, p.ReceivedAt)
				}
				if effs[0].Wall != nil {
					t.Errorf("a held post changed the wall: %+v", effs[0].Wall)
				}
				if len(s.Audit(0)) != 0 {
					t.Errorf("a held post was audited: %+v", s.Audit(0))
				}
			},
		},
		{
			name:   "post with no verdict is pending",
			events: seq(received("p1", ada, "", "")),
			check: func(t *testing.T, s *State, _ []Effect) {
				wantState(t, s, "p1", StatePending)
			},
		},
		{
			name:   "rule approves and rejects on arrival, and says so in the audit",
			events: seq(received("p1", ada, event.DecisionApprove, "trusted domain mastodon.social"), received("p2", bob, event.DecisionReject, `blocked word "spam"`)),
			check: func(t *testing.T, s *State, effs []Effect) {
				wantState(t, s, "p1", StateApproved)
				wantState(t, s, "p2", StateRejected)
				wantIDs(t, "wall", wallIDs(s), ids("p1"))
				p2, _ := s.Post(id("p2"))
				if p2.Rule != `blocked word "spam"` || p2.DecidedBy != rulesActor {
					t.Errorf("rejected post: rule %q by %+v", p2.Rule, p2.DecidedBy)
				}
				if effs[1].Wall != nil {
					t.Errorf("rejected arrival changed the wall: %+v", effs[1].Wall)
				}
				if w := effs[0].Wall; w == nil || len(w.Upsert) != 1 || w.Upsert[0].ID != id("p1") || w.Upsert[0].Text != "hello from p1" {
					t.Errorf("approved arrival's wall effect = %+v", w)
				}
				a := s.Audit(0)
				if len(a) != 2 || !strings.Contains(a[0].Summary, "spam") || a[1].PostID != id("p1") || !a[0].Applied {
					t.Errorf("audit = %+v", a)
				}
			},
		},
		{
			name:   "second receipt of the same post changes nothing",
			events: seq(pending("p1", ada), received("p1", ada, event.DecisionApprove, "trusted")),
			check: func(t *testing.T, s *State, effs []Effect) {
				wantState(t, s, "p1", StatePending)
				if effs[1].Applied || effs[1].Posts != nil {
					t.Errorf("duplicate receipt effect = %+v", effs[1])
				}
				if s.Counts().Received != 1 {
					t.Errorf("received = %d", s.Counts().Received)
				}
			},
		},
		{
			name:   "deleted post vanishes from every view",
			events: seq(received("p1", ada, event.DecisionApprove, "auto"), act(event.PostPinned, moderator, "p1"), act(event.QuestionFlagged, moderator, "p1"), qstep(event.QuestionReading, id("p1")), pending("p2", ada), deleted("p1"), deleted("p2")),
			check: func(t *testing.T, s *State, effs []Effect) {
				wantState(t, s, "p1", "gone")
				wantState(t, s, "p2", "gone")
				wantIDs(t, "wall", wallIDs(s), nil)
				wantIDs(t, "queue", queueIDs(s), nil)
				wantIDs(t, "questions", questionIDs(s.Questions()), nil)
				wantIDs(t, "approved", idsOf(s.Approved()), nil)
				if s.Wall(0).NowReading != nil {
					t.Errorf("now reading a deleted post: %+v", s.Wall(0).NowReading)
				}
				c := s.Counts()
				if c.Deleted != 2 || c.Approved != 0 || c.Pending != 0 || c.Pinned != 0 || c.Received != 2 || c.QuestionsOpen != 0 {
					t.Errorf("counts = %+v", c)
				}
				e := effs[5]
				wantIDs(t, "gone", e.Gone, ids("p1"))
				wantIDs(t, "questions gone", e.QuestionsGone, ids("p1"))
				if e.Posts != nil || e.Wall == nil || !slices.Equal(e.Wall.Remove, ids("p1")) || !e.Wall.NowReadingChanged || e.Wall.NowReading != nil {
					t.Errorf("delete effect = %+v wall %+v", e, e.Wall)
				}
				if effs[6].Wall != nil || !slices.Equal(effs[6].Gone, ids("p2")) {
					t.Errorf("deleting a pending post: %+v", effs[6])
				}
			},
		},
		{
			name:   "every event on a deleted post is a no-op",
			events: seq(pending("p1", ada), deleted("p1"), act(event.PostApproved, moderator, "p1"), act(event.PostRejected, moderator, "p1"), act(event.PostPinned, moderator, "p1"), act(event.QuestionFlagged, moderator, "p1"), act(event.PostUndone, moderator, "p1"), act(event.PostMediaHidden, moderator, "p1"), edited("p1", ada, "back again?"), pending("p1", ada), deleted("p1")),
			check: func(t *testing.T, s *State, effs []Effect) {
				wantState(t, s, "p1", "gone")
				for i, e := range effs[2:] {
					if e.Applied || e.Wall != nil || e.Posts != nil || e.Gone != nil {
						t.Errorf("event %d after the delete had effect %+v", i+3, e)
					}
				}
				for _, a := range s.Audit(0) {
					if a.Applied {
						t.Errorf("audit says %q applied to a deleted post", a.Summary)
					}
				}
				if n := len(s.Audit(0)); n != 6 {
					t.Errorf("audit has %d entries, want the 6 moderator no-ops", n)
				}
			},
		},
		{
			name:   "approval racing a delete: approve first, then the delete wins",
			events: seq(pending("p1", ada), act(event.PostApproved, moderator, "p1"), deleted("p1")),
			check: func(t *testing.T, s *State, effs []Effect) {
				wantState(t, s, "p1", "gone")
				wantIDs(t, "wall", wallIDs(s), nil)
				if effs[2].Wall == nil || !slices.Equal(effs[2].Wall.Remove, ids("p1")) {
					t.Errorf("delete did not take the post off the wall: %+v", effs[2].Wall)
				}
			},
		},
		{
			name:   "approval racing a delete: delete first, the approval is a no-op",
			events: seq(pending("p1", ada), deleted("p1"), act(event.PostApproved, moderator, "p1")),
			check: func(t *testing.T, s *State, effs []Effect) {
				wantState(t, s, "p1", "gone")
				if effs[2].Applied || effs[2].Wall != nil {
					t.Errorf("approval of a deleted post: %+v", effs[2])
				}
				a := s.Audit(1)
				if len(a) != 1 || a[0].Applied || a[0].Kind != event.PostApproved {
					t.Errorf("audit = %+v", a)
				}
			},
		},
		{
			name:   "edit of a pending post stays in the queue",
			events: seq(pending("p1", ada), edited("p1", ada, "v2")),
			check: func(t *testing.T, s *State, effs []Effect) {
				wantIDs(t, "queue", queueIDs(s), ids("p1"))
				if effs[1].Wall != nil || len(effs[1].Posts) != 1 || effs[1].Posts[0].Text != "v2" {
					t.Errorf("edit effect = %+v", effs[1])
				}
			},
		},
		{
			name:   "edit of an unknown post is held as received",
			events: seq(edited("p1", ada, "edited first")),
			check: func(t *testing.T, s *State, _ []Effect) {
				p, ok := s.Post(id("p1"))
				if !ok || p.State != StatePending || p.Rule != RuleEditedFirst || p.Text != "edited first" {
					t.Errorf("post = %+v", p)
				}
			},
		},
		{
			name:   "two moderators at once: approve then reject ends rejected, both audited",
			events: seq(pending("p1", ada), act(event.PostApproved, moderator, "p1"), act(event.PostRejected, moderator2, "p1")),
			check: func(t *testing.T, s *State, effs []Effect) {
				p, _ := s.Post(id("p1"))
				if p.State != StateRejected || p.DecidedBy != moderator2 {
					t.Errorf("post = %s by %+v", p.State, p.DecidedBy)
				}
				wantAudit(t, s, []event.Actor{moderator2, moderator}, []bool{true, true})
				if effs[2].Wall == nil || !slices.Equal(effs[2].Wall.Remove, ids("p1")) {
					t.Errorf("reject did not take it off the wall: %+v", effs[2].Wall)
				}
			},
		},
		{
			name:   "two moderators at once: reject then approve ends approved, both audited",
			events: seq(pending("p1", ada), act(event.PostRejected, moderator, "p1"), act(event.PostApproved, moderator2, "p1")),
			check: func(t *testing.T, s *State, _ []Effect) {
				p, _ := s.Post(id("p1"))
				if p.State != StateApproved || p.DecidedBy != moderator2 {
					t.Errorf("post = %s by %+v", p.State, p.DecidedBy)
				}
				wantAudit(t, s, []event.Actor{moderator2, moderator}, []bool{true, true})
			},
		},
		{
			name:   "two moderators approving at once: the second is a no-op",
			events: seq(pending("p1", ada), act(event.PostApproved, moderator, "p1"), act(event.PostApproved, moderator2, "p1")),
			check: func(t *testing.T, s *State, effs []Effect) {
				p, _ := s.Post(id("p1"))
				if p.State != StateApproved || p.DecidedBy != moderator {
					t.Errorf("post = %s by %+v", p.State, p.DecidedBy)
				}
				wantAudit(t, s, []event.Actor{moderator2, moderator}, []bool{false, true})
				if effs[2].Applied || effs[2].Wall != nil {
					t.Errorf("second approval effect = %+v", effs[2])
				}
			},
		},
		{
			name:   "undo returns to the state before the last decision, one at a time",
			events: seq(pending("p1", ada), act(event.PostApproved, moderator, "p1"), act(event.PostRejected, moderator, "p1"), act(event.PostUndone, moderator, "p1")),
			check: func(t *testing.T, s *State, effs []Effect) {
				wantState(t, s, "p1", StateApproved)
				if effs[3].Wall == nil || len(effs[3].Wall.Upsert) != 1 {
					t.Errorf("undo effect = %+v", effs[3])
				}
				step(s, act(event.PostUndone, moderator, "p1"))
				wantState(t, s, "p1", StatePending)
				p, _ := s.Post(id("p1"))
				if p.DecidedBy != (event.Actor{}) || p.Rule != "pre-moderation" {
					t.Errorf("after undoing everything: decided by %+v, rule %q", p.DecidedBy, p.Rule)
				}
				if eff := step(s, act(event.PostUndone, moderator, "p1")); eff.Applied {
					t.Errorf("undo with nothing to undo applied: %+v", eff)
				}
				wantState(t, s, "p1", StatePending)
			},
		},
		{
			name:   "undo with nothing to undo is a no-op",
			events: seq(received("p1", ada, event.DecisionApprove, "auto"), act(event.PostUndone, moderator, "p1")),
			check: func(t *testing.T, s *State, effs []Effect) {
				wantState(t, s, "p1", StateApproved)
				if effs[1].Applied || effs[1].Wall != nil {
					t.Errorf("undo effect = %+v", effs[1])
				}
				if a := s.Audit(0); len(a) != 2 || a[0].Applied {
					t.Errorf("audit = %+v", a)
				}
			},
		},
		{
			name:   "undoing a reject brings back the pin it removed",
			events: seq(received("p1", ada, event.DecisionApprove, "auto"), act(event.PostPinned, moderator, "p1"), act(event.PostRejected, moderator, "p1"), act(event.PostUndone, moderator, "p1")),
			check: func(t *testing.T, s *State, _ []Effect) {
				p, _ := s.Post(id("p1"))
				if p.State != StateApproved || !p.Pinned || s.Counts().Pinned != 1 {
					t.Errorf("post = %s pinned %v", p.State, p.Pinned)
				}
			},
		},
		{
			name:   "pinning approves a pending post and can be undone; pinned come first, newest pin first",
			events: seq(received("p1", ada, event.DecisionApprove, "auto"), received("p2", ada, event.DecisionApprove, "auto"), pending("p3", cy), received("p4", ada, event.DecisionApprove, "auto"), act(event.PostPinned, moderator, "p1"), act(event.PostPinned, moderator, "p3")),
			check: func(t *testing.T, s *State, effs []Effect) {
				wantIDs(t, "wall", wallIDs(s), ids("p3", "p1", "p4", "p2"))
				if w := s.Wall(3); len(w.Posts) != 3 || w.Posts[2].ID != id("p4") || w.Pos != 6 {
					t.Errorf("wall(3) = %+v", w)
				}
				if e := effs[5]; e.Wall == nil || len(e.Wall.Upsert) != 1 || !e.Wall.Upsert[0].Pinned {
					t.Errorf("pin effect = %+v", e.Wall)
				}
				step(s, act(event.PostUndone, moderator, "p3"))
				wantState(t, s, "p3", StatePending)
				wantIDs(t, "wall after undo", wallIDs(s), ids("p1", "p4", "p2"))
			},
		},
		{
			name:   "pinning a rejected post is a no-op; unpin puts it back in its place",
			events: seq(received("p1", ada, event.DecisionReject, "spam"), act(event.PostPinned, moderator, "p1"), received("p2", ada, event.DecisionApprove, "auto"), received("p3", ada, event.DecisionApprove, "auto"), act(event.PostPinned, moderator, "p2"), act(event.PostUnpinned, moderator, "p2"), act(event.PostUnpinned, moderator, "p2")),
			check: func(t *testing.T, s *State, effs []Effect) {
				wantState(t, s, "p1", StateRejected)
				if effs[1].Applied {
					t.Errorf("pinning a rejected post applied")
				}
				wantIDs(t, "wall", wallIDs(s), ids("p3", "p2"))
				if !effs[5].Applied || effs[6].Applied {
					t.Errorf("unpin applied %v, second unpin applied %v", effs[5].Applied, effs[6].Applied)
				}
			},
		},
		{
			name:   "hidden media leaves the wall, stays for moderators",
			events: seq(received("p1", ada, event.DecisionApprove, "auto"), act(event.PostMediaHidden, moderator, "p1")),
			check: func(t *testing.T, s *State, effs []Effect) {
				if m := s.Wall(0).Posts[0].Media; m != nil {
					t.Errorf("wall media = %+v", m)
				}
				if p, _ := s.Post(id("p1")); len(p.Media) != 1 || !p.MediaHidden {
					t.Errorf("moderator view lost the media: %+v", p)
				}
				if e := effs[1]; e.Wall == nil || len(e.Wall.Upsert) != 1 || e.Wall.Upsert[0].Media != nil {
					t.Errorf("hide effect = %+v", e.Wall)
				}
				step(s, act(event.PostMediaShown, moderator, "p1"))
				if m := s.Wall(0).Posts[0].Media; len(m) != 1 {
					t.Errorf("media not shown again: %+v", m)
				}
			},
		},
		{
			name:   "blocking an author rejects their queued and approved posts and later ones, not others'",
			events: seq(pending("p1", bob), received("p2", bob, event.DecisionApprove, "auto"), received("p3", bob, event.DecisionReject, "spam"), pending("p4", ada), blockAuthor(bob, time.Time{}), received("p5", bob, event.DecisionApprove, "trusted"), event.Entry{Kind: event.AuthorUnblocked, Actor: moderator, Block: &event.Block{AuthorID: bob.ID}}),
			check: func(t *testing.T, s *State, effs []Effect) {
				for _, k := range []string{"p1", "p2", "p5"} {
					p, _ := s.Post(id(k))
					if p.State != StateRejected || p.Rule != RuleAuthorBlocked {
						t.Errorf("%s: %s, rule %q", k, p.State, p.Rule)
					}
				}
				p3, _ := s.Post(id("p3"))
				if p3.Rule != "spam" {
					t.Errorf("already rejected post's rule changed to %q", p3.Rule)
				}
				wantState(t, s, "p4", StatePending)
				e := effs[4]
				wantIDs(t, "block effect posts", idsOf(e.Posts), ids("p1", "p2"))
				if e.Wall == nil || !slices.Equal(e.Wall.Remove, ids("p2")) || e.Wall.Upsert != nil {
					t.Errorf("block wall effect = %+v", e.Wall)
				}
				if effs[5].Wall != nil {
					t.Errorf("blocked author's new post reached the wall effect: %+v", effs[5].Wall)
				}
				if len(s.Blocks(t0)) != 0 {
					t.Errorf("blocks after unblock = %+v", s.Blocks(t0))
				}
				a := s.Audit(0)
				if len(a) != 5 || !strings.Contains(a[2].Summary, "blocked @bob@troll.example for good; 2 posts rejected") || a[1].Summary != "rejected: author blocked" {
					t.Errorf("audit = %+v", a)
				}
				step(s, received("p6", bob, event.DecisionApprove, "trusted"))
				wantState(t, s, "p6", StateApproved)
				wantState(t, s, "p1", StateRejected)
			},
		},
		{
			name: "a block that expires applies to posts before its Until only",
			events: seq(
				blockAuthor(bob, t0.Add(10*time.Minute)),
				at(received("p1", bob, event.DecisionApprove, "auto"), t0.Add(9*time.Minute)),
				at(received("p2", bob, event.DecisionApprove, "auto"), t0.Add(10*time.Minute)),
			),
			check: func(t *testing.T, s *State, _ []Effect) {
				wantState(t, s, "p1", StateRejected)
				wantState(t, s, "p2", StateApproved)
				if b := s.Blocks(t0.Add(9 * time.Minute)); len(b) != 1 || b[0].By != moderator {
					t.Errorf("blocks at 9 minutes = %+v", b)
				}
				if b := s.Blocks(t0.Add(10 * time.Minute)); len(b) != 0 {
					t.Errorf("blocks at 10 minutes = %+v", b)
				}
				if ok, _ := s.Blocked(bob, t0.Add(10*time.Minute)); ok {
					t.Errorf("expired block still blocks")
				}
				if ok, rule := s.Blocked(bob, t0); !ok || rule != RuleAuthorBlocked {
					t.Errorf("Blocked = %v %q", ok, rule)
				}
				if a := s.Audit(0); !strings.Contains(a[len(a)-1].Summary, "until 2026-11-28 14:10 UTC") {
					t.Errorf("audit = %+v", a[len(a)-1])
				}
			},
		},
		{
			name:   "blocking again replaces the earlier block",
			events: seq(blockAuthor(bob, time.Time{}), blockAuthor(bob, t0.Add(5*time.Minute))),
			check: func(t *testing.T, s *State, _ []Effect) {
				if ok, _ := s.Blocked(bob, t0.Add(6*time.Minute)); ok {
					t.Errorf("the replaced, permanent block still applies")
				}
			},
		},
		{
			name:   "domain block covers every author on the domain, case-insensitively",
			events: seq(received("p1", bob, event.DecisionApprove, "auto"), pending("p2", ada), blockDomain("TROLL.example", time.Time{}), pending("p3", cat), pending("p4", cy)),
			check: func(t *testing.T, s *State, _ []Effect) {
				for _, k := range []string{"p1", "p3"} {
					p, _ := s.Post(id(k))
					if p.State != StateRejected || p.Rule != RuleDomainBlocked {
						t.Errorf("%s: %s %q", k, p.State, p.Rule)
					}
				}
				wantState(t, s, "p2", StatePending)
				wantState(t, s, "p4", StatePending)
				if ok, rule := s.Blocked(cat, t0); !ok || rule != RuleDomainBlocked {
					t.Errorf("Blocked(cat) = %v %q", ok, rule)
				}
			},
		},
		{
			name:   "unblock does not bring back posts; unblocking nobody is a no-op",
			events: seq(pending("p1", bob), blockAuthor(bob, time.Time{}), event.Entry{Kind: event.AuthorUnblocked, Actor: moderator, Block: &event.Block{AuthorID: bob.ID}}, event.Entry{Kind: event.AuthorUnblocked, Actor: moderator, Block: &event.Block{AuthorID: bob.ID}}),
			check: func(t *testing.T, s *State, effs []Effect) {
				wantState(t, s, "p1", StateRejected)
				if !effs[2].Applied || effs[3].Applied {
					t.Errorf("unblock applied %v, second %v", effs[2].Applied, effs[3].Applied)
				}
			},
		},
		{
			name:   "rejecting or undoing a question's post takes it off the list and off now-reading",
			events: seq(pending("p1", ada), act(event.QuestionFlagged, moderator, "p1"), qstep(event.QuestionReading, id("p1")), act(event.PostRejected, moderator, "p1")),
			check: func(t *testing.T, s *State, effs []Effect) {
				wantIDs(t, "questions", questionIDs(s.Questions()), nil)
				if p, _ := s.Post(id("p1")); p.Question {
					t.Errorf("rejected post still a question")
				}
				e := effs[3]
				wantIDs(t, "questions gone", e.QuestionsGone, ids("p1"))
				if e.Wall == nil || !e.Wall.NowReadingChanged || e.Wall.NowReading != nil {
					t.Errorf("reject effect wall = %+v", e.Wall)
				}
			},
		},
		{
			name:   "flagging approves a pending post; not a rejected one; undo takes it off the list",
			events: seq(pending("p1", ada), received("p2", ada, event.DecisionReject, "spam"), act(event.QuestionFlagged, moderator, "p1"), act(event.QuestionFlagged, moderator, "p2"), act(event.QuestionFlagged, moderator, "p1")),
			check: func(t *testing.T, s *State, effs []Effect) {
				wantState(t, s, "p1", StateApproved)
				wantIDs(t, "questions", questionIDs(s.Questions()), ids("p1"))
				if effs[3].Applied || effs[4].Applied {
					t.Errorf("flagging a rejected post applied %v, flagging twice %v", effs[3].Applied, effs[4].Applied)
				}
				e := effs[2]
				if e.Wall == nil || len(e.Wall.Upsert) != 1 || !e.Wall.Upsert[0].Question || len(e.Questions) != 1 || e.Questions[0].State != QuestionOpen {
					t.Errorf("flag effect = %+v", e)
				}
				step(s, act(event.PostUndone, moderator, "p1"))
				wantState(t, s, "p1", StatePending)
				wantIDs(t, "questions after undo", questionIDs(s.Questions()), nil)
			},
		},
		{
			name:   "unflag removes the question, keeps the post",
			events: seq(received("p1", ada, event.DecisionApprove, "auto"), act(event.QuestionFlagged, moderator, "p1"), act(event.QuestionUnflagged, moderator, "p1"), act(event.QuestionUnflagged, moderator, "p1")),
			check: func(t *testing.T, s *State, effs []Effect) {
				wantIDs(t, "questions", questionIDs(s.Questions()), nil)
				wantIDs(t, "wall", wallIDs(s), ids("p1"))
				if !slices.Equal(effs[2].QuestionsGone, ids("p1")) || effs[3].Applied {
					t.Errorf("unflag effect = %+v, second applied %v", effs[2], effs[3].Applied)
				}
			},
		},
		{
			name: "questions: reorder, read one at a time, answer, reopen, note",
			events: seq(
				received("p1", ada, event.DecisionApprove, "auto"),
				act(event.QuestionFlagged, moderator, "p1"),
				roomQuestion("r1", "How do we fund it?"),
				roomQuestion("r2", "Who decides?"),
				event.Entry{Kind: event.QuestionReordered, Actor: facilitator, Order: []string{"r2", "nope", id("p1"), "r2"}},
			),
			check: func(t *testing.T, s *State, effs []Effect) {
				wantIDs(t, "reordered", questionIDs(s.Questions()), []string{"r2", id("p1"), "r1"})
				wantIDs(t, "reorder effect", questionIDs(effs[4].Questions), []string{"r2", id("p1"), "r1"})
				if eff := step(s, event.Entry{Kind: event.QuestionReordered, Actor: facilitator, Order: []string{"r2"}}); eff.Applied {
					t.Errorf("reorder to the same order applied")
				}

				eff := step(s, qstep(event.QuestionReading, "r1"))
				if eff.Wall == nil || !eff.Wall.NowReadingChanged || eff.Wall.NowReading.Text != "How do we fund it?" || eff.Wall.NowReading.Name != "someone at the back" {
					t.Errorf("reading effect = %+v", eff.Wall)
				}
				eff = step(s, qstep(event.QuestionReading, id("p1")))
				nr := s.Wall(0).NowReading
				if nr == nil || nr.ID != id("p1") || nr.HTML != "<p>hello from p1</p>" || nr.Author != ada {
					t.Errorf("now reading = %+v", nr)
				}
				if len(eff.Questions) != 2 || eff.Questions[0].State != QuestionOpen || eff.Questions[1].State != QuestionReading {
					t.Errorf("switching the reading question changed %+v", eff.Questions)
				}
				if step(s, qstep(event.QuestionReading, id("p1"))).Applied {
					t.Errorf("reading the question being read applied")
				}

				eff = step(s, qstep(event.QuestionAnswered, id("p1")))
				if eff.Wall == nil || !eff.Wall.NowReadingChanged || eff.Wall.NowReading != nil || s.Wall(0).NowReading != nil {
					t.Errorf("answering the question being read: %+v", eff.Wall)
				}
				step(s, qstep(event.QuestionAnswered, "r2"))
				wantIDs(t, "open", questionIDs(s.Questions()), []string{"r1"})
				wantIDs(t, "answered", questionIDs(s.Answered()), []string{id("p1"), "r2"})
				if a := s.Answered(); a[0].ReadAt.IsZero() || a[0].AnsweredAt.IsZero() || a[0].State != QuestionAnswered {
					t.Errorf("answered = %+v", a[0])
				}
				if step(s, qstep(event.QuestionReading, "r2")).Applied || step(s, qstep(event.QuestionAnswered, "r2")).Applied {
					t.Errorf("reading or answering an answered question applied")
				}
				step(s, qstep(event.QuestionReopened, id("p1")))
				wantIDs(t, "open after reopen", questionIDs(s.Questions()), []string{"r1", id("p1")})
				if step(s, qstep(event.QuestionReopened, "r1")).Applied {
					t.Errorf("reopening an open question applied")
				}
				note := qstep(event.QuestionNoted, "r2")
				note.Note = "answered by the panel chair"
				if eff := step(s, note); len(eff.Questions) != 1 || len(eff.Questions[0].Notes) != 1 {
					t.Errorf("note effect = %+v", eff)
				}
				if n := s.Answered()[0].Notes; len(n) != 1 || n[0].By != facilitator || n[0].Text != "answered by the panel chair" {
					t.Errorf("notes = %+v", n)
				}
				if c := s.Counts(); c.QuestionsOpen != 2 || c.QuestionsAnswered != 1 {
					t.Errorf("counts = %+v", c)
				}
				if step(s, qstep(event.QuestionReading, "unknown")).Applied {
					t.Errorf("reading an unknown question applied")
				}
				if step(s, roomQuestion("r1", "again")).Applied {
					t.Errorf("adding a question id twice applied")
				}
			},
		},
		{
			name:   "stage messages are for facilitators only",
			events: seq(event.Entry{Kind: event.StageMessage, Actor: moderator, Message: "two more questions"}, event.Entry{Kind: event.StageMessage, Actor: moderator, Message: "wrap up"}),
			check: func(t *testing.T, s *State, effs []Effect) {
				if effs[0].Wall != nil || effs[0].Stage == nil || effs[0].Stage.Text != "two more questions" {
					t.Errorf("stage effect = %+v", effs[0])
				}
				m := s.StageMessages(1)
				if len(m) != 1 || m[0].Text != "wrap up" || m[0].Pos != 2 || m[0].By != moderator {
					t.Errorf("stage messages = %+v", m)
				}
				if len(s.StageMessages(0)) != 2 {
					t.Errorf("all stage messages = %+v", s.StageMessages(0))
				}
			},
		},
		{
			name: "settings override the configured ones; display merges",
			events: seq(
				event.Entry{Kind: event.SettingsChanged, Actor: moderator, Settings: &event.Settings{Title: ptr("Our Day"), Display: map[string]string{"theme": "dark", "layout": "grid"}}},
				event.Entry{Kind: event.SettingsChanged, Actor: moderator, Settings: &event.Settings{Moderation: ptr(event.ModeAuto), Display: map[string]string{"theme": ""}}},
				event.Entry{Kind: event.SettingsChanged, Actor: moderator, Settings: &event.Settings{Title: ptr("Our Day")}},
			),
			check: func(t *testing.T, s *State, effs []Effect) {
				got := s.Settings()
				if got.Title != "Our Day" || got.Moderation != event.ModeAuto || len(got.Display) != 1 || got.Display["layout"] != "grid" {
					t.Errorf("settings = %+v", got)
				}
				if w := effs[0].Wall; w == nil || w.Title != "Our Day" || w.Display["theme"] != "dark" {
					t.Errorf("first change wall = %+v", w)
				}
				if w := effs[1].Wall; w == nil || w.Title != "" || len(w.Display) != 1 || effs[1].Settings.Moderation != event.ModeAuto {
					t.Errorf("second change = %+v %+v", w, effs[1].Settings)
				}
				if effs[2].Applied || effs[2].Wall != nil {
					t.Errorf("no-op change = %+v", effs[2])
				}
				got.Display["layout"] = "mutated"
				if s.Settings().Display["layout"] != "grid" {
					t.Errorf("Settings shares its map with the state")
				}
			},
		},
		{
			name:   "events at or before the state's position are ignored",
			events: append(seq(pending("p1", ada), act(event.PostApproved, moderator, "p1")), func() event.Entry { e := act(event.PostRejected, moderator, "p1"); e.Pos = 2; return e }()),
			check: func(t *testing.T, s *State, effs []Effect) {
				wantState(t, s, "p1", StateApproved)
				if effs[2].Applied || s.Pos() != 2 || len(s.Audit(0)) != 1 {
					t.Errorf("repeat applied: %+v pos %d audit %d", effs[2], s.Pos(), len(s.Audit(0)))
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, effs := applyAll(t, tc.events)
			for i, e := range effs {
				if e.Pos != tc.events[i].Pos {
					t.Errorf("effect %d has pos %d, event %d", i, e.Pos, tc.events[i].Pos)
				}
			}
			tc.check(t, s, effs)
			checkInvariants(t, s)
		})
	}
}

func ptr[T any](v T) *T { return &v }

func idsOf(ps []PostView) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.ID)
	}
	return out
}

func wantIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

func wantState(t *testing.T, s *State, key string, want PostState) {
	t.Helper()
	if got := stateOf(s, key); got != want {
		t.Errorf("post %s is %q, want %q", key, got, want)
	}
}

// wantAudit checks the audit's actors and Applied flags, newest first.
func wantAudit(t *testing.T, s *State, actors []event.Actor, applied []bool) {
	t.Helper()
	a := s.Audit(0)
	if len(a) != len(actors) {
		t.Fatalf("audit = %+v, want %d entries", a, len(actors))
	}
	for i := range a {
		if a[i].Actor != actors[i] || a[i].Applied != applied[i] || a[i].Summary == "" {
			t.Errorf("audit[%d] = %+v, want actor %+v applied %v", i, a[i], actors[i], applied[i])
		}
	}
}
