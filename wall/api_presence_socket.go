package wall

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/backchannel/backchannel/auth"
	"github.com/backchannel/backchannel/event"
)

// The moderators' claims: which post each moderator has open (presence),
// pushed to every moderator page the moment it changes, so two moderators
// never settle on the same post. A change made through this node is
// pushed at once; one made through another node (presence in Redis) or an
// entry expiring is pushed within presenceRecheck.
const (
	presenceRecheck    = time.Second
	presenceWriteLimit = 5 * time.Second
	// maxPresenceSockets bounds the claims sockets one node keeps open.
	maxPresenceSockets = MaxViewers
)

// claimBus wakes an event's claims sockets when a claim changes here.
type claimBus struct {
	mu      sync.Mutex
	changed map[string]chan struct{} // slug -> closed at the next change
	open    atomic.Int64
}

func newClaimBus() *claimBus { return &claimBus{changed: map[string]chan struct{}{}} }

// wait returns a channel closed at the event's next claim change.
func (b *claimBus) wait(slug string) <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	ch := b.changed[slug]
	if ch == nil {
		ch = make(chan struct{})
		b.changed[slug] = ch
	}
	return ch
}

// kick tells the event's sockets that a claim changed.
func (b *claimBus) kick(slug string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ch := b.changed[slug]; ch != nil {
		close(ch)
		delete(b.changed, slug)
	}
}

// PresenceMessage is what the claims socket sends: every open post of the
// event, oldest claim first (the first moderator on a post holds it), the
// caller's own marked "you".
type PresenceMessage struct {
	Type       string          `json:"type"` // "presence"
	Open       []PresenceEntry `json:"open"`
	TTLSeconds int             `json:"ttl_seconds"`
}

var presenceUpgrader = websocket.Upgrader{ReadBufferSize: 512, WriteBufferSize: 4096}

// sameOrigin accepts a browser's upgrade only from the page's own origin
// (the cookie would otherwise let any site listen); a client with no
// Origin is not a browser and its credentials were checked.
func sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

// presenceSocket serves GET .../ws/presence: a PresenceMessage now and at
// every change of the event's claims. The client sends nothing; it claims
// with POST posts/{id}/open as before.
func (st *staffAPI) presenceSocket(w http.ResponseWriter, r *http.Request, e *Event, id auth.Identity) error {
	if !sameOrigin(r) {
		return event.Errorf(event.EFORBIDDEN, "this socket is for pages of this server only")
	}
	if st.claims.open.Add(1) > maxPresenceSockets {
		st.claims.open.Add(-1)
		return event.Errorf(event.ERATELIMIT, "too many moderator pages are open")
	}
	defer st.claims.open.Add(-1)
	conn, err := presenceUpgrader.Upgrade(w, r, nil)
	if err != nil {
		return nil // the upgrader has answered
	}
	defer conn.Close()
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		conn.SetReadLimit(512)
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
		}
	}()
	ttl := int(st.presence.TTL() / time.Second)
	tick := time.NewTicker(presenceRecheck)
	defer tick.Stop()
	var (
		last []byte
		sent bool
	)
	for {
		changed := st.claims.wait(e.Slug())
		open, err := st.listPresence(r, e.Slug(), id, "")
		if err == nil {
			if key := claimsKey(open); !sent || !bytes.Equal(key, last) {
				last, sent = key, true
				msg, _ := json.Marshal(PresenceMessage{Type: "presence", Open: open, TTLSeconds: ttl})
				_ = conn.SetWriteDeadline(time.Now().Add(presenceWriteLimit))
				if err := conn.WriteMessage(websocket.TextMessage, msg); err != nil {
					return nil
				}
			}
		}
		select {
		case <-changed:
		case <-tick.C:
		case <-gone:
			return nil
		case <-r.Context().Done():
			return nil
		}
	}
}

// claimsKey is what a page needs to know has changed: who holds which post
// since when (a renewal moves only Expires, which is not sent again).
func claimsKey(open []PresenceEntry) []byte {
	var b bytes.Buffer
	for _, o := range open {
		b.WriteString(o.PostID + " " + o.Viewer + " " + o.Since.String() + "\n")
	}
	return b.Bytes()
}
