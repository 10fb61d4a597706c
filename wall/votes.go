package wall

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/fold"
	"github.com/backchannel/backchannel/internal/ratelimit"
)

// Voters tells who sends a participant's vote (the web form's
// *webform.Handler is one): the device's pseudonym for the log and the
// key of its address, or an error with its code (EFORBIDDEN for a vote
// from another site or without a device token).
type Voters interface {
	Voter(r *http.Request, slug string) (device, addr string, err error)
}

// VoteLimits bound how often one device and one address may vote. The
// defaults allow a participant to tap through every question and back,
// and a venue's whole room behind one address to vote within seconds.
type VoteLimits struct {
	PerDevice  ratelimit.Rate
	PerAddress ratelimit.Rate
}

// DefaultVoteLimits: a device 30 at once then one every 2 s; an address
// 600 at once then 20 a second.
var DefaultVoteLimits = VoteLimits{
	PerDevice:  ratelimit.Rate{Burst: 30, Every: 2 * time.Second},
	PerAddress: ratelimit.Rate{Burst: 600, Every: 50 * time.Millisecond},
}

// voteAPI serves the participants' votes.
type voteAPI struct {
	srv            *Server
	voters         Voters
	device, byAddr *ratelimit.Limiter
	now            func() time.Time
	wait           time.Duration
}

// routeVotes mounts POST and DELETE /e/{slug}/questions/{id}/vote and GET
// /e/{slug}/votes (docs/API.md, "Votes").
func (s *Server) routeVotes(voters Voters, limits VoteLimits, now func() time.Time, wait time.Duration) {
	if limits.PerDevice.Burst == 0 {
		limits.PerDevice = DefaultVoteLimits.PerDevice
	}
	if limits.PerAddress.Burst == 0 {
		limits.PerAddress = DefaultVoteLimits.PerAddress
	}
	v := &voteAPI{srv: s, voters: voters, now: now, wait: wait,
		device: ratelimit.NewLimiter(limits.PerDevice, now), byAddr: ratelimit.NewLimiter(limits.PerAddress, now)}
	s.HandleFunc("POST /e/{slug}/questions/{id}/vote", v.handle(event.QuestionVoted))
	s.HandleFunc("DELETE /e/{slug}/questions/{id}/vote", v.handle(event.QuestionUnvoted))
	s.HandleFunc("GET /e/{slug}/votes", v.mine)
}

// VoteResult is the answer to a vote or its taking back.
type VoteResult struct {
	// Question is the question's id; Voted whether this device votes for it now.
	Question string `json:"question"`
	Voted    bool   `json:"voted"`
	// Votes is the question's count after the vote.
	Votes int    `json:"votes"`
	Pos   uint64 `json:"pos"`
}

// MyVotes is the body of GET /e/{slug}/votes.
type MyVotes struct {
	// Voted are the ids of the open questions this device votes for.
	Voted []string `json:"voted"`
	Pos   uint64   `json:"pos"`
}

func (v *voteAPI) who(r *http.Request) (*Event, string, string, error) {
	e, err := v.srv.EventOf(r)
	if err != nil {
		return nil, "", "", err
	}
	device, addr, err := v.voters.Voter(r, e.Slug())
	return e, device, addr, err
}

func (v *voteAPI) mine(w http.ResponseWriter, r *http.Request) {
	e, device, _, err := v.who(r)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	res := MyVotes{}
	e.Live.View(func(s *fold.State) { res.Voted, res.Pos = s.VotedBy(device), s.Pos() })
	if res.Voted == nil {
		res.Voted = []string{}
	}
	WriteJSON(w, http.StatusOK, res)
}

// handle answers a vote (kind question.voted) or its taking back
// (question.unvoted): 200 with the count after it; 409 when this device
// votes for the question already (or, taking back, does not); 404 for a
// question that is not open; 403 from another site or without a device
// token; 429 with Retry-After past the device's or the address's limit.
func (v *voteAPI) handle(kind event.Kind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := v.vote(w, r, kind); err != nil {
			WriteError(w, r, err)
		}
	}
}

func (v *voteAPI) vote(w http.ResponseWriter, r *http.Request, kind event.Kind) error {
	e, device, addr, err := v.who(r)
	if err != nil {
		return err
	}
	for _, l := range []struct {
		lim      *ratelimit.Limiter
		key, msg string
	}{
		{v.device, e.Slug() + "\x00" + device, "you have voted a lot in a short time; please wait a moment"},
		{v.byAddr, e.Slug() + "\x00" + addr, "many votes came from your network in a short time; please wait a moment"},
	} {
		if ok, retry := l.lim.Allow(l.key); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(ratelimit.RetryAfterSeconds(retry)))
			return event.Errorf(event.ERATELIMIT, "%s", l.msg)
		}
	}
	qid := r.PathValue("id")
	var (
		q     fold.QuestionView
		found bool
		voted bool
	)
	e.Live.View(func(s *fold.State) {
		q, found = s.Question(qid)
		voted = s.Voted(qid, device)
	})
	switch {
	case !found || q.State == fold.QuestionAnswered && kind == event.QuestionVoted:
		return event.Errorf(event.ENOTFOUND, "no open question %q", qid)
	case kind == event.QuestionVoted && voted:
		return event.Errorf(event.ECONFLICT, "this device has voted for that question already; tap again to take the vote back")
	case kind == event.QuestionUnvoted && !voted:
		return event.Errorf(event.ECONFLICT, "this device has no vote for that question to take back")
	}
	ev := event.Entry{Kind: kind, Actor: event.Actor{Role: event.RoleSource, Name: "participant"},
		QuestionID: qid, Device: device, Time: v.now().UTC()}
	if err := ev.Validate(); err != nil {
		return err
	}
	a, err := e.Log.Append(r.Context(), "", ev)
	if err != nil {
		return errorsJoinUnavailable(err)
	}
	ctx, cancel := context.WithTimeout(r.Context(), v.wait)
	defer cancel()
	if err := e.Live.WaitFor(ctx, a.Pos); err != nil {
		return event.Errorf(event.EUNAVAILABLE, "your vote was recorded; the count will follow")
	}
	res := VoteResult{Question: qid, Pos: a.Pos}
	e.Live.View(func(s *fold.State) {
		res.Voted = s.Voted(qid, device)
		if q, ok := s.Question(qid); ok {
			res.Votes = q.Votes
		}
	})
	if res.Voted != (kind == event.QuestionVoted) {
		// Another tap of the same device got there first: say what stands.
		return event.Errorf(event.ECONFLICT, "this device's vote changed meanwhile; it now stands at voted=%v", res.Voted)
	}
	WriteJSON(w, http.StatusOK, res)
	return nil
}
