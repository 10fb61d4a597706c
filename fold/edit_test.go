package fold

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
)

// The edits of these tests: what the rules say of a new version.
const (
	rulePre     = "pre-moderation"
	ruleAuto    = "auto-approve"
	ruleBlocked = `blocked word "scam" in text`
)

// shown is the text and media a public surface carries for the post.
func shownOf(t *testing.T, s *State, key string) PublicPost {
	t.Helper()
	for _, p := range s.Wall(0).Posts {
		if p.ID == id(key) {
			return p
		}
	}
	t.Fatalf("%s is not on the wall", key)
	return PublicPost{}
}

func mediaURL(p event.Post) string {
	if len(p.Media) == 0 {
		return ""
	}
	return p.Media[0].URL
}

// wantShown checks the wall shows the post's original text and image, and
// that no public part of the effects carries anything else.
func wantShown(t *testing.T, s *State, key, text string, effs ...Effect) {
	t.Helper()
	pp := shownOf(t, s, key)
	orig := mkPost(key, ada, "")
	if pp.Text != text || (text == "hello from "+key && mediaURL(pp.Post) != mediaURL(orig)) {
		t.Errorf("wall shows %q with %q, want %q", pp.Text, mediaURL(pp.Post), text)
	}
	for _, e := range effs {
		if e.Wall == nil {
			continue
		}
		for _, u := range e.Wall.Upsert {
			if u.ID == id(key) && u.Text != text {
				t.Errorf("effect #%d upserts %q on the wall", e.Pos, u.Text)
			}
		}
		if q := e.Wall.NowReading; q != nil && q.ID == id(key) && q.Text != text {
			t.Errorf("effect #%d reads out %q", e.Pos, q.Text)
		}
	}
}

func wantEdit(t *testing.T, s *State, key, text, rule string) {
	t.Helper()
	p, ok := s.Post(id(key))
	switch {
	case !ok:
		t.Fatalf("%s is gone", key)
	case text == "" && p.Edit != nil:
		t.Errorf("edit waiting: %q", p.Edit.Text)
	case text == "":
	case p.Edit == nil:
		t.Errorf("no edit waiting, want %q", text)
	case p.Edit.Text != text || p.EditRule != rule || mediaURL(*p.Edit) == mediaURL(p.Post):
		t.Errorf("edit waiting %q (rule %q, image %q), want %q (rule %q) with a new image", p.Edit.Text, p.EditRule, mediaURL(*p.Edit), text, rule)
	}
	inQueue := slices.Contains(queueIDs(s), id(key))
	if inQueue != (text != "" || p.State == StatePending) {
		t.Errorf("in the queue: %v, edit waiting %q, state %s", inQueue, text, p.State)
	}
}

