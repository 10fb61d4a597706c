package fold

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
)

// withdrawn is the entry a source appends when the author edited key so it
// no longer carries the event's tag.
func withdrawn(key string, a event.Author, text string) event.Entry {
	p := mkPost(key, a, text)
	p.EditedAt = t0.Add(2 * time.Hour)
	return event.Entry{Kind: event.PostWithdrawn, Actor: mastodonSrc, PostID: p.ID, Post: &p, Reason: "edited to remove #OurDay"}
}

func TestWithdrawnPostLeavesEveryPublicSurface(t *testing.T) {
	s, effs := applyAll(t, seq(
		received("p1", ada, event.DecisionApprove, "auto"),
		received("p2", bob, event.DecisionApprove, "auto"),
		act(event.PostPinned, moderator, "p1"),
		act(event.QuestionFlagged, moderator, "p1"),
		qstep(event.QuestionReading, id("p1")),
		withdrawn("p1", ada, "never mind"),
	))
	if got := wallIDs(s); !slices.Equal(got, ids("p2")) {
		t.Errorf("wall = %v, want only p2", got)
	}
	if w := s.Wall(0); w.NowReading != nil {
		t.Errorf("the overlay still reads %+v", w.NowReading)
	}
	if qs := s.Questions(); len(qs) != 0 {
		t.Errorf("facilitators still list %v", questionIDs(qs))
	}
	eff := effs[len(effs)-1]
	if !eff.Applied || eff.Wall == nil || !slices.Contains(eff.Wall.Remove, id("p1")) || !eff.Wall.NowReadingChanged {
		t.Errorf("effect does not take p1 off the wall and the overlay: %+v", eff.Wall)
	}
	if !slices.Contains(eff.QuestionsGone, id("p1")) {
		t.Errorf("effect does not take the question off the list: %+v", eff.QuestionsGone)
	}
	if len(eff.Gone) != 0 {
		t.Errorf("withdrawn post left the moderators' view too: %v", eff.Gone)
	}
	// The moderators keep it, with why, and the version that dropped the tag.
	p, ok := s.Post(id("p1"))
	if !ok || p.State != StateRejected || p.Rule != "edited to remove #OurDay" || p.Text != "never mind" || p.Pinned || p.Question {
		t.Errorf("moderator view = %+v (found %v)", p, ok)
	}
	if p.DecidedBy != mastodonSrc {
		t.Errorf("decided by %+v, want the source", p.DecidedBy)
	}
	a := s.Audit(1)[0]
	if a.Kind != event.PostWithdrawn || !a.Applied || !strings.Contains(a.Summary, "edited to remove #OurDay") || !strings.Contains(a.Summary, "@ada@mastodon.social") {
		t.Errorf("audit = %+v", a)
	}
	if c := s.Counts(); c.Approved != 1 || c.Rejected != 1 || c.Pinned != 0 || c.QuestionsOpen != 0 {
		t.Errorf("counts = %+v", c)
	}
}

func TestWithdrawnPostCannotBeUndoneOntoTheWall(t *testing.T) {
	s, _ := applyAll(t, seq(
		pending("p1", ada),
		act(event.PostApproved, moderator, "p1"),
		withdrawn("p1", ada, "never mind"),
		act(event.PostUndone, moderator, "p1"),
	))
	if got := wallIDs(s); len(got) != 0 {
		t.Errorf("undo put the withdrawn post back: %v", got)
	}
	if st := stateOf(s, "p1"); st != StateRejected {
		t.Errorf("state %s after undo, want rejected", st)
	}
}

func TestWithdrawnPendingPostLeavesTheQueue(t *testing.T) {
	s, _ := applyAll(t, seq(pending("p1", ada), withdrawn("p1", ada, "never mind")))
	if q := queueIDs(s); len(q) != 0 {
		t.Errorf("queue = %v, want empty", q)
	}
	if st := stateOf(s, "p1"); st != StateRejected {
		t.Errorf("state %s, want rejected", st)
	}
}

func TestWithdrawalRepeatedOrOfNothingChangesNothing(t *testing.T) {
	w := withdrawn("p1", ada, "never mind")
	s, effs := applyAll(t, seq(
		received("p1", ada, event.DecisionApprove, "auto"),
		w, w, // the source saw the same version twice
		withdrawn("p9", ada, "never received"),
		received("p2", ada, event.DecisionApprove, "auto"),
		deleted("p2"),
		withdrawn("p2", ada, "deleted first"),
	))
	for _, i := range []int{2, 3, 6} {
		if effs[i].Applied {
			t.Errorf("event %d applied: %+v", i+1, effs[i])
		}
	}
	if st := stateOf(s, "p2"); st != "gone" {
		t.Errorf("a deleted post came back as %s", st)
	}
}

// A fresh node folding the same log shows the same thing.
func TestWithdrawalFoldsTheSameOnEveryNode(t *testing.T) {
	events := seq(
		received("p1", ada, event.DecisionApprove, "auto"),
		act(event.QuestionFlagged, moderator, "p1"),
		withdrawn("p1", ada, "never mind"),
	)
	a := Fold(SettingsView{}, events)
	b := Fold(SettingsView{}, events)
	if !slices.Equal(wallIDs(a), wallIDs(b)) || len(a.Wall(0).Posts) != 0 {
		t.Errorf("walls differ or keep the post: %v %v", wallIDs(a), wallIDs(b))
	}
}
