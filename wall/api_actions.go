package wall

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/backchannel/backchannel/auth"
	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/fanout"
	"github.com/backchannel/backchannel/fold"
)

// Limits on what people type into the staff API, in characters.
const (
	MaxReasonLength   = 500
	MaxNoteLength     = 1000
	MaxQuestionLength = 1000
	MaxNameLength     = 64
	MaxStageLength    = 280
	// MaxBulk is the most posts one bulk approval takes.
	MaxBulk = 500
	// MaxBlockMinutes is the longest timed block (a year); longer is "for good".
	MaxBlockMinutes = 525600
)

// postActions maps the action in POST .../posts/{id}/{action} to the
// event it appends.
var postActions = map[string]event.Kind{
	"approve":    event.PostApproved,
	"reject":     event.PostRejected,
	"undo":       event.PostUndone,
	"pin":        event.PostPinned,
	"unpin":      event.PostUnpinned,
	"hide-media": event.PostMediaHidden,
	"show-media": event.PostMediaShown,
	"question":   event.QuestionFlagged,
	"unquestion": event.QuestionUnflagged,
}

// questionActions maps the action in POST .../questions/{id}/{action}.
var questionActions = map[string]event.Kind{
	"reading":  event.QuestionReading,
	"answered": event.QuestionAnswered,
	"reopen":   event.QuestionReopened,
	"note":     event.QuestionNoted,
}

func (st *staffAPI) routeActions() {
	const base = "POST /api/events/{slug}/"
	// Each action is a literal route, so an unknown one is the API's 404
	// and the route label of the metrics names the action.
	for name, kind := range postActions {
		st.handle(base+"posts/{id}/"+name, event.RoleModerator, st.postAction(kind))
	}
	st.handle(base+"posts/approve", event.RoleModerator, st.bulk(event.PostApproved))
	st.handle(base+"posts/reject", event.RoleModerator, st.bulk(event.PostRejected))
	st.handle(base+"authors/block", event.RoleModerator, st.block)
	st.handle(base+"authors/unblock", event.RoleModerator, st.unblock)
	st.handle(base+"questions", event.RoleFacilitator, st.addQuestion)
	st.handle(base+"questions/order", event.RoleFacilitator, st.reorder)
	for name, kind := range questionActions {
		st.handle(base+"questions/{id}/"+name, event.RoleFacilitator, st.questionAction(kind))
	}
	st.handle(base+"stage", event.RoleFacilitator, st.stage)
	st.routeRedactions()
}

// reasonBody is the optional body of a post action.
type reasonBody struct {
	// Reason is a moderator's optional words, shown in the audit.
	Reason string `json:"reason"`
	// Seen is the post's version (PostView.Version) the moderator decided
	// on. Approve, pin and question do nothing (409) if the source has sent
	// another version since; zero or absent: whatever it is now.
	Seen uint64 `json:"seen"`
	// State is the post's state the moderator saw (pending, approved,
	// rejected). Approve, reject and undo do nothing (409, with Reverses
	// set) when another person has decided since, moments ago; absent: the
	// state the API reads now, and a recent decision by another caller
	// asks the same. Confirm: true decides anyway.
	State   string `json:"state"`
	Confirm bool   `json:"confirm"`
}

func (st *staffAPI) postAction(kind event.Kind) staffHandler {
	return func(w http.ResponseWriter, r *http.Request, e *Event, id auth.Identity) error {
		var body reasonBody
		if err := decodeBody(w, r, &body); err != nil {
			return err
		}
		reason, err := cleanText("reason", body.Reason, MaxReasonLength, false)
		if err != nil {
			return err
		}
		pid := r.PathValue("id")
		cur, err := currentPost(e, pid)
		if err != nil {
			return err
		}
		was, err := st.stateSeen(kind, body.State, body.Confirm, cur, id)
		if err != nil {
			return err
		}
		if was == askFirst {
			writeReversal(w, ActionResult{Post: &cur}, kind, cur)
			return nil
		}
		pos, err := st.appendAction(r.Context(), e, id, event.Entry{Kind: kind, PostID: pid, Reason: reason, Seen: seenIf(kind, body.Seen), Was: was})
		if err != nil {
			return err
		}
		res := ActionResult{Pos: pos}
		var (
			p     fold.PostView
			found bool
		)
		e.Live.View(func(s *fold.State) {
			res.Applied = appliedAt(s, pos)
			p, found = s.Post(pid)
		})
		if !found {
			// Deleted at its source between the check and the append.
			res.Applied = false
			writeResult(w, res, "the post was deleted at its source")
			return nil
		}
		res.Post = &p
		if !res.Applied && reversed(was, p, st.now()) {
			writeReversal(w, res, kind, p)
			return nil
		}
		noop := postNoop(kind, p)
		if approves(kind) && body.Seen != 0 && body.Seen != p.Version {
			noop = changedSince
		}
		writeResult(w, res, noop)
		return nil
	}
}

