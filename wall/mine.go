package wall

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/fold"
	"github.com/backchannel/backchannel/internal/ratelimit"
)

// A participant who posts through the web form gets a token for that post
// in the form's answer; the participant page shows "Your post" with its
// text and where it stands, asking GET /e/{slug}/mine?token=… while it
// waits. The endpoint shows that one post to the holder of its token and
// nothing else: no other post, no moderator, no rule, no reason.

// PostTokens reads a participant's post token (the web form's
// *webform.Handler hands them out and reads them): the post it is for and
// the log position it was appended at, and the key of the client's
// address, set even when the token is wrong so guesses count against it.
// Errors carry their code: ENOTFOUND for a wrong token or an event without
// a form, EFORBIDDEN for a request from another site.
type PostTokens interface {
	PostToken(r *http.Request, slug, token string) (post string, pos uint64, addr string, err error)
}

// MineLimits bound how often one post and one address may be read back.
// The participant page asks every 4 s while a post waits; the defaults
// allow a few tabs on one phone, and a venue's whole room behind one
// address.
type MineLimits struct {
	PerPost    ratelimit.Rate
	PerAddress ratelimit.Rate
}

// DefaultMineLimits: a post 10 at once then one a second; an address 600
// at once then 20 a second.
var DefaultMineLimits = MineLimits{
	PerPost:    ratelimit.Rate{Burst: 10, Every: time.Second},
	PerAddress: ratelimit.Rate{Burst: 600, Every: 50 * time.Millisecond},
}

// mineWait bounds how long a read waits for this node's fold to reach the
// post (a node other than the one that took it may lag a moment).
const mineWait = 2 * time.Second

// MyPost is the body of GET /e/{slug}/mine: the participant's own post.
type MyPost struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Text is the post as it stands: on the wall, the version shown.
	Text string `json:"text"`
	// Question is set when the sender ticked "this is a question".
	Question bool `json:"question"`
	// State is "pending" (waiting for a moderator), "approved" (on the
	// wall) or "rejected" (not shown); never why.
	State     fold.PostState `json:"state"`
	CreatedAt time.Time      `json:"created_at"`
}

type mineAPI struct {
	srv             *Server
	tokens          PostTokens
	perPost, byAddr *ratelimit.Limiter
}

// routeMine mounts GET /e/{slug}/mine (docs/API.md, "The participant's own
// post").
func (s *Server) routeMine(tokens PostTokens, limits MineLimits, now func() time.Time) {
	if limits.PerPost.Burst == 0 {
		limits.PerPost = DefaultMineLimits.PerPost
	}
	if limits.PerAddress.Burst == 0 {
		limits.PerAddress = DefaultMineLimits.PerAddress
	}
	m := &mineAPI{srv: s, tokens: tokens,
		perPost: ratelimit.NewLimiter(limits.PerPost, now), byAddr: ratelimit.NewLimiter(limits.PerAddress, now)}
	s.HandleFunc("GET /e/{slug}/mine", func(w http.ResponseWriter, r *http.Request) {
		if err := m.read(w, r); err != nil {
			WriteError(w, r, err)
		}
	})
}

// read answers 200 with the post; 400 without a token; 403 from another
// site; 404 for a wrong token, an unknown event or a post no longer there
// (deleted, or a rehearsal's after going live); 429 with Retry-After past
// the post's or the address's limit; 503 when this node's fold has not
// reached the post within 2 s.
func (m *mineAPI) read(w http.ResponseWriter, r *http.Request) error {
	e, err := m.srv.EventOf(r)
	if err != nil {
		return err
	}
	token := strings.TrimSpace(r.URL.Query().Get("token"))
	if token == "" {
		return event.Errorf(event.EINVALID, "token: required (the one the form gave when the post was sent)")
	}
	post, pos, addr, terr := m.tokens.PostToken(r, e.Slug(), token)
	if addr != "" {
		if err := m.limit(w, m.byAddr, e.Slug()+"\x00"+addr, "many requests came from your network in a short time; please wait a moment"); err != nil {
			return err
		}
	}
	if terr != nil {
		return terr
	}
	if err := m.limit(w, m.perPost, e.Slug()+"\x00"+post, "this post was asked for a lot in a short time; please wait a moment"); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), mineWait)
	defer cancel()
	if err := e.Live.WaitFor(ctx, pos); err != nil {
		return event.Errorf(event.EUNAVAILABLE, "your post is saved; its state will follow in a moment")
	}
	var (
		p     fold.PostView
		found bool
	)
	e.Live.View(func(s *fold.State) { p, found = s.Post(post) })
	if !found {
		return event.Errorf(event.ENOTFOUND, "this post is no longer here")
	}
	WriteJSON(w, http.StatusOK, MyPost{ID: p.ID, Name: p.Author.Name, Text: p.Text, Question: p.Post.Question,
		State: p.State, CreatedAt: p.CreatedAt})
	return nil
}

func (m *mineAPI) limit(w http.ResponseWriter, l *ratelimit.Limiter, key, msg string) error {
	if ok, retry := l.Allow(key); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(ratelimit.RetryAfterSeconds(retry)))
		return event.Errorf(event.ERATELIMIT, "%s", msg)
	}
	return nil
}
