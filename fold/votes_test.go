package fold

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/backchannel/backchannel/event"
)

var participant = event.Actor{Role: event.RoleSource, Name: "participant"}

func voted(qid, device string) event.Entry {
	return event.Entry{Kind: event.QuestionVoted, Actor: participant, QuestionID: qid, Device: device}
}

func unvoted(qid, device string) event.Entry {
	return event.Entry{Kind: event.QuestionUnvoted, Actor: participant, QuestionID: qid, Device: device}
}

func formQuestion(key string) event.Entry {
	e := pending(key, ada)
	e.Post.Source, e.Post.Question = "form", true
	e.Post.Text = "What will change for carers?"
	return e
}

func votesOf(s *State, qid string) int {
	q, ok := s.Question(qid)
	if !ok {
		return -1
	}
	return q.Votes
}

func TestQuestionCandidateApprovedBecomesQuestion(t *testing.T) {
	s, _ := applyAll(t, seq(formQuestion("f1")))
	p, _ := s.Post(id("f1"))
	if !p.QuestionCandidate || p.Question {
		t.Fatalf("received: candidate %v question %v, want a candidate only", p.QuestionCandidate, p.Question)
	}
	b, _ := json.Marshal(p)
	if !strings.Contains(string(b), `"question_candidate":true`) {
		t.Fatalf("the moderators' JSON loses the tick: %s", b)
	}
	eff := step(s, act(event.PostApproved, moderator, "f1"))
	if got := questionIDs(s.Questions()); len(got) != 1 || got[0] != id("f1") {
		t.Fatalf("after approval the questions are %v, want the post", got)
	}
	if eff.Wall == nil || !eff.Wall.QuestionsChanged || len(eff.Wall.Questions) != 1 {
		t.Fatalf("the wall was not told of the new question: %+v", eff.Wall)
	}
	// Unflagged by a moderator: undo and approve again does not ask it again.
	step(s, act(event.QuestionUnflagged, moderator, "f1"))
	step(s, act(event.PostUndone, moderator, "f1"))
	step(s, act(event.PostApproved, moderator, "f1"))
	if n := len(s.Questions()); n != 0 {
		t.Fatalf("an unflagged candidate became a question again: %d questions", n)
	}
	checkInvariants(t, s)
}

func TestPlainPostApprovedIsNoQuestion(t *testing.T) {
	s, _ := applyAll(t, seq(pending("p1", ada), act(event.PostApproved, moderator, "p1")))
	if n := len(s.Questions()); n != 0 {
		t.Fatalf("a post without the tick became a question")
	}
}

func TestVotesOnePerDeviceAndTakenBack(t *testing.T) {
	s, _ := applyAll(t, seq(roomQuestion("q1", "How much?"), roomQuestion("q2", "When?")))
	for _, tc := range []struct {
		e       event.Entry
		applied bool
		q1, q2  int
	}{
		{voted("q1", "d1"), true, 1, 0},
		{voted("q1", "d1"), false, 1, 0}, // a second vote from one device
		{voted("q1", "d2"), true, 2, 0},
		{voted("q2", "d1"), true, 2, 1},
		{unvoted("q1", "d1"), true, 1, 1},
		{unvoted("q1", "d1"), false, 1, 1},
		{unvoted("q2", "d9"), false, 1, 1},
		{voted("q1", "d1"), true, 2, 1}, // voted again after taking it back
		{voted("nope", "d1"), false, 2, 1},
	} {
		eff := step(s, tc.e)
		if eff.Applied != tc.applied || votesOf(s, "q1") != tc.q1 || votesOf(s, "q2") != tc.q2 {
			t.Fatalf("%s %s by %s: applied %v q1 %d q2 %d, want %v %d %d", tc.e.Kind, tc.e.QuestionID, tc.e.Device,
				eff.Applied, votesOf(s, "q1"), votesOf(s, "q2"), tc.applied, tc.q1, tc.q2)
		}
		if tc.applied {
			if eff.Wall == nil || eff.Wall.Votes[tc.e.QuestionID] != votesOf(s, tc.e.QuestionID) || eff.Wall.QuestionsChanged {
				t.Fatalf("vote effect on the wall: %+v", eff.Wall)
			}
			if len(eff.Questions) != 1 || eff.Questions[0].Votes != votesOf(s, tc.e.QuestionID) {
				t.Fatalf("vote effect for the staff: %+v", eff.Questions)
			}
		} else if eff.Wall != nil {
			t.Fatalf("a vote that changed nothing reached the wall: %+v", eff.Wall)
		}
	}
	if !s.Voted("q1", "d1") || s.Voted("q1", "d9") {
		t.Fatalf("Voted is wrong")
	}
	if got := s.VotedBy("d1"); len(got) != 2 {
		t.Fatalf("VotedBy(d1) = %v", got)
	}
	w := s.Wall(0)
	if len(w.Questions) != 2 || w.Questions[0].Votes != 2 || w.Questions[1].Votes != 1 {
		t.Fatalf("wall questions %+v", w.Questions)
	}
	// Answered: no new votes; reopened keeps its count.
	step(s, qstep(event.QuestionAnswered, "q1"))
	if eff := step(s, voted("q1", "d7")); eff.Applied {
		t.Fatalf("a vote for an answered question was taken")
	}
	if len(s.Wall(0).Questions) != 1 {
		t.Fatalf("an answered question is still on the public list")
	}
	step(s, qstep(event.QuestionReopened, "q1"))
	if votesOf(s, "q1") != 2 {
		t.Fatalf("reopened q1 has %d votes, want 2", votesOf(s, "q1"))
	}
}

func TestVotesStartAgainWhenAQuestionComesBack(t *testing.T) {
	s, _ := applyAll(t, seq(pending("p1", ada), act(event.QuestionFlagged, moderator, "p1"),
		voted(id("p1"), "d1"), act(event.QuestionUnflagged, moderator, "p1"), act(event.QuestionFlagged, moderator, "p1")))
	if v := votesOf(s, id("p1")); v != 0 {
		t.Fatalf("a question flagged again has %d votes, want 0", v)
	}
	if eff := step(s, voted(id("p1"), "d1")); !eff.Applied {
		t.Fatalf("the device could not vote for the question flagged again")
	}
}

func TestNotesStayOffTheWall(t *testing.T) {
	s, _ := applyAll(t, seq(roomQuestion("q1", "How much?")))
	eff := step(s, event.Entry{Kind: event.QuestionNoted, Actor: facilitator, QuestionID: "q1", Note: "ask the mayor"})
	if eff.Wall != nil {
		t.Fatalf("a note reached the wall: %+v", eff.Wall)
	}
}

func TestVoteValidate(t *testing.T) {
	for _, e := range []event.Entry{
		{Kind: event.QuestionVoted, Actor: participant, QuestionID: "q1"},
		{Kind: event.QuestionVoted, Actor: participant, Device: "d1"},
		{Kind: event.QuestionUnvoted, Actor: participant, QuestionID: "q1", Device: strings.Repeat("d", event.MaxDeviceLength+1)},
	} {
		if err := e.Validate(); event.ErrorCode(err) != event.EINVALID {
			t.Errorf("%+v: Validate = %v, want EINVALID", e, err)
		}
	}
	if e := voted("q1", "d1"); e.Validate() != nil {
		t.Fatalf("a good vote: %v", e.Validate())
	}
}
