package wall

import (
	"fmt"
	"net/http"
	"time"

	"github.com/backchannel/backchannel/auth"
	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/fold"
)

// Two moderators on one queue must not overrule each other without
// knowing. A decision names the state its moderator saw (reasonBody.State,
// logged as event.Entry.Was); the fold leaves it undone when another person
// decided otherwise within event.ReversalWindow, and the API answers 409
// with Reverses set, so the page asks "Sam approved this moments ago:
// reject it anyway?" and sends the decision again with confirm: true.

// askFirst is what stateSeen returns when the API itself sees that the
// call would reverse another person's recent decision.
const askFirst = "\x00ask"

// Reversal is the decision another person made moments ago that an action
// would reverse.
type Reversal struct {
	// State is the post's state that decision gave it.
	State fold.PostState `json:"state"`
	By    event.Actor    `json:"by"`
	At    time.Time      `json:"at"`
}

// reverses reports whether kind would take back the decision that put p
// in its state.
func reverses(kind event.Kind, p fold.PostView) bool {
	switch kind {
	case event.PostApproved:
		return p.State == fold.StateRejected
	case event.PostRejected:
		return p.State == fold.StateApproved
	case event.PostUndone:
		return p.State != fold.StatePending
	}
	return false
}

// byPerson reports whether a person (not the rules) made p's decision.
func byPerson(p fold.PostView) bool {
	return p.DecidedBy.Role == event.RoleModerator || p.DecidedBy.Role == event.RoleFacilitator
}

// recent reports whether p's decision was made within the reversal window of now.
func recent(p fold.PostView, now time.Time) bool {
	return byPerson(p) && now.Sub(p.DecidedAt) < event.ReversalWindow
}

// stateSeen is the Entry.Was of a decision of kind on p (as it stands now)
// by id: "" when no check applies (another kind, or confirmed), the state
// the caller says it saw, or else the state now. It returns askFirst when
// the caller said nothing and p's state is another caller's decision of
// moments ago that kind would reverse.
func (st *staffAPI) stateSeen(kind event.Kind, state string, confirm bool, p fold.PostView, id auth.Identity) (string, error) {
	switch kind {
	case event.PostApproved, event.PostRejected, event.PostUndone:
	default:
		return "", nil
	}
	if confirm {
		return "", nil
	}
	switch fold.PostState(state) {
	case fold.StatePending, fold.StateApproved, fold.StateRejected:
		return state, nil
	case "":
	default:
		return "", event.Errorf(event.EINVALID, "state must be pending, approved or rejected (the state you saw), not %q", state)
	}
	if reverses(kind, p) && recent(p, st.now()) && p.DecidedBy != id.Actor() {
		return askFirst, nil
	}
	return string(p.State), nil
}

// reversed reports whether a decision sent with Entry.Was was left undone
// because it would have reversed another person's decision: p (after it)
// is not in the state the moderator saw, by a person's recent decision.
func reversed(was string, p fold.PostView, now time.Time) bool {
	return was != "" && was != askFirst && string(p.State) != was && recent(p, now)
}

func reversalOf(p fold.PostView) *Reversal {
	return &Reversal{State: p.State, By: p.DecidedBy, At: p.DecidedAt}
}

var verbs = map[event.Kind]string{event.PostApproved: "approve", event.PostRejected: "reject", event.PostUndone: "undo"}

// reversalMessage says, for people, what a decision of kind would reverse.
func reversalMessage(kind event.Kind, p fold.PostView) string {
	who := p.DecidedBy.Name
	if who == "" {
		who = "another " + string(p.DecidedBy.Role)
	}
	return fmt.Sprintf("%s %s this post at %s UTC, after you looked: to %s it anyway, send it again with confirm: true",
		who, p.State, p.DecidedAt.UTC().Format(time.TimeOnly), verbs[kind])
}

// writeReversal answers 409 with the decision kind would reverse.
func writeReversal(w http.ResponseWriter, res ActionResult, kind event.Kind, p fold.PostView) {
	res.Applied = false
	res.Reverses = reversalOf(p)
	res.Error = &ErrorDetail{Code: event.ECONFLICT, Message: reversalMessage(kind, p)}
	WriteJSON(w, http.StatusConflict, res)
}