// approves reports whether a decision of this kind can put a post's
// content on the wall, and so carries the version the moderator saw.
func approves(kind event.Kind) bool {
	return kind == event.PostApproved || kind == event.PostPinned || kind == event.QuestionFlagged
}

func seenIf(kind event.Kind, seen uint64) uint64 {
	if approves(kind) {
		return seen
	}
	return 0
}

// changedSince is the answer to a decision on a version the source has
// replaced since the moderator looked.
const changedSince = "the post changed at its source since you looked: look at it again"

// postNoop says why kind changed nothing to a post now in the state p.
func postNoop(kind event.Kind, p fold.PostView) string {
	switch kind {
	case event.PostApproved:
		return "the post is already approved"
	case event.PostRejected:
		return "the post is already rejected"
	case event.PostUndone:
		return "the post has no decision left to undo"
	case event.PostPinned:
		if p.State == fold.StateRejected {
			return "a rejected post cannot be pinned; approve or undo first"
		}
		return "the post is already pinned"
	case event.PostUnpinned:
		return "the post is not pinned"
	case event.PostMediaHidden:
		return "the post's media is already hidden"
	case event.PostMediaShown:
		return "the post's media is not hidden"
	case event.QuestionFlagged:
		if p.State == fold.StateRejected {
			return "a rejected post cannot be a question; approve or undo first"
		}
		return "the post is already a question"
	case event.QuestionUnflagged:
		return "the post is not a question"
	}
	return "the action changed nothing"
}

// BulkRequest is the body of POST .../posts/approve and .../posts/reject.
type BulkRequest struct {
	IDs    []string `json:"ids"`
	Reason string   `json:"reason"`
	// Seen maps a post id to the version the moderator approved
	// (PostView.Version); a post whose version has changed since is not
	// approved. Ids it does not name are approved as they are.
	Seen map[string]uint64 `json:"seen,omitempty"`
	// States maps a post id to the state the moderator saw (as a single
	// action's State; ids it does not name: the state read now). A post
	// another person decided otherwise moments ago is left alone, its item
	// a conflict with Reverses set, unless Confirm is true.
	States  map[string]string `json:"states,omitempty"`
	Confirm bool              `json:"confirm"`
}

// BulkItem is the outcome of one post of a bulk approval.
type BulkItem struct {
	ID      string         `json:"id"`
	Applied bool           `json:"applied"`
	Pos     uint64         `json:"pos,omitempty"`
	Post    *fold.PostView `json:"post,omitempty"`
	// Error says why the post was not decided: not_found (nothing was
	// appended) or conflict (it was in that state already, deleted, or
	// another moderator decided otherwise moments ago: Reverses).
	Error    *ErrorDetail `json:"error,omitempty"`
	Reverses *Reversal    `json:"reverses,omitempty"`
}

// BulkResult is the answer to a bulk decision: one item per distinct id,
// in the order given.
type BulkResult struct {
	Results []BulkItem `json:"results"`
	// Approved counts the posts this call approved (posts/approve).
	Approved int `json:"approved"`
	// Rejected counts the posts this call rejected (posts/reject).
	Rejected int `json:"rejected"`
}

// bulk decides kind (approve or reject) on many posts at once.
func (st *staffAPI) bulk(kind event.Kind) staffHandler {
	return func(w http.ResponseWriter, r *http.Request, e *Event, id auth.Identity) error {
		return st.bulkDecide(w, r, e, id, kind)
	}
}

