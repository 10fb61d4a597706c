package wall

import (
	"net/http"

	"github.com/backchannel/backchannel/auth"
	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/fold"
	"github.com/backchannel/backchannel/ingest"
)

// The staff read endpoints' limits.
const (
	DefaultAuditLimit = 100
	MaxAuditLimit     = 5000
	DefaultStageLimit = 20
	MaxStageLimit     = 500
)

func (st *staffAPI) routeReads() {
	const base = "GET /api/events/{slug}/"
	st.handle(base+"queue", event.RoleModerator, st.getQueue)
	st.handle(base+"posts/{id}", event.RoleModerator, st.getPost)
	st.handle(base+"audit", event.RoleModerator, st.getAudit)
	st.handle(base+"counts", event.RoleModerator, st.getCounts)
	st.handle(base+"sources", event.RoleModerator, st.getSources)
	st.handle(base+"blocks", event.RoleModerator, st.getBlocks)
	st.handle(base+"questions", event.RoleFacilitator, st.getQuestions)
	st.handle(base+"questions/{id}", event.RoleFacilitator, st.getQuestion)
	st.handle(base+"stage", event.RoleFacilitator, st.getStage)
}

// QueueView is the body of GET .../queue.
type QueueView struct {
	// Posts are the pending posts, oldest first, each with the rule that held it.
	Posts []fold.PostView `json:"posts"`
	Pos   uint64          `json:"pos"`
}

func (st *staffAPI) getQueue(w http.ResponseWriter, r *http.Request, e *Event, _ auth.Identity) error {
	var q QueueView
	e.Live.View(func(s *fold.State) { q = QueueView{Posts: s.Queue(), Pos: s.Pos()} })
	WriteJSON(w, http.StatusOK, q)
	return nil
}

func (st *staffAPI) getPost(w http.ResponseWriter, r *http.Request, e *Event, _ auth.Identity) error {
	id := r.PathValue("id")
	var (
		p  fold.PostView
		ok bool
	)
	e.Live.View(func(s *fold.State) { p, ok = s.Post(id) })
	if !ok {
		return errNoPost(id)
	}
	WriteJSON(w, http.StatusOK, p)
	return nil
}

func errNoPost(id string) error {
	return event.Errorf(event.ENOTFOUND, "no post %q (never received, or deleted at its source)", id)
}

// AuditView is the body of GET .../audit.
type AuditView struct {
	// Entries are the newest first.
	Entries []fold.AuditEntry `json:"entries"`
	Pos     uint64            `json:"pos"`
}

func (st *staffAPI) getAudit(w http.ResponseWriter, r *http.Request, e *Event, _ auth.Identity) error {
	limit, err := intParam(r, "limit", DefaultAuditLimit, 1, MaxAuditLimit)
	if err != nil {
		return err
	}
	var a AuditView
	e.Live.View(func(s *fold.State) { a = AuditView{Entries: s.Audit(limit), Pos: s.Pos()} })
	WriteJSON(w, http.StatusOK, a)
	return nil
}

// CountsView is the body of GET .../counts.
type CountsView struct {
	fold.Counts
	Pos uint64 `json:"pos"`
}

func (st *staffAPI) getCounts(w http.ResponseWriter, r *http.Request, e *Event, _ auth.Identity) error {
	var c CountsView
	e.Live.View(func(s *fold.State) { c = CountsView{Counts: s.Counts(), Pos: s.Pos()} })
	WriteJSON(w, http.StatusOK, c)
	return nil
}

// SourcesView is the body of GET .../sources.
type SourcesView struct {
	// Sources are the health of the sources this node runs for the event;
	// empty on a node that runs none (a fan-out-only node).
	Sources []ingest.HealthSnapshot `json:"sources"`
}

func (st *staffAPI) getSources(w http.ResponseWriter, r *http.Request, e *Event, _ auth.Identity) error {
	v := SourcesView{Sources: []ingest.HealthSnapshot{}}
	if e.Health != nil {
		if h := e.Health(); h != nil {
			v.Sources = h
		}
	}
	WriteJSON(w, http.StatusOK, v)
	return nil
}

