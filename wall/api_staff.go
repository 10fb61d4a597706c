package wall

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/backchannel/backchannel/auth"
	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/fold"
	"github.com/backchannel/backchannel/presence"
)

// StaffOptions configure the moderator and facilitator API that MountStaff
// adds to a Server.
type StaffOptions struct {
	// Auth checks every staff request's credentials, and serves login,
	// logout and session. Required.
	Auth *auth.Authenticator
	// Form, when not nil, is the web form source (a *webform.Handler),
	// mounted at GET and POST /e/{slug}/form.
	Form http.Handler
	// PresenceTTL is how long a post a moderator opened counts as open
	// without being opened again (default 30s): a closed laptop lid lets
	// go of its post by itself. Used when Presence is nil.
	PresenceTTL time.Duration
	// Presence keeps which post each moderator has open. Nil keeps it in
	// this node's memory (presence.NewMemory(PresenceTTL)); with several
	// nodes behind a load balancer, give them one shared store
	// (redispresence) so moderators on different nodes see each other.
	Presence presence.Store
	// WaitTimeout bounds how long an action waits for this node's fold to
	// reflect the event it appended (default 10s).
	WaitTimeout time.Duration
	// Voters, when not nil, tells who sends a participant's vote (the web
	// form's *webform.Handler: its device token): the votes are mounted
	// (POST/DELETE /e/{slug}/questions/{id}/vote, GET /e/{slug}/votes).
	// When nil and Form is a Voters, Form is used.
	Voters Voters
	// VoteLimits bound votes per device and address (DefaultVoteLimits).
	VoteLimits VoteLimits
	// PostTokens, when not nil, reads the post tokens the web form hands
	// out: GET /e/{slug}/mine shows a participant their own post (mine.go).
	// When nil and Form is a PostTokens, Form is used.
	PostTokens PostTokens
	// MineLimits bound those reads per post and address (DefaultMineLimits).
	MineLimits MineLimits
	// Now is the clock of the events the API appends, and so of block
	// expiries and presence (default time.Now).
	Now func() time.Time
}

// staffAPI serves the moderator and facilitator endpoints of one Server.
type staffAPI struct {
	srv      *Server
	auth     *auth.Authenticator
	now      func() time.Time
	wait     time.Duration
	presence presence.Store
	claims   *claimBus // wakes the claims sockets (api_presence_socket.go)
}

// MountStaff adds the moderator and facilitator API (docs/API.md, "Staff
// API"), the staff websocket, the exports, login/logout/session and, when
// opts.Form is set, the web form, to s. Every staff route checks
// credentials before anything else (auth.Authenticator.Require). Call it
// once, before serving.
func (s *Server) MountStaff(opts StaffOptions) error {
	if opts.Auth == nil {
		return errors.New("wall: MountStaff: an authenticator is required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.WaitTimeout <= 0 {
		opts.WaitTimeout = 10 * time.Second
	}
	if opts.PresenceTTL <= 0 {
		opts.PresenceTTL = 30 * time.Second
	}
	st := &staffAPI{
		srv: s, auth: opts.Auth, now: opts.Now, wait: opts.WaitTimeout,
		presence: opts.Presence, claims: newClaimBus(),
	}
	if st.presence == nil {
		st.presence = presence.NewMemory(opts.PresenceTTL)
	}

	s.Handle("POST /e/{slug}/login", opts.Auth.LoginHandler())
	s.Handle("POST /e/{slug}/logout", opts.Auth.LogoutHandler())
	s.Handle("GET /e/{slug}/session", opts.Auth.SessionHandler())
	if opts.Form != nil {
		s.Handle("GET /e/{slug}/form", opts.Form)
		s.Handle("POST /e/{slug}/form", opts.Form)
	}

	if opts.Voters == nil {
		opts.Voters, _ = opts.Form.(Voters)
	}
	if opts.Voters != nil {
		s.routeVotes(opts.Voters, opts.VoteLimits, opts.Now, opts.WaitTimeout)
	}
	if opts.PostTokens == nil {
		opts.PostTokens, _ = opts.Form.(PostTokens)
	}
	if opts.PostTokens != nil {
		s.routeMine(opts.PostTokens, opts.MineLimits, opts.Now)
	}
	st.routeReads()
	st.routeActions()
	st.routePresence()
	st.routeSettings()
	st.routeExport()
	st.routeReport()
	st.routeEventDay()
	st.handle("GET /api/events/{slug}/ws/staff", event.RoleFacilitator, st.staffSocket)
	return nil
}

// staffHandler is a staff endpoint: it runs after the credentials were
// checked, with the event found and the caller's identity.
type staffHandler func(w http.ResponseWriter, r *http.Request, e *Event, id auth.Identity) error

// handle mounts h on pattern behind Require(role): no credentials, wrong
// ones or an unknown event answer 401, a role that may not 403, a cookie
// POST without its CSRF token 403, all before h looks at anything. A
// facilitator route is open to moderators too.
func (st *staffAPI) handle(pattern string, role event.Role, h staffHandler) {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e, err := st.srv.EventOf(r)
		if err == nil {
			id, _ := auth.IdentityFrom(r.Context())
			err = h(w, r, e, id)
		}
		if err != nil {
			WriteError(w, r, err)
		}
	})
	st.srv.Handle(pattern, st.auth.Require(role)(inner))
}