func (st *staffAPI) bulkDecide(w http.ResponseWriter, r *http.Request, e *Event, id auth.Identity, kind event.Kind) error {
	var body BulkRequest
	if err := decodeBody(w, r, &body); err != nil {
		return err
	}
	if len(body.IDs) == 0 || len(body.IDs) > MaxBulk {
		return event.Errorf(event.EINVALID, "ids must list 1 to %d post ids", MaxBulk)
	}
	reason, err := cleanText("reason", body.Reason, MaxReasonLength, false)
	if err != nil {
		return err
	}
	seen := make(map[string]bool, len(body.IDs))
	var items []BulkItem
	for _, pid := range body.IDs {
		if pid == "" || seen[pid] {
			continue
		}
		seen[pid] = true
		items = append(items, BulkItem{ID: pid})
	}
	was := make([]string, len(items))
	var bad error
	e.Live.View(func(s *fold.State) {
		for i := range items {
			p, ok := s.Post(items[i].ID)
			if !ok {
				items[i].Error = &ErrorDetail{Code: event.ENOTFOUND, Message: errNoPost(items[i].ID).Error()}
				continue
			}
			w, err := st.stateSeen(kind, body.States[p.ID], body.Confirm, p, id)
			if err != nil {
				bad = err
				return
			}
			if w == askFirst {
				items[i].Post, items[i].Reverses = &p, reversalOf(p)
				items[i].Error = &ErrorDetail{Code: event.ECONFLICT, Message: reversalMessage(kind, p)}
				continue
			}
			was[i] = w
		}
	})
	if bad != nil {
		return bad
	}
	// One append per post: each decision is its own audit line and its
	// own undo, as if the moderator had pressed the key on each.
	var last uint64
	now := st.now().UTC()
	for i := range items {
		if items[i].Error != nil {
			continue
		}
		seen := uint64(0)
		if kind == event.PostApproved {
			seen = body.Seen[items[i].ID]
		}
		ev := event.Entry{Kind: kind, PostID: items[i].ID, Reason: reason, Seen: seen, Was: was[i], Actor: id.Actor(), Time: now}
		a, err := e.Log.Append(r.Context(), "", ev)
		if err != nil {
			return errorsJoinUnavailable(err)
		}
		items[i].Pos, last = a.Pos, a.Pos
	}
	if last > 0 {
		st.srv.opts.Logger.InfoContext(r.Context(), "staff bulk decision", "event", e.Slug(), "kind", string(kind),
			"posts", len(items), "last_pos", last, "role", string(id.Role), "name", id.Name)
		if err := st.waitFor(r.Context(), e, last); err != nil {
			return err
		}
	}
	res := BulkResult{Results: items}
	e.Live.View(func(s *fold.State) {
		for i := range res.Results {
			it := &res.Results[i]
			if it.Pos == 0 {
				continue
			}
			it.Applied = appliedAt(s, it.Pos)
			if p, ok := s.Post(it.ID); ok {
				it.Post = &p
			}
			switch {
			case it.Applied && kind == event.PostApproved:
				res.Approved++
			case it.Applied:
				res.Rejected++
			case it.Post == nil:
				it.Error = &ErrorDetail{Code: event.ECONFLICT, Message: "the post was deleted at its source"}
			case reversed(was[i], *it.Post, now):
				it.Reverses = reversalOf(*it.Post)
				it.Error = &ErrorDetail{Code: event.ECONFLICT, Message: reversalMessage(kind, *it.Post)}
			case kind == event.PostApproved && body.Seen[it.ID] != 0 && body.Seen[it.ID] != it.Post.Version:
				it.Error = &ErrorDetail{Code: event.ECONFLICT, Message: changedSince}
			default:
				it.Error = &ErrorDetail{Code: event.ECONFLICT, Message: postNoop(kind, *it.Post)}
			}
		}
	})
	WriteJSON(w, http.StatusOK, res)
	return nil
}

// errorsJoinUnavailable wraps a log error as EUNAVAILABLE unless it already
// carries a code, keeping the cause for errors.Is and the log.
func errorsJoinUnavailable(err error) error {
	if event.ErrorCode(err) != event.EINTERNAL {
		return err
	}
	return fmt.Errorf("%w: %w", event.Errorf(event.EUNAVAILABLE, "the action was not recorded: the event log cannot be reached"), err)
}

// BlockRequest is the body of POST .../authors/block and .../unblock:
// exactly one of AuthorID, Domain and PostID (whose author is meant).
type BlockRequest struct {
	AuthorID string `json:"author_id"`
	Domain   string `json:"domain"`
	PostID   string `json:"post_id"`
	// Minutes, for a block, ends it after that long; 0 or absent blocks for good.
	Minutes int    `json:"minutes"`
	Reason  string `json:"reason"`
}