// BlocksView is the body of GET .../blocks.
type BlocksView struct {
	// Blocks are those in force now, oldest first.
	Blocks []fold.BlockView `json:"blocks"`
	Pos    uint64           `json:"pos"`
}

func (st *staffAPI) getBlocks(w http.ResponseWriter, r *http.Request, e *Event, _ auth.Identity) error {
	var b BlocksView
	now := st.now()
	e.Live.View(func(s *fold.State) { b = BlocksView{Blocks: s.Blocks(now), Pos: s.Pos()} })
	WriteJSON(w, http.StatusOK, b)
	return nil
}

// QuestionsView is the body of GET .../questions.
type QuestionsView struct {
	// Open are the open questions in the facilitators' order, the one
	// being read among them (state "reading").
	Open []fold.QuestionView `json:"open"`
	// Answered are in the order they were answered.
	Answered []fold.QuestionView `json:"answered"`
	// NowReading is the question being read, also listed in Open.
	NowReading *fold.QuestionView `json:"now_reading"`
	Pos        uint64             `json:"pos"`
}

func questionsOf(s *fold.State) QuestionsView {
	v := QuestionsView{Open: s.Questions(), Answered: s.Answered(), Pos: s.Pos()}
	for i := range v.Open {
		if v.Open[i].State == fold.QuestionReading {
			q := v.Open[i]
			v.NowReading = &q
		}
	}
	return v
}

// findQuestion returns the listed question with this id, open or answered.
func findQuestion(s *fold.State, id string) (fold.QuestionView, bool) {
	for _, list := range [][]fold.QuestionView{s.Questions(), s.Answered()} {
		for _, q := range list {
			if q.ID == id {
				return q, true
			}
		}
	}
	return fold.QuestionView{}, false
}

func (st *staffAPI) getQuestions(w http.ResponseWriter, r *http.Request, e *Event, _ auth.Identity) error {
	var v QuestionsView
	e.Live.View(func(s *fold.State) { v = questionsOf(s) })
	WriteJSON(w, http.StatusOK, v)
	return nil
}

func (st *staffAPI) getQuestion(w http.ResponseWriter, r *http.Request, e *Event, _ auth.Identity) error {
	id := r.PathValue("id")
	var (
		q  fold.QuestionView
		ok bool
	)
	e.Live.View(func(s *fold.State) { q, ok = findQuestion(s, id) })
	if !ok {
		return event.Errorf(event.ENOTFOUND, "no question %q", id)
	}
	WriteJSON(w, http.StatusOK, q)
	return nil
}

// StageView is the body of GET .../stage.
type StageView struct {
	// Messages are the newest first.
	Messages []fold.StageMessageView `json:"messages"`
	Pos      uint64                  `json:"pos"`
}

func (st *staffAPI) getStage(w http.ResponseWriter, r *http.Request, e *Event, _ auth.Identity) error {
	limit, err := intParam(r, "limit", DefaultStageLimit, 1, MaxStageLimit)
	if err != nil {
		return err
	}
	var v StageView
	e.Live.View(func(s *fold.State) { v = StageView{Messages: s.StageMessages(limit), Pos: s.Pos()} })
	WriteJSON(w, http.StatusOK, v)
	return nil
}

// staffSocket serves a moderator's or facilitator's websocket: the
// audience is the caller's role, from the credentials, never asked for.
// It is a path of its own rather than the public /ws deciding by the
// cookie, because a projector laptop where someone is logged in as a
// moderator must still get a public socket for its wall.
func (st *staffAPI) staffSocket(w http.ResponseWriter, r *http.Request, e *Event, id auth.Identity) error {
	if e.Hub == nil {
		return event.Errorf(event.EUNAVAILABLE, "this node serves no live updates for %q", e.Slug())
	}
	e.Hub.ServeWS(w, r, audienceOf(id))
	return nil
}
