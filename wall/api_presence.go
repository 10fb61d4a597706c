package wall

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/backchannel/backchannel/auth"
	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/fold"
)

// MaxViewers bounds the presence entries kept per event: far more
// moderators than any event has, so a script opening posts in a loop
// cannot grow the map without end.
const MaxViewers = 1000

// presence remembers which post each moderator has open, on this node
// only and in memory only: it is ephemeral (who looks at what for the
// next half minute), so it is not written to the log. Each viewer has at
// most one post open: opening another lets go of the first, which is how
// a moderator moves down the queue.
type presence struct {
	ttl time.Duration
	now func() time.Time

	mu     sync.Mutex
	events map[string]map[string]*viewing // slug -> viewer key -> what it has open
}

type viewing struct {
	postID  string
	by      event.Actor
	viewer  string // the public form of the viewer key
	since   time.Time
	expires time.Time
}

func newPresence(ttl time.Duration, now func() time.Time) *presence {
	return &presence{ttl: ttl, now: now, events: map[string]map[string]*viewing{}}
}

// viewerKey tells one moderator's screen from another's: the session's
// CSRF token (random per login) for a cookie, the token's name for a
// bearer. Moderators sharing a passphrase have no name to tell them
// apart; their logins do.
func viewerKey(id auth.Identity) string {
	if id.Bearer || id.CSRFToken == "" {
		return "name:" + string(id.Role) + ":" + id.Name
	}
	return "session:" + id.CSRFToken
}

// viewerID is the key as others may see it: a short digest, so the CSRF
// token it may come from never leaves the server.
func viewerID(key string) string {
	sum := sha256.Sum256([]byte("backchannel presence\x00" + key))
	return hex.EncodeToString(sum[:6])
}

// PresenceEntry is one moderator with one post open.
type PresenceEntry struct {
	PostID string      `json:"post_id"`
	By     event.Actor `json:"by"`
	// Viewer identifies the moderator's screen (a login), so two
	// moderators sharing one passphrase and no name are still told apart.
	Viewer string `json:"viewer"`
	// You is set on the caller's own entry.
	You     bool      `json:"you,omitempty"`
	Since   time.Time `json:"since"`
	Expires time.Time `json:"expires"`
}

// open records that the viewer has postID open, renewing it when it had
// it already and letting go of any other post the viewer had open.
func (p *presence) open(slug string, id auth.Identity, postID string) error {
	key := viewerKey(id)
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.events[slug]
	if m == nil {
		m = map[string]*viewing{}
		p.events[slug] = m
	}
	p.sweepLocked(m, now)
	v := m[key]
	if v == nil {
		if len(m) >= MaxViewers {
			return event.Errorf(event.ERATELIMIT, "too many moderators have posts open")
		}
		v = &viewing{by: id.Actor(), viewer: viewerID(key)}
		m[key] = v
	}
	if v.postID != postID {
		v.postID, v.since = postID, now
	}
	v.expires = now.Add(p.ttl)
	return nil
}

// close lets go of postID if the viewer has it open.
func (p *presence) close(slug string, id auth.Identity, postID string) {
	key := viewerKey(id)
	p.mu.Lock()
	defer p.mu.Unlock()
	if m := p.events[slug]; m != nil {
		if v := m[key]; v != nil && v.postID == postID {
			delete(m, key)
		}
	}
}

// list returns the open entries of the event, oldest first, optionally
// only those of one post; the caller's own is marked.
func (p *presence) list(slug string, id auth.Identity, postID string) []PresenceEntry {
	me := viewerID(viewerKey(id))
	now := p.now()
	p.mu.Lock()
	m := p.events[slug]
	p.sweepLocked(m, now)
	out := make([]PresenceEntry, 0, len(m))
	for _, v := range m {
		if postID != "" && v.postID != postID {
			continue
		}
		out = append(out, PresenceEntry{PostID: v.postID, By: v.by, Viewer: v.viewer,
			You: v.viewer == me, Since: v.since, Expires: v.expires})
	}
	p.mu.Unlock()
	slices.SortFunc(out, func(a, b PresenceEntry) int {
		if c := a.Since.Compare(b.Since); c != 0 {
			return c
		}
		return strings.Compare(a.Viewer, b.Viewer)
	})
	return out
}

func (p *presence) sweepLocked(m map[string]*viewing, now time.Time) {
	for k, v := range m {
		if !now.Before(v.expires) {
			delete(m, k)
		}
	}
}

func (st *staffAPI) routePresence() {
	st.handle("POST /api/events/{slug}/posts/{id}/open", event.RoleModerator, st.openPost)
	st.handle("POST /api/events/{slug}/posts/{id}/close", event.RoleModerator, st.closePost)
	st.handle("GET /api/events/{slug}/presence", event.RoleModerator, st.getPresence)
}

// OpenResult is the answer to POST .../posts/{id}/open.
type OpenResult struct {
	Post fold.PostView `json:"post"`
	// Others are the other moderators who have the post open.
	Others []PresenceEntry `json:"others"`
	// TTLSeconds is how long the post stays open without another open.
	TTLSeconds int `json:"ttl_seconds"`
}

func (st *staffAPI) openPost(w http.ResponseWriter, r *http.Request, e *Event, id auth.Identity) error {
	pid := r.PathValue("id")
	var (
		p  fold.PostView
		ok bool
	)
	e.Live.View(func(s *fold.State) { p, ok = s.Post(pid) })
	if !ok {
		return errNoPost(pid)
	}
	if err := st.presence.open(e.Slug(), id, pid); err != nil {
		return err
	}
	res := OpenResult{Post: p, Others: []PresenceEntry{}, TTLSeconds: int(st.presence.ttl / time.Second)}
	for _, o := range st.presence.list(e.Slug(), id, pid) {
		if !o.You {
			res.Others = append(res.Others, o)
		}
	}
	WriteJSON(w, http.StatusOK, res)
	return nil
}

func (st *staffAPI) closePost(w http.ResponseWriter, r *http.Request, e *Event, id auth.Identity) error {
	st.presence.close(e.Slug(), id, r.PathValue("id"))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// PresenceView is the body of GET .../presence.
type PresenceView struct {
	Open       []PresenceEntry `json:"open"`
	TTLSeconds int             `json:"ttl_seconds"`
}

func (st *staffAPI) getPresence(w http.ResponseWriter, r *http.Request, e *Event, id auth.Identity) error {
	WriteJSON(w, http.StatusOK, PresenceView{Open: st.presence.list(e.Slug(), id, ""), TTLSeconds: int(st.presence.ttl / time.Second)})
	return nil
}
