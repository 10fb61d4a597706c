package fold

import (
	"strings"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
)

func rehearsed(key string, d event.Decision) event.Entry {
	e := received(key, event.Author{ID: "urn:rehearsal:" + key, Handle: "@made.up"}, d, "auto")
	e.Post.Source = event.SourceRehearsal
	return e
}

// Going live takes every rehearsal post out of every view, whatever was
// decided about it, leaves the real posts alone, keeps the audit, and
// ignores rehearsal posts that come after.
func TestWentLiveRemovesTheRehearsal(t *testing.T) {
	s := New(SettingsView{Moderation: event.ModeAuto})
	step(s, rehearsed("r1", event.DecisionApprove))
	step(s, rehearsed("r2", event.DecisionHold))
	step(s, rehearsed("r3", event.DecisionApprove))
	step(s, act(event.PostPinned, moderator, "r1"))
	step(s, act(event.QuestionFlagged, moderator, "r3"))
	step(s, qstep(event.QuestionReading, id("r3")))
	step(s, event.Entry{Kind: event.AuthorBlocked, Actor: moderator, Block: &event.Block{AuthorID: "urn:rehearsal:r2"}})
	step(s, received("real", ada, event.DecisionApprove, "auto"))
	if c := s.Counts(); c.Rehearsal != 3 || c.Live {
		t.Fatalf("before going live: counts %+v, want 3 rehearsal posts and not live", c)
	}
	auditBefore := len(s.Audit(0))

	eff := step(s, event.Entry{Kind: event.EventWentLive, Actor: event.Actor{Role: event.RoleSystem, Name: "start"}})
	if !eff.Applied || len(eff.Gone) != 3 {
		t.Fatalf("went live: applied %v, gone %v; want 3 posts gone", eff.Applied, eff.Gone)
	}
	if eff.Wall == nil || len(eff.Wall.Remove) != 2 || !eff.Wall.NowReadingChanged || eff.Wall.NowReading != nil {
		t.Fatalf("went live: wall delta %+v, want r1 and r3 removed and now-reading cleared", eff.Wall)
	}
	w := s.Wall(0)
	if len(w.Posts) != 1 || w.Posts[0].ID != id("real") {
		t.Fatalf("wall after going live: %+v, want the real post only", w.Posts)
	}
	if q := s.Queue(); len(q) != 0 {
		t.Fatalf("queue after going live: %d posts, want none", len(q))
	}
	if len(s.Questions()) != 0 || len(s.Approved()) != 1 {
		t.Fatalf("questions %d, approved %d; want 0 and 1", len(s.Questions()), len(s.Approved()))
	}
	if _, ok := s.Post(id("r1")); ok {
		t.Fatal("a rehearsal post is still found after going live")
	}
	if b := s.Blocks(t0.Add(time.Hour)); len(b) != 0 {
		t.Fatalf("the block of a made-up author is still listed: %+v", b)
	}
	c := s.Counts()
	if c.Received != 1 || c.Approved != 1 || c.Pending != 0 || c.Pinned != 0 || c.Deleted != 0 || c.Rehearsal != 0 || !c.Live {
		t.Fatalf("counts after going live: %+v", c)
	}
	audit := s.Audit(0)
	if len(audit) != auditBefore+1 || !strings.Contains(audit[0].Summary, "went live: 3 rehearsal posts removed") {
		t.Fatalf("audit after going live: %d entries (was %d), newest %q", len(audit), auditBefore, audit[0].Summary)
	}

	// Later rehearsal posts and decisions on the old ones change nothing.
	if eff := step(s, rehearsed("r4", event.DecisionApprove)); eff.Applied {
		t.Fatal("a rehearsal post after going live was taken")
	}
	if eff := step(s, act(event.PostUndone, moderator, "r1")); eff.Applied {
		t.Fatal("undo on a removed rehearsal post was applied")
	}
	// Going live again with nothing to remove is a no-op.
	if eff := step(s, event.Entry{Kind: event.EventWentLive, Actor: moderator}); eff.Applied {
		t.Fatal("going live twice was applied")
	}
	checkInvariants(t, s)
}

