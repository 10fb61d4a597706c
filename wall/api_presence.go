package wall

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/backchannel/backchannel/auth"
	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/fold"
	"github.com/backchannel/backchannel/presence"
)

// MaxViewers bounds the presence entries kept per event (presence.MaxViewers).
const MaxViewers = presence.MaxViewers

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

// listPresence returns the event's open entries, oldest first, optionally
// only those of one post, the caller's own marked.
func (st *staffAPI) listPresence(r *http.Request, slug string, id auth.Identity, postID string) ([]PresenceEntry, error) {
	me := viewerID(viewerKey(id))
	all, err := st.presence.List(r.Context(), slug, st.now())
	if err != nil {
		return nil, err
	}
	out := make([]PresenceEntry, 0, len(all))
	for _, v := range all {
		if postID != "" && v.PostID != postID {
			continue
		}
		out = append(out, PresenceEntry{PostID: v.PostID, By: v.By, Viewer: v.Viewer,
			You: v.Viewer == me, Since: v.Since, Expires: v.Expires})
	}
	return out, nil
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
	// ClaimedBy is set when another moderator opened the post first: it
	// is theirs, and the page moves on to the next post nobody holds.
	ClaimedBy *PresenceEntry `json:"claimed_by,omitempty"`
	// TTLSeconds is how long the post stays open without another open.
	TTLSeconds int `json:"ttl_seconds"`
}

func (st *staffAPI) openPost(w http.ResponseWriter, r *http.Request, e *Event, id auth.Identity) error {
	pid := r.PathValue("id")
	p, err := currentPost(e, pid)
	if err != nil {
		return err
	}
	if err := st.presence.Open(r.Context(), e.Slug(), viewerID(viewerKey(id)), id.Actor(), pid, st.now()); err != nil {
		return err
	}
	st.claims.kick(e.Slug())
	res := OpenResult{Post: p, Others: []PresenceEntry{}, TTLSeconds: int(st.presence.TTL() / time.Second)}
	entries, err := st.listPresence(r, e.Slug(), id, pid)
	if err != nil {
		return err
	}
	for i, o := range entries {
		if !o.You {
			res.Others = append(res.Others, o)
		}
		if i == 0 && !o.You { // oldest first: the first to open it holds it
			res.ClaimedBy = &entries[0]
		}
	}
	WriteJSON(w, http.StatusOK, res)
	return nil
}

func (st *staffAPI) closePost(w http.ResponseWriter, r *http.Request, e *Event, id auth.Identity) error {
	if err := st.presence.Release(r.Context(), e.Slug(), viewerID(viewerKey(id)), r.PathValue("id")); err != nil {
		return err
	}
	st.claims.kick(e.Slug())
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// PresenceView is the body of GET .../presence.
type PresenceView struct {
	Open       []PresenceEntry `json:"open"`
	TTLSeconds int             `json:"ttl_seconds"`
}

func (st *staffAPI) getPresence(w http.ResponseWriter, r *http.Request, e *Event, id auth.Identity) error {
	open, err := st.listPresence(r, e.Slug(), id, "")
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, PresenceView{Open: open, TTLSeconds: int(st.presence.TTL() / time.Second)})
	return nil
}
