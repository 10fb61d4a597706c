package wall_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// socket is a websocket client that keeps every frame it read.
type socket struct {
	t      *testing.T
	conn   *websocket.Conn
	frames []string
}

func dial(t *testing.T, n *staffNode, path string, h http.Header) (*socket, *http.Response, error) {
	t.Helper()
	url := "ws" + strings.TrimPrefix(n.http.URL, "http") + path
	c, res, err := websocket.DefaultDialer.Dial(url, h)
	if err != nil {
		return nil, res, err
	}
	t.Cleanup(func() { _ = c.Close() })
	return &socket{t: t, conn: c}, res, nil
}

// readUntil reads frames until one holds want, or fails the test after
// the deadline.
func (s *socket) readUntil(want string) {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, f := range s.frames {
		if strings.Contains(f, want) {
			return
		}
	}
	for {
		_ = s.conn.SetReadDeadline(deadline)
		_, b, err := s.conn.ReadMessage()
		if err != nil {
			s.t.Fatalf("waiting for %q: %v (frames so far: %v)", want, err, s.frames)
		}
		s.frames = append(s.frames, string(b))
		if strings.Contains(string(b), want) {
			return
		}
	}
}

func (s *socket) all() string { return strings.Join(s.frames, "\n") }

// TestPublicNeverCarriesPending holds, approves, rejects and blocks posts
// through the API while a public socket, a facilitator socket and a
// moderator socket are open, and checks that neither the public socket
// nor the public API ever carries a post that is not approved, nor who
// moderated, while the moderator socket carries everything.
func TestPublicNeverCarriesPending(t *testing.T) {
	n := newDiskNode(t)
	pub, _, err := dial(t, n, "/api/events/ev/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	mod, _, err := dial(t, n, "/api/events/ev/ws/staff", http.Header{"Authorization": {"Bearer " + modToken}})
	if err != nil {
		t.Fatal(err)
	}
	fac, _, err := dial(t, n, "/api/events/ev/ws/staff", http.Header{"Authorization": {"Bearer " + facToken}})
	if err != nil {
		t.Fatal(err)
	}
	// A staff socket without credentials is refused at the upgrade; a
	// moderator's cookie does not turn the public socket into a staff one.
	if _, res, err := dial(t, n, "/api/events/ev/ws/staff", nil); err == nil || res == nil || res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("staff socket without credentials: %v %v", err, res)
	}
	session := n.login(t, modPass, "ada")
	pub2, _, err := dial(t, n, "/api/events/ev/ws", http.Header{"Cookie": {session.cookie.String()}})
	if err != nil {
		t.Fatal(err)
	}
	pub.readUntil(`"audience":"public"`)
	pub2.readUntil(`"audience":"public"`)
	mod.readUntil(`"audience":"moderator"`)
	fac.readUntil(`"audience":"facilitator"`)

	ids := n.receive(t,
		textPost("https://a.example/1", "APPROVED-ONE", "@ada@a.example"),
		textPost("https://a.example/2", "PENDING-SECRET-REJECTED", "@ada@a.example"),
		textPost("https://a.example/3", "PENDING-SECRET-HELD", "@ada@a.example"),
		textPost("https://troll.example/4", "PENDING-SECRET-BLOCKED", "@troll@troll.example"),
		textPost("https://a.example/5", "APPROVED-LAST", "@ada@a.example"),
	)
	n.call(t, "POST", "/api/events/ev/posts/"+ids[0]+"/approve", modCred, nil, 200, nil)
	n.call(t, "POST", "/api/events/ev/posts/"+ids[1]+"/reject", modCred, nil, 200, nil)
	// Approved, then blocked: it leaves the wall.
	n.call(t, "POST", "/api/events/ev/posts/"+ids[3]+"/approve", modCred, nil, 200, nil)
	n.call(t, "POST", "/api/events/ev/authors/block", modCred, map[string]any{"post_id": ids[3]}, 200, nil)
	n.call(t, "POST", "/api/events/ev/posts/"+ids[4]+"/question", modCred, nil, 200, nil)

	pub.readUntil("APPROVED-LAST")
	pub2.readUntil("APPROVED-LAST")
	mod.readUntil("PENDING-SECRET-HELD")
	fac.readUntil("APPROVED-LAST") // the question, as facilitators see it

	var wallBody, eventBody []byte
	_, wallBody = n.do(t, "GET", "/api/events/ev/wall?limit=500", noCred, nil)
	_, eventBody = n.do(t, "GET", "/api/events/ev", noCred, nil)
	// The blocked post was on the wall for a moment, as approved: the
	// public may have seen it then. What must never reach them is a post
	// while it is pending or after it left.
	public := map[string]string{
		"public socket": pub.all(), "public socket with a moderator cookie": pub2.all(),
		"GET wall": string(wallBody), "GET event": string(eventBody),
	}
	for name, s := range public {
		// Neither the posts nor who moderated them, nor by which rule.
		for _, secret := range []string{"PENDING-SECRET-REJECTED", "PENDING-SECRET-HELD", "pre-moderation", "decided_by", "token:", "moderator"} {
			if strings.Contains(s, secret) {
				t.Errorf("%s carries %q: %s", name, secret, s)
			}
		}
		if name != "GET event" && !strings.Contains(s, "APPROVED-ONE") {
			t.Errorf("%s lacks the approved post: %s", name, s)
		}
	}
	for _, secret := range []string{"PENDING-SECRET-REJECTED", "PENDING-SECRET-HELD"} {
		if strings.Contains(fac.all(), secret) {
			t.Errorf("the facilitator socket carries %q: %s", secret, fac.all())
		}
	}
	if strings.Contains(string(wallBody), "PENDING-SECRET-BLOCKED") {
		t.Errorf("the wall still holds the blocked author's post: %s", wallBody)
	}
	if !strings.Contains(pub.all(), `"remove":["`+ids[3]+`"]`) {
		t.Errorf("the public socket was not told the blocked post left: %s", pub.all())
	}
	if !strings.Contains(mod.all(), "PENDING-SECRET-REJECTED") {
		t.Errorf("the moderator socket lacks the rejected post")
	}
}