// TestEditsOfShownPosts: an edit at the source never reaches a public
// surface unless the rules or a moderator passed it; the moderators see it
// in the queue as an edit, with both versions.
func TestEditsOfShownPosts(t *testing.T) {
	type check func(t *testing.T, s *State, effs []Effect)
	cases := []struct {
		name   string
		events []event.Entry
		check  check
	}{
		{
			name:   "approved post: the edit waits, the wall keeps the approved version",
			events: seq(pending("p1", ada), act(event.PostApproved, moderator, "p1"), editedV("p1", ada, "a total scam", event.DecisionHold, ruleBlocked)),
			check: func(t *testing.T, s *State, effs []Effect) {
				wantState(t, s, "p1", StateApproved)
				wantShown(t, s, "p1", "hello from p1", effs...)
				wantEdit(t, s, "p1", "a total scam", ruleBlocked)
				e := effs[2]
				if !e.Applied || e.Wall != nil || len(e.Posts) != 1 || e.Posts[0].Edit == nil || e.Posts[0].Text != "hello from p1" {
					t.Errorf("edit effect = %+v", e)
				}
				q := s.Queue()
				if len(q) != 1 || q[0].EditPos != 3 || !q[0].QueuedAt().Equal(t0.Add(3*60e9)) {
					t.Errorf("queue = %+v", q)
				}
				if c := s.Counts(); c.Edits != 1 || c.Pending != 0 || c.Approved != 1 {
					t.Errorf("counts = %+v", c)
				}
				if a := s.Audit(1); len(a) != 1 || a[0].Summary != "edit held for a moderator: "+ruleBlocked {
					t.Errorf("audit = %+v", a)
				}
			},
		},
		{
			name:   "an edit logged without a verdict is held",
			events: seq(received("p1", ada, event.DecisionApprove, ruleAuto), edited("p1", ada, "changed")),
			check: func(t *testing.T, s *State, effs []Effect) {
				wantShown(t, s, "p1", "hello from p1", effs...)
				p, _ := s.Post(id("p1"))
				if p.Edit == nil || p.Edit.Text != "changed" || p.EditRule != RuleNoVerdict {
					t.Errorf("post = %+v", p)
				}
			},
		},
		{
			name:   "a reject verdict on an edit holds it too: the post stays, a moderator decides",
			events: seq(received("p1", ada, event.DecisionApprove, ruleAuto), editedV("p1", ada, "new", event.DecisionReject, "blocked account x")),
			check: func(t *testing.T, s *State, effs []Effect) {
				wantState(t, s, "p1", StateApproved)
				wantShown(t, s, "p1", "hello from p1", effs...)
				wantEdit(t, s, "p1", "new", "blocked account x")
			},
		},
		{
			name: "pinned question being read: its text on the question list and now-reading stays",
			events: seq(pending("p1", ada), act(event.PostPinned, moderator, "p1"), act(event.QuestionFlagged, moderator, "p1"),
				qstep(event.QuestionReading, id("p1")), editedV("p1", ada, "a total scam", event.DecisionHold, ruleBlocked)),
			check: func(t *testing.T, s *State, effs []Effect) {
				wantShown(t, s, "p1", "hello from p1", effs...)
				wantEdit(t, s, "p1", "a total scam", ruleBlocked)
				pp := shownOf(t, s, "p1")
				if !pp.Pinned || !pp.Question {
					t.Errorf("wall post = %+v", pp)
				}
				if q := s.Questions(); len(q) != 1 || q[0].Text != "hello from p1" || q[0].State != QuestionReading {
					t.Errorf("questions = %+v", q)
				}
				if nr := s.Wall(0).NowReading; nr == nil || nr.Text != "hello from p1" {
					t.Errorf("now reading = %+v", nr)
				}
				if e := effs[4]; e.Wall != nil || e.Questions != nil {
					t.Errorf("edit effect reaches the wall or the facilitators: %+v", e)
				}
			},
		},
		{
			name: "auto mode: an edit the rules pass is shown at once; one they hold is not",
			events: seq(received("p1", ada, event.DecisionApprove, ruleAuto), act(event.QuestionFlagged, moderator, "p1"),
				editedV("p1", ada, "a total scam", event.DecisionHold, ruleBlocked),
				editedV("p1", ada, "great talk, corrected", event.DecisionApprove, ruleAuto)),
			check: func(t *testing.T, s *State, effs []Effect) {
				if effs[2].Wall != nil {
					t.Errorf("held edit changed the wall: %+v", effs[2].Wall)
				}
				// The second edit passed: it replaces the shown version and
				// the edit that waited.
				wantShown(t, s, "p1", "great talk, corrected")
				wantEdit(t, s, "p1", "", "")
				e := effs[3]
				if e.Wall == nil || len(e.Wall.Upsert) != 1 || e.Wall.Upsert[0].Text != "great talk, corrected" || !strings.Contains(mediaURL(e.Wall.Upsert[0].Post), "corrected") {
					t.Errorf("passed edit's wall effect = %+v", e.Wall)
				}
				if q := s.Questions(); len(q) != 1 || q[0].Text != "great talk, corrected" || len(e.Questions) != 1 {
					t.Errorf("questions = %+v, effect %+v", q, e.Questions)
				}
				if a := s.Audit(1); len(a) != 1 || a[0].Summary != "edit approved by rule: "+ruleAuto {
					t.Errorf("audit = %+v", a)
				}
				if c := s.Counts(); c.Edits != 0 {
					t.Errorf("counts = %+v", c)
				}
			},
		},
		{
			name:   "edit then delete: the post leaves every view at once",
			events: seq(received("p1", ada, event.DecisionApprove, ruleAuto), editedV("p1", ada, "a total scam", event.DecisionHold, ruleBlocked), deleted("p1")),
			check: func(t *testing.T, s *State, effs []Effect) {
				wantState(t, s, "p1", "gone")
				wantIDs(t, "queue", queueIDs(s), nil)
				wantIDs(t, "wall", wallIDs(s), nil)
				if e := effs[2]; e.Wall == nil || !slices.Equal(e.Wall.Remove, ids("p1")) || !slices.Equal(e.Gone, ids("p1")) {
					t.Errorf("delete effect = %+v", e)
				}
				if c := s.Counts(); c.Edits != 0 || c.Deleted != 1 {
					t.Errorf("counts = %+v", c)
				}
			},
		},
		{
			name: "two edits: the second replaces the edit waiting",
			events: seq(received("p1", ada, event.DecisionApprove, ruleAuto), editedV("p1", ada, "first edit", event.DecisionHold, ruleBlocked),
				editedV("p1", ada, "second edit", event.DecisionHold, rulePre)),
			check: func(t *testing.T, s *State, effs []Effect) {
				wantShown(t, s, "p1", "hello from p1", effs...)
				wantEdit(t, s, "p1", "second edit", rulePre)
				if q := s.Queue(); len(q) != 1 || q[0].EditPos != 3 {
					t.Errorf("queue = %+v", q)
				}
				if c := s.Counts(); c.Edits != 1 {
					t.Errorf("counts = %+v", c)
				}
			},
		},
		{
			name: "approving the edit shows it, question and now-reading included",
			events: seq(pending("p1", ada), act(event.PostPinned, moderator, "p1"), act(event.QuestionFlagged, moderator, "p1"),
				qstep(event.QuestionReading, id("p1")), editedV("p1", ada, "better words", event.DecisionHold, rulePre),
				act(event.PostApproved, moderator2, "p1")),
			check: func(t *testing.T, s *State, effs []Effect) {
				wantShown(t, s, "p1", "better words")
				wantEdit(t, s, "p1", "", "")
				p, _ := s.Post(id("p1"))
				if p.State != StateApproved || !p.Pinned || !p.Question || p.DecidedBy != moderator2 || !strings.Contains(mediaURL(p.Post), "better") {
					t.Errorf("post = %+v", p)
				}
				e := effs[5]
				if !e.Applied || e.Wall == nil || len(e.Wall.Upsert) != 1 || e.Wall.Upsert[0].Text != "better words" ||
					!e.Wall.NowReadingChanged || e.Wall.NowReading.Text != "better words" || len(e.Questions) != 1 {
					t.Errorf("approve-the-edit effect = %+v wall %+v", e, e.Wall)
				}
				if a := s.Audit(1); len(a) != 1 || !a[0].Applied || a[0].Summary != "approved the edit of post by @ada@mastodon.social" {
					t.Errorf("audit = %+v", a)
				}
				if eff := step(s, act(event.PostApproved, moderator, "p1")); eff.Applied {
					t.Errorf("approving again applied: %+v", eff)
				}
			},
		},
		{
			name: "rejecting the edit takes the post off the wall",
			events: seq(pending("p1", ada), act(event.PostPinned, moderator, "p1"), act(event.QuestionFlagged, moderator, "p1"),
				editedV("p1", ada, "a total scam", event.DecisionHold, ruleBlocked), act(event.PostRejected, moderator, "p1")),
			check: func(t *testing.T, s *State, effs []Effect) {
				wantState(t, s, "p1", StateRejected)
				wantIDs(t, "wall", wallIDs(s), nil)
				wantIDs(t, "questions", questionIDs(s.Questions()), nil)
				p, _ := s.Post(id("p1"))
				if p.Edit != nil || p.Text != "a total scam" || p.Pinned {
					t.Errorf("rejected post = %+v", p)
				}
				if e := effs[4]; e.Wall == nil || !slices.Equal(e.Wall.Remove, ids("p1")) || len(e.Wall.Upsert) != 0 {
					t.Errorf("reject effect = %+v", e.Wall)
				}
				if c := s.Counts(); c.Edits != 0 || c.Rejected != 1 || c.Pinned != 0 {
					t.Errorf("counts = %+v", c)
				}
			},
		},
		{
			name: "undoing the approval of an edit shows the version before and queues the edit again",
			events: seq(pending("p1", ada), act(event.PostPinned, moderator, "p1"), act(event.QuestionFlagged, moderator, "p1"),
				editedV("p1", ada, "better words", event.DecisionHold, rulePre), act(event.PostApproved, moderator, "p1"),
				act(event.PostUndone, moderator, "p1")),
			check: func(t *testing.T, s *State, effs []Effect) {
				wantShown(t, s, "p1", "hello from p1")
				wantEdit(t, s, "p1", "better words", rulePre)
				p, _ := s.Post(id("p1"))
				if p.State != StateApproved || !p.Pinned || !p.Question || p.DecidedBy != moderator || p.EditPos != 4 {
					t.Errorf("post = %+v", p)
				}
				if c := s.Counts(); c.Pinned != 1 || c.Edits != 1 || c.Approved != 1 {
					t.Errorf("counts = %+v", c)
				}
				if q := s.Questions(); len(q) != 1 || q[0].Text != "hello from p1" {
					t.Errorf("questions = %+v", q)
				}
				if e := effs[5]; e.Wall == nil || len(e.Wall.Upsert) != 1 || e.Wall.Upsert[0].Text != "hello from p1" {
					t.Errorf("undo effect = %+v", e.Wall)
				}
				// Undo again: back to the pending post it was, its newest
				// version, nothing shown.
				step(s, act(event.PostUndone, moderator, "p1"))
				wantState(t, s, "p1", StatePending)
				wantIDs(t, "wall", wallIDs(s), nil)
				p, _ = s.Post(id("p1"))
				if p.Edit != nil || p.Text != "better words" {
					t.Errorf("pending again: %+v", p)
				}
			},
		},
		{
			name: "undoing the rejection of an edit: back on the wall as approved, the edit waiting",
			events: seq(pending("p1", ada), act(event.PostPinned, moderator, "p1"),
				editedV("p1", ada, "a total scam", event.DecisionHold, ruleBlocked), act(event.PostRejected, moderator, "p1"),
				act(event.PostUndone, moderator, "p1")),
			check: func(t *testing.T, s *State, effs []Effect) {
				wantShown(t, s, "p1", "hello from p1", effs...)
				wantEdit(t, s, "p1", "a total scam", ruleBlocked)
				if p, _ := s.Post(id("p1")); !p.Pinned {
					t.Errorf("pin not restored: %+v", p)
				}
			},
		},
		{
			name: "an edit while rejected is not shown by undoing the rejection",
			events: seq(pending("p1", ada), act(event.PostApproved, moderator, "p1"), act(event.PostRejected, moderator, "p1"),
				editedV("p1", ada, "a total scam", event.DecisionHold, ruleBlocked), act(event.PostUndone, moderator, "p1")),
			check: func(t *testing.T, s *State, effs []Effect) {
				wantShown(t, s, "p1", "hello from p1", effs...)
				wantEdit(t, s, "p1", "a total scam", ruleBlocked)
			},
		},
		{
			name: "undo after a newer edit: the version shown before, the newest edit waiting",
			events: seq(received("p1", ada, event.DecisionApprove, ruleAuto), editedV("p1", ada, "v2", event.DecisionHold, rulePre),
				act(event.PostApproved, moderator, "p1"), editedV("p1", ada, "v3 scam", event.DecisionHold, ruleBlocked),
				act(event.PostUndone, moderator, "p1")),
			check: func(t *testing.T, s *State, effs []Effect) {
				wantShown(t, s, "p1", "hello from p1")
				wantEdit(t, s, "p1", "v3 scam", ruleBlocked)
				if c := s.Counts(); c.Edits != 1 {
					t.Errorf("counts = %+v", c)
				}
			},
		},
		{
			name: "undoing the approval of a post with an edit waiting: pending, as its newest version",
			events: seq(pending("p1", ada), act(event.PostApproved, moderator, "p1"),
				editedV("p1", ada, "a total scam", event.DecisionHold, ruleBlocked), act(event.PostUndone, moderator, "p1")),
			check: func(t *testing.T, s *State, effs []Effect) {
				wantState(t, s, "p1", StatePending)
				wantIDs(t, "wall", wallIDs(s), nil)
				p, _ := s.Post(id("p1"))
				if p.Edit != nil || p.Text != "a total scam" {
					t.Errorf("post = %+v", p)
				}
				if c := s.Counts(); c.Edits != 0 || c.Pending != 1 {
					t.Errorf("counts = %+v", c)
				}
			},
		},
		{
			name: "a block rejects a post with an edit waiting; undo brings back the approved version",
			events: seq(received("p1", bob, event.DecisionApprove, ruleAuto), editedV("p1", bob, "a total scam", event.DecisionHold, ruleBlocked),
				blockAuthor(bob, time.Time{}), act(event.PostUndone, moderator, "p1")),
			check: func(t *testing.T, s *State, effs []Effect) {
				if e := effs[2]; e.Wall == nil || !slices.Equal(e.Wall.Remove, ids("p1")) {
					t.Errorf("block effect = %+v", e.Wall)
				}
				pp := shownOf(t, s, "p1")
				if pp.Text != "hello from p1" {
					t.Errorf("after undo the wall shows %q", pp.Text)
				}
				p, _ := s.Post(id("p1"))
				if p.Edit == nil || p.Edit.Text != "a total scam" {
					t.Errorf("post = %+v", p)
				}
			},
		},
		{
			name: "hidden media stays hidden through an approved edit",
			events: seq(received("p1", ada, event.DecisionApprove, ruleAuto), act(event.PostMediaHidden, moderator, "p1"),
				editedV("p1", ada, "new picture", event.DecisionHold, rulePre), act(event.PostApproved, moderator, "p1")),
			check: func(t *testing.T, s *State, effs []Effect) {
				if pp := shownOf(t, s, "p1"); pp.Text != "new picture" || pp.Media != nil {
					t.Errorf("wall = %+v", pp)
				}
			},
		},
		{
			name: "edits of pending and rejected posts replace their content and keep their state",
			events: seq(pending("p1", ada), received("p2", ada, event.DecisionReject, ruleBlocked),
				editedV("p1", ada, "p1 v2", event.DecisionApprove, ruleAuto), editedV("p2", ada, "p2 v2", event.DecisionApprove, ruleAuto)),
			check: func(t *testing.T, s *State, effs []Effect) {
				wantState(t, s, "p1", StatePending)
				wantState(t, s, "p2", StateRejected)
				for _, k := range []string{"p1", "p2"} {
					p, _ := s.Post(id(k))
					if p.Text != k+" v2" || p.Edit != nil {
						t.Errorf("%s = %+v", k, p)
					}
				}
				for _, e := range effs[2:] {
					if e.Wall != nil {
						t.Errorf("edit of a post not shown changed the wall: %+v", e.Wall)
					}
				}
				wantIDs(t, "queue", queueIDs(s), ids("p1"))
			},
		},
		{
			name: "the queue puts an edit where it came, not where its post did",
			events: seq(received("p1", ada, event.DecisionApprove, ruleAuto), pending("p2", ada),
				editedV("p1", ada, "edited", event.DecisionHold, rulePre), pending("p3", ada)),
			check: func(t *testing.T, s *State, _ []Effect) {
				wantIDs(t, "queue", queueIDs(s), ids("p2", "p1", "p3"))
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, effs := applyAll(t, c.events)
			c.check(t, s, effs)
			checkInvariants(t, s)
			// Effects alone rebuild what the state shows.
			checkSequence(t, c.events)
		})
	}
}

