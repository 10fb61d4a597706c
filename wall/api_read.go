package wall

import (
	"cmp"
	"net/http"
	"slices"
	"sort"
	"strconv"

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
	DefaultPostsLimit = 100
	MaxPostsLimit     = 1000
)

func (st *staffAPI) routeReads() {
	const base = "GET /api/events/{slug}/"
	st.handle(base+"queue", event.RoleModerator, st.getQueue)
	st.handle(base+"posts", event.RoleModerator, st.getPosts)
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

// PostsView is the body of GET .../posts?state=S&limit=N&before=POS.
type PostsView struct {
	// Posts are in State, newest first by their last change (LastPos).
	Posts []fold.PostView `json:"posts"`
	// Before is the before= of the next page; 0 when this page is the last.
	Before uint64 `json:"before"`
	Pos    uint64 `json:"pos"`
}

// getPosts lists the posts in one state, newest first by the post's last
// change, a page at a time: before=POS asks for posts whose last change is
// before POS (the Before of the previous page). Posts that one event
// changed together (a bulk approval) share their LastPos and are never
// split across pages, so a page may hold more than limit of them.
func (st *staffAPI) getPosts(w http.ResponseWriter, r *http.Request, e *Event, _ auth.Identity) error {
	state := fold.PostState(r.URL.Query().Get("state"))
	if state != fold.StatePending && state != fold.StateApproved && state != fold.StateRejected {
		return event.Errorf(event.EINVALID, "state must be %q, %q or %q, not %q", fold.StatePending, fold.StateApproved, fold.StateRejected, state)
	}
	limit, err := intParam(r, "limit", DefaultPostsLimit, 1, MaxPostsLimit)
	if err != nil {
		return err
	}
	var before uint64
	if b := r.URL.Query().Get("before"); b != "" {
		if before, err = strconv.ParseUint(b, 10, 64); err != nil || before == 0 {
			return event.Errorf(event.EINVALID, "before must be a log position (a whole number above 0), not %q", b)
		}
	}
	var (
		all []fold.PostView
		pos uint64
	)
	e.Live.View(func(s *fold.State) { all, pos = s.PostsIn(state), s.Pos() })
	// Sorted outside the fold's lock, so a long list never holds up the fold.
	slices.SortStableFunc(all, func(a, b fold.PostView) int { return cmp.Compare(b.LastPos, a.LastPos) })
	if before > 0 {
		// all is newest first: skip the posts changed at or after before.
		i := sort.Search(len(all), func(i int) bool { return all[i].LastPos < before })
		all = all[i:]
	}
	v := PostsView{Posts: all, Pos: pos}
	if len(all) > limit {
		n := limit
		for n < len(all) && all[n].LastPos == all[n-1].LastPos {
			n++
		}
		v.Posts = all[:n:n]
		if n < len(all) {
			v.Before = all[n-1].LastPos
		}
	}
	WriteJSON(w, http.StatusOK, v)
	return nil
}

func errNoPost(id string) error {
	return event.Errorf(event.ENOTFOUND, "no post %q (never received, or deleted at its source)", id)
}

// currentPost is the post with this id as this node's fold has it now, or
// errNoPost.
func currentPost(e *Event, pid string) (fold.PostView, error) {
	var (
		p  fold.PostView
		ok bool
	)
	e.Live.View(func(s *fold.State) { p, ok = s.Post(pid) })
	if !ok {
		return p, errNoPost(pid)
	}
	return p, nil
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
	// Trouble says, in a host's words, what is wrong with each source in
	// trouble (api_sources_trouble.go); empty when all is well.
	Trouble []SourceTrouble `json:"trouble"`
}

func (st *staffAPI) getSources(w http.ResponseWriter, r *http.Request, e *Event, _ auth.Identity) error {
	v := SourcesView{Sources: []ingest.HealthSnapshot{}}
	if e.Health != nil {
		if h := e.Health(); h != nil {
			v.Sources = h
		}
	}
	v.Trouble = troubleOf(v.Sources, e.Config.Zone())
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