// blockOf turns the request into the block it names, taking the author
// from the post when PostID is given.
func (st *staffAPI) blockOf(e *Event, req BlockRequest) (event.Block, *fold.PostView, error) {
	n := 0
	for _, v := range []string{req.AuthorID, req.Domain, req.PostID} {
		if strings.TrimSpace(v) != "" {
			n++
		}
	}
	if n != 1 {
		return event.Block{}, nil, event.Errorf(event.EINVALID, "give exactly one of author_id, domain and post_id")
	}
	switch {
	case req.PostID != "":
		var (
			p  fold.PostView
			ok bool
		)
		e.Live.View(func(s *fold.State) { p, ok = s.Post(req.PostID) })
		if !ok {
			return event.Block{}, nil, errNoPost(req.PostID)
		}
		if p.Author.ID == "" {
			return event.Block{}, nil, event.Errorf(event.EINVALID, "post %q has no author id to block", req.PostID)
		}
		return event.Block{AuthorID: p.Author.ID, Handle: p.Author.Handle}, &p, nil
	case req.AuthorID != "":
		id, err := cleanText("author_id", req.AuthorID, 2000, true)
		return event.Block{AuthorID: id}, nil, err
	default:
		d := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(req.Domain), "@"))
		if d == "" || len(d) > 253 || strings.ContainsAny(d, " /@:\t\n") || !strings.Contains(d, ".") {
			return event.Block{}, nil, event.Errorf(event.EINVALID, "domain %q is not a host name such as troll.example", req.Domain)
		}
		return event.Block{Domain: d}, nil, nil
	}
}

func (st *staffAPI) block(w http.ResponseWriter, r *http.Request, e *Event, id auth.Identity) error {
	return st.blockAction(w, r, e, id, event.AuthorBlocked)
}

func (st *staffAPI) unblock(w http.ResponseWriter, r *http.Request, e *Event, id auth.Identity) error {
	return st.blockAction(w, r, e, id, event.AuthorUnblocked)
}

func (st *staffAPI) blockAction(w http.ResponseWriter, r *http.Request, e *Event, id auth.Identity, kind event.Kind) error {
	var req BlockRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	reason, err := cleanText("reason", req.Reason, MaxReasonLength, false)
	if err != nil {
		return err
	}
	b, p, err := st.blockOf(e, req)
	if err != nil {
		return err
	}
	if kind == event.AuthorBlocked {
		if req.Minutes < 0 || req.Minutes > MaxBlockMinutes {
			return event.Errorf(event.EINVALID, "minutes must be from 0 (for good) to %d", MaxBlockMinutes)
		}
		if req.Minutes > 0 {
			// The same clock stamps the event, so the fold sees exactly
			// this many minutes of block.
			b.Until = st.now().UTC().Add(time.Duration(req.Minutes) * time.Minute).Truncate(time.Second)
		}
	} else if req.Minutes != 0 {
		return event.Errorf(event.EINVALID, "minutes is for blocks only")
	}
	pos, err := st.appendAction(r.Context(), e, id, event.Entry{Kind: kind, Block: &b, Reason: reason})
	if err != nil {
		return err
	}
	res := ActionResult{Pos: pos}
	now := st.now()
	e.Live.View(func(s *fold.State) {
		res.Applied = appliedAt(s, pos)
		res.Blocks = s.Blocks(now)
		if p != nil {
			if v, ok := s.Post(p.ID); ok {
				res.Post = &v
			}
		}
	})
	if res.Blocks == nil {
		res.Blocks = []fold.BlockView{}
	}
	writeResult(w, res, "no such block is in force")
	return nil
}

// QuestionRequest is the body of POST .../questions: a question heard in
// the room.
type QuestionRequest struct {
	Text string `json:"text"`
	// Name is who asked, if they said.
	Name string `json:"name"`
}

func (st *staffAPI) addQuestion(w http.ResponseWriter, r *http.Request, e *Event, id auth.Identity) error {
	var req QuestionRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	text, err := cleanText("text", req.Text, MaxQuestionLength, true)
	if err != nil {
		return err
	}
	name, err := cleanText("name", req.Name, MaxNameLength, false)
	if err != nil {
		return err
	}
	q := &event.Question{ID: newQuestionID(), Text: text, Name: name}
	pos, err := st.appendAction(r.Context(), e, id, event.Entry{Kind: event.QuestionAdded, Question: q})
	if err != nil {
		return err
	}
	res := ActionResult{Pos: pos}
	e.Live.View(func(s *fold.State) {
		res.Applied = appliedAt(s, pos)
		if v, ok := findQuestion(s, q.ID); ok {
			res.Question = &v
		}
	})
	w.Header().Set("Location", "/api/events/"+e.Slug()+"/questions/"+q.ID)
	writeResult(w, res, "the question was not added")
	return nil
}