// maxBody bounds a staff request's JSON body: the largest is a bulk
// approval of a few hundred ids.
const maxBody = 64 << 10

// decodeBody reads the JSON body into v. An empty body leaves v as it is,
// so actions whose fields are all optional may be posted bare.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return event.Errorf(event.EINVALID, "the body is larger than %d bytes", maxBody)
		}
		return event.Errorf(event.EINVALID, "the body is not the JSON this endpoint takes: %v", err)
	}
	return nil
}

// cleanText checks a person's free text (a note, a question, a stage
// message): valid UTF-8, at most max characters, no control characters
// but newlines and tabs. It returns the text trimmed.
func cleanText(field, s string, max int, required bool) (string, error) {
	s = strings.TrimSpace(s)
	if required && s == "" {
		return "", event.Errorf(event.EINVALID, "%s is required", field)
	}
	if !utf8.ValidString(s) {
		return "", event.Errorf(event.EINVALID, "%s is not valid UTF-8", field)
	}
	if n := utf8.RuneCountInString(s); n > max {
		return "", event.Errorf(event.EINVALID, "%s is %d characters long; at most %d", field, n, max)
	}
	for _, c := range s {
		if (unicode.IsControl(c) && c != '\n' && c != '\t') || isBidi(c) {
			return "", event.Errorf(event.EINVALID, "%s holds control characters", field)
		}
	}
	return s, nil
}

// isBidi reports the bidirectional overrides that can make text shown to
// other people read differently from what it says.
func isBidi(c rune) bool {
	return (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069)
}

// appendAction appends ev as the caller's, stamped with the API's clock,
// and waits until this node's fold reflects it, so the answer that
// follows reads the caller's own write. It returns the event's position.
func (st *staffAPI) appendAction(ctx context.Context, e *Event, id auth.Identity, ev event.Entry) (uint64, error) {
	ev.Actor = id.Actor()
	ev.Time = st.now().UTC()
	if err := ev.Validate(); err != nil {
		return 0, err
	}
	a, err := e.Log.Append(ctx, "", ev)
	if err != nil {
		return 0, errorsJoinUnavailable(err)
	}
	st.srv.opts.Logger.InfoContext(ctx, "staff action",
		"event", e.Slug(), "kind", string(ev.Kind), "pos", a.Pos,
		"role", string(ev.Actor.Role), "name", ev.Actor.Name,
		"post_id", ev.PostID, "question_id", ev.QuestionID)
	return a.Pos, st.waitFor(ctx, e, a.Pos)
}

// waitFor waits until the event's fold reflects pos.
func (st *staffAPI) waitFor(ctx context.Context, e *Event, pos uint64) error {
	wctx, cancel := context.WithTimeout(ctx, st.wait)
	defer cancel()
	if err := e.Live.WaitFor(wctx, pos); err != nil {
		return fmt.Errorf("%w: %w", event.Errorf(event.EUNAVAILABLE,
			"the action was recorded at position %d, but this node has not caught up with it yet; reload", pos), err)
	}
	return nil
}

// appliedAt reports whether the event at pos changed anything, from the
// audit, which lists every staff event with its outcome. The entry is
// among the newest s.Pos()-pos+1, since each position has at most one.
func appliedAt(s *fold.State, pos uint64) bool {
	if s.Pos() < pos {
		return false
	}
	for _, a := range s.Audit(int(s.Pos() - pos + 1)) {
		if a.Pos == pos {
			return a.Applied
		}
	}
	return false
}

// ActionResult is the answer to every action: whether it changed
// anything, the log position it was recorded at, and the views it touched
// as they stand after it. An action that changed nothing answers 409 with
// Error set and the views as they stand.
type ActionResult struct {
	Applied bool `json:"applied"`
	// Pos is the position of the event the action appended.
	Pos       uint64                 `json:"pos"`
	Post      *fold.PostView         `json:"post,omitempty"`
	Question  *fold.QuestionView     `json:"question,omitempty"`
	Questions []fold.QuestionView    `json:"questions,omitempty"`
	Blocks    []fold.BlockView       `json:"blocks,omitempty"`
	Stage     *fold.StageMessageView `json:"stage,omitempty"`
	Error     *ErrorDetail           `json:"error,omitempty"`
	// Reverses is set on a 409 for a decision that would reverse another
	// moderator's decision of moments ago (api_reversal.go).
	Reverses *Reversal `json:"reverses,omitempty"`
}

// writeResult answers 200 with res, or 409 with the conflict message when
// the action changed nothing.
func writeResult(w http.ResponseWriter, res ActionResult, noop string) {
	if res.Applied {
		WriteJSON(w, http.StatusOK, res)
		return
	}
	res.Error = &ErrorDetail{Code: event.ECONFLICT, Message: noop}
	WriteJSON(w, http.StatusConflict, res)
}
