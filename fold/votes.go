package fold

import (
	"github.com/backchannel/backchannel/event"
)

// Participants vote for the open questions from their phones: one vote per
// device per question (event.Entry.Device), taken back with
// question.unvoted. A second vote from a device that has one, or taking
// back a vote it does not have, changes nothing: a vote is idempotent by
// (device, question), so a retried request is harmless. The public
// surfaces get the open questions with their counts (Wall.Questions), and
// for an event that changed only votes, just the new counts
// (WallDelta.Votes), which the fan-out coalesces.

// vote applies question.voted or question.unvoted.
func (s *State) vote(c *change, e event.Entry) bool {
	q := s.questions[e.QuestionID]
	if q == nil || e.Device == "" {
		return false
	}
	vs := s.voters[q]
	_, has := vs[e.Device]
	switch e.Kind {
	case event.QuestionVoted:
		if has || q.State == QuestionAnswered {
			return false
		}
		if vs == nil {
			if s.voters == nil {
				s.voters = make(map[*QuestionView]map[string]struct{})
			}
			vs = make(map[string]struct{})
			s.voters[q] = vs
		}
		vs[e.Device] = struct{}{}
		q.Votes++
	case event.QuestionUnvoted:
		if !has {
			return false
		}
		delete(vs, e.Device)
		q.Votes--
	default:
		return false
	}
	c.touchQ(q.ID)
	return true
}

// Voted reports whether device votes for the question id now.
func (s *State) Voted(id, device string) bool {
	q := s.questions[id]
	if q == nil {
		return false
	}
	_, ok := s.voters[q][device]
	return ok
}

// VotedBy returns the ids of the open questions device votes for.
func (s *State) VotedBy(device string) []string {
	var out []string
	for _, id := range s.open {
		if _, ok := s.voters[s.questions[id]][device]; ok {
			out = append(out, id)
		}
	}
	return out
}

// Question returns the listed (open, reading or answered) question with this id.
func (s *State) Question(id string) (QuestionView, bool) {
	if s.questions[id] == nil {
		return QuestionView{}, false
	}
	return s.question(id), true
}

// promoteCandidate makes a post its author asked as a question (the web
// form's tick) a question when a moderator approves it.
func (s *State) promoteCandidate(c *change, e event.Entry) {
	p := s.live(e.PostID)
	if p == nil || !p.v.QuestionCandidate || p.v.Question || p.v.State != StateApproved || s.questions[p.v.ID] != nil {
		return
	}
	p.v.Question = true
	s.questions[p.v.ID] = &QuestionView{
		ID: p.v.ID, PostID: p.v.ID, Text: p.v.Text, HTML: p.v.HTML, Author: p.v.Author,
		State: QuestionOpen, AskedAt: e.Time,
	}
	s.open = append(s.open, p.v.ID)
	c.touchQ(p.v.ID)
}

// publicQuestions are the open questions as public surfaces show them.
func (s *State) publicQuestions() []PublicQuestion {
	out := make([]PublicQuestion, 0, len(s.open))
	for _, id := range s.open {
		out = append(out, publicQuestion(s.questions[id]))
	}
	return out
}

func publicQuestion(q *QuestionView) PublicQuestion {
	return PublicQuestion{ID: q.ID, Text: q.Text, HTML: q.HTML, Author: q.Author, Name: q.Name,
		Votes: q.Votes, Reading: q.State == QuestionReading}
}

// publicQuestionsDelta fills the wall delta's questions part: only the new
// counts after a vote, the whole open list after anything else that
// touched a question (but a note, which is not public).
func (s *State) publicQuestionsDelta(c *change, w *WallDelta) {
	if len(c.qids) == 0 || c.kind == event.QuestionNoted {
		return
	}
	if c.kind == event.QuestionVoted || c.kind == event.QuestionUnvoted {
		w.Votes = make(map[string]int, len(c.qids))
		for _, id := range c.qids {
			if q := s.questions[id]; q != nil {
				w.Votes[id] = q.Votes
			}
		}
		return
	}
	w.QuestionsChanged, w.Questions = true, s.publicQuestions()
}