// TestDecisionOnAVersionNotSeen: a moderator's approval names the version
// they looked at (Entry.Seen). If the source sent another version since,
// the approval is not applied, so no text reaches the wall that the
// moderator did not see; with the version they see now, it is.
func TestDecisionOnAVersionNotSeen(t *testing.T) {
	seen := func(e event.Entry, v uint64) event.Entry { e.Seen = v; return e }
	pin := func(key string, v uint64) event.Entry { return seen(act(event.PostPinned, moderator, key), v) }
	flag := func(key string, v uint64) event.Entry { return seen(act(event.QuestionFlagged, facilitator, key), v) }
	approve := func(key string, v uint64) event.Entry { return seen(act(event.PostApproved, moderator, key), v) }

	for _, tc := range []struct {
		name   string
		decide func(key string, v uint64) event.Entry
	}{{"approve", approve}, {"pin", pin}, {"question", flag}} {
		t.Run("pending/"+tc.name, func(t *testing.T) {
			// #1 received, #2 edited while the moderator looked at #1.
			s, _ := applyAll(t, seq(pending("a", ada), editedV("a", ada, "rude words", event.DecisionHold, rulePre), tc.decide("a", 1)))
			if p, _ := s.Post(id("a")); p.State != StatePending || p.Version != 2 {
				t.Fatalf("decision on version 1 of a post now at version 2: state %s, version %d", p.State, p.Version)
			}
			if got := s.Audit(1); len(got) != 1 || got[0].Applied || !strings.Contains(got[0].Summary, "changed at its source") {
				t.Errorf("audit: %+v", got)
			}
			s.Apply(tc.decide("a", 2))
			if p, _ := s.Post(id("a")); p.State != StateApproved || p.Text != "rude words" {
				t.Errorf("decision on the version seen: state %s, text %q", p.State, p.Text)
			}
		})
	}

	t.Run("edit of a shown post", func(t *testing.T) {
		// #1 received, #2 approved, #3 an edit waits, #4 a newer edit
		// replaces it while the moderator looks at #3.
		s, effs := applyAll(t, seq(
			pending("a", ada), approve("a", 1),
			editedV("a", ada, "first edit", event.DecisionHold, rulePre),
			editedV("a", ada, "second edit, unseen", event.DecisionHold, rulePre),
			approve("a", 3),
		))
		wantShown(t, s, "a", "hello from a", effs...)
		wantEdit(t, s, "a", "second edit, unseen", rulePre)
		s.Apply(approve("a", 4))
		if pp := shownOf(t, s, "a"); pp.Text != "second edit, unseen" {
			t.Errorf("approving the version seen shows %q", pp.Text)
		}
	})

	t.Run("zero means as it is now", func(t *testing.T) {
		s, _ := applyAll(t, seq(pending("a", ada), editedV("a", ada, "later", event.DecisionHold, rulePre), approve("a", 0)))
		if p, _ := s.Post(id("a")); p.State != StateApproved {
			t.Errorf("an approval without a version: state %s", p.State)
		}
	})
}