// newQuestionID names a question heard in the room: random, so two nodes
// adding questions at once never collide, and never a post id (those are
// hex without a prefix).
func newQuestionID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return "room-" + hex.EncodeToString(b)
}

// OrderRequest is the body of POST .../questions/order.
type OrderRequest struct {
	// Order lists question ids, first first; open questions it leaves out
	// follow in their previous order.
	Order []string `json:"order"`
}

func (st *staffAPI) reorder(w http.ResponseWriter, r *http.Request, e *Event, id auth.Identity) error {
	var req OrderRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	if len(req.Order) == 0 || len(req.Order) > MaxBulk {
		return event.Errorf(event.EINVALID, "order must list 1 to %d question ids", MaxBulk)
	}
	for _, q := range req.Order {
		if q == "" {
			return event.Errorf(event.EINVALID, "order holds an empty id")
		}
	}
	pos, err := st.appendAction(r.Context(), e, id, event.Entry{Kind: event.QuestionReordered, Order: req.Order})
	if err != nil {
		return err
	}
	res := ActionResult{Pos: pos}
	e.Live.View(func(s *fold.State) {
		res.Applied = appliedAt(s, pos)
		res.Questions = s.Questions()
	})
	writeResult(w, res, "the open questions are in that order already")
	return nil
}

// NoteRequest is the body of POST .../questions/{id}/note.
type NoteRequest struct {
	Note string `json:"note"`
}

func (st *staffAPI) questionAction(kind event.Kind) staffHandler {
	return func(w http.ResponseWriter, r *http.Request, e *Event, id auth.Identity) error {
		var req NoteRequest
		if err := decodeBody(w, r, &req); err != nil {
			return err
		}
		note := ""
		if kind == event.QuestionNoted {
			var err error
			if note, err = cleanText("note", req.Note, MaxNoteLength, true); err != nil {
				return err
			}
		} else if req.Note != "" {
			return event.Errorf(event.EINVALID, "note is for .../note only")
		}
		qid := r.PathValue("id")
		var ok bool
		e.Live.View(func(s *fold.State) { _, ok = findQuestion(s, qid) })
		if !ok {
			return event.Errorf(event.ENOTFOUND, "no question %q", qid)
		}
		pos, err := st.appendAction(r.Context(), e, id, event.Entry{Kind: kind, QuestionID: qid, Note: note})
		if err != nil {
			return err
		}
		res := ActionResult{Pos: pos}
		e.Live.View(func(s *fold.State) {
			res.Applied = appliedAt(s, pos)
			if q, ok := findQuestion(s, qid); ok {
				res.Question = &q
			}
		})
		writeResult(w, res, questionNoop(kind, res.Question))
		return nil
	}
}

// questionNoop says why kind changed nothing to the question q (nil: it
// left the lists meanwhile).
func questionNoop(kind event.Kind, q *fold.QuestionView) string {
	if q == nil {
		return "the question is no longer listed (its post was rejected, unflagged or deleted)"
	}
	switch kind {
	case event.QuestionReading:
		if q.State == fold.QuestionAnswered {
			return "the question is answered; reopen it first"
		}
		return "the question is being read already"
	case event.QuestionAnswered:
		return "the question is answered already"
	case event.QuestionReopened:
		return "the question is not answered"
	}
	return "the action changed nothing"
}

// StageRequest is the body of POST .../stage.
type StageRequest struct {
	Message string `json:"message"`
}

func (st *staffAPI) stage(w http.ResponseWriter, r *http.Request, e *Event, id auth.Identity) error {
	var req StageRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	msg, err := cleanText("message", req.Message, MaxStageLength, true)
	if err != nil {
		return err
	}
	pos, err := st.appendAction(r.Context(), e, id, event.Entry{Kind: event.StageMessage, Message: msg})
	if err != nil {
		return err
	}
	res := ActionResult{Pos: pos}
	e.Live.View(func(s *fold.State) {
		res.Applied = appliedAt(s, pos)
		for _, m := range s.StageMessages(int(s.Pos() - pos + 1)) {
			if m.Pos == pos {
				res.Stage = &m
			}
		}
	})
	writeResult(w, res, "the message was not sent")
	return nil
}

// audienceOf is the websocket audience of a staff identity.
func audienceOf(id auth.Identity) fanout.Audience {
	if id.Role == event.RoleModerator {
		return fanout.Moderator
	}
	return fanout.Facilitator
}
