package wall

import (
	"net/http"
	"strconv"

	"github.com/backchannel/backchannel/auth"
	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/fold"
)

// routeEventDay mounts what the event day needs beside the actions:
// going live, the stage's read receipt and the moderators' claims socket.
func (st *staffAPI) routeEventDay() {
	const base = "/api/events/{slug}/"
	st.handle("POST "+base+"go-live", event.RoleModerator, st.goLive)
	st.handle("POST "+base+"stage/{pos}/read", event.RoleFacilitator, st.stageRead)
	st.handle("GET "+base+"ws/presence", event.RoleModerator, st.presenceSocket)
}

// GoLiveRequest is the body of POST .../go-live.
type GoLiveRequest struct {
	// Confirm must be true: going live cannot be undone.
	Confirm bool `json:"confirm"`
}

// GoLiveResult is the answer to POST .../go-live.
type GoLiveResult struct {
	Applied bool   `json:"applied"`
	Pos     uint64 `json:"pos"`
	// Removed counts the rehearsal posts that left every view.
	Removed int         `json:"removed"`
	Counts  fold.Counts `json:"counts"`
}

// goLive ends the rehearsal (event.went_live): every post the rehearsal
// source made up leaves every view; the audit keeps the record.
func (st *staffAPI) goLive(w http.ResponseWriter, r *http.Request, e *Event, id auth.Identity) error {
	var req GoLiveRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	if !req.Confirm {
		return event.Errorf(event.EINVALID, "going live removes every rehearsal post for good: send confirm: true")
	}
	var before fold.Counts
	e.Live.View(func(s *fold.State) { before = s.Counts() })
	pos, err := st.appendAction(r.Context(), e, id, event.Entry{Kind: event.EventWentLive})
	if err != nil {
		return err
	}
	res := GoLiveResult{Pos: pos, Removed: before.Rehearsal}
	e.Live.View(func(s *fold.State) {
		res.Applied, res.Counts = appliedAt(s, pos), s.Counts()
	})
	if !res.Applied {
		res.Removed = 0
	}
	// Going live twice is not an error: the event is live either way.
	WriteJSON(w, http.StatusOK, res)
	return nil
}

// stageRead records that the stage read the stage message at {pos}: the
// sender's page shows "read at 11:04".
func (st *staffAPI) stageRead(w http.ResponseWriter, r *http.Request, e *Event, id auth.Identity) error {
	pos, err := strconv.ParseUint(r.PathValue("pos"), 10, 64)
	if err != nil || pos == 0 {
		return event.Errorf(event.EINVALID, "%q is not a stage message's position", r.PathValue("pos"))
	}
	found := false
	e.Live.View(func(s *fold.State) {
		for _, m := range s.StageMessages(0) {
			if m.Pos == pos {
				found = true
				return
			}
		}
	})
	if !found {
		return event.Errorf(event.ENOTFOUND, "no stage message at position %d", pos)
	}
	at, err := st.appendAction(r.Context(), e, id, event.Entry{Kind: event.StageRead, Ref: pos})
	if err != nil {
		return err
	}
	res := ActionResult{Pos: at}
	e.Live.View(func(s *fold.State) {
		res.Applied = appliedAt(s, at)
		for _, m := range s.StageMessages(0) {
			if m.Pos == pos {
				res.Stage = &m
			}
		}
	})
	writeResult(w, res, "the message was read already")
	return nil
}