// The same log folds to the same views: went_live is deterministic.
func TestWentLiveDeterministic(t *testing.T) {
	log := []event.Entry{
		rehearsed("r1", event.DecisionApprove), received("p1", ada, event.DecisionHold, "pre"),
		{Kind: event.EventWentLive, Actor: moderator}, rehearsed("r2", event.DecisionApprove),
	}
	for i := range log {
		log[i].Pos, log[i].Time = uint64(i+1), t0.Add(time.Duration(i)*time.Minute)
	}
	a, b := Fold(SettingsView{}, log), Fold(SettingsView{}, log)
	if ra, rb := snapshotOf(a), snapshotOf(b); ra.Counts != rb.Counts || len(ra.Queue) != 1 || len(ra.Wall.Posts) != 0 {
		t.Fatalf("two folds differ or are wrong: %+v / %+v", ra.Counts, rb.Counts)
	}
}

// A decision made without seeing another moderator's decision of moments
// ago does not reverse it; made knowingly (no Was) or long after, it does.
func TestDecisionAsksBeforeReversing(t *testing.T) {
	s := New(SettingsView{})
	step(s, pending("p1", ada))
	step(s, act(event.PostApproved, moderator, "p1"))
	rej := act(event.PostRejected, moderator2, "p1")
	rej.Was = "pending"
	eff := step(s, rej)
	if eff.Applied {
		t.Fatal("a reject made on the pending post reversed an approval of a minute ago")
	}
	if p, _ := s.Post(id("p1")); p.State != StateApproved {
		t.Fatalf("state %s, want approved", p.State)
	}
	if a := s.Audit(1)[0]; a.Applied || !strings.Contains(a.Summary, "would reverse mo's decision (approved at 14:02:00)") {
		t.Fatalf("audit: %+v", a)
	}
	undo := act(event.PostUndone, moderator2, "p1")
	undo.Was, undo.Pos, undo.Time = "pending", s.Pos()+1, t0.Add(2*time.Minute+30*time.Second)
	if s.Apply(undo).Applied {
		t.Fatal("an undo made on the pending post reversed an approval of moments ago")
	}
	rej.Was = "" // confirmed
	if !step(s, rej).Applied {
		t.Fatal("a confirmed reject was not applied")
	}

	// Seen as it is: no question asked.
	step(s, pending("p2", ada))
	step(s, act(event.PostApproved, moderator, "p2"))
	seen := act(event.PostRejected, moderator2, "p2")
	seen.Was = "approved"
	if !step(s, seen).Applied {
		t.Fatal("a reject of a post seen approved was refused")
	}

	// Long after: no question asked.
	step(s, pending("p3", ada))
	step(s, act(event.PostApproved, moderator, "p3"))
	late := act(event.PostRejected, moderator2, "p3")
	late.Was, late.Pos, late.Time = "pending", s.Pos()+1, t0.Add(time.Duration(s.Pos())*time.Minute+event.ReversalWindow)
	if !s.Apply(late).Applied {
		t.Fatal("a reject two minutes after the approval asked first")
	}

	// The rules' decisions are not a person's: nobody is asked.
	step(s, received("p4", ada, event.DecisionApprove, "auto"))
	rules := act(event.PostRejected, moderator2, "p4")
	rules.Was = "pending"
	if !step(s, rules).Applied {
		t.Fatal("a reject of a post the rules approved asked first")
	}
	checkInvariants(t, s)
}

// The stage's acknowledgement marks the message read once, in the Effect.
func TestStageRead(t *testing.T) {
	s := New(SettingsView{})
	step(s, event.Entry{Kind: event.StageMessage, Actor: moderator, Message: "two minutes"})
	eff := step(s, event.Entry{Kind: event.StageRead, Actor: facilitator, Ref: 1})
	if !eff.Applied || eff.Stage == nil || eff.Stage.Pos != 1 || eff.Stage.ReadBy != facilitator || !eff.Stage.ReadAt.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("read: %+v", eff.Stage)
	}
	if m := s.StageMessages(0)[0]; m.ReadAt.IsZero() {
		t.Fatal("the message is not marked read")
	}
	if step(s, event.Entry{Kind: event.StageRead, Actor: facilitator, Ref: 1}).Applied {
		t.Fatal("a second read was applied")
	}
	if step(s, event.Entry{Kind: event.StageRead, Actor: facilitator, Ref: 99}).Applied {
		t.Fatal("a read of no message was applied")
	}
}
