package fanout

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/backchannel/backchannel/event"
)

// fast makes public flushes quick so tests do not wait on ticks.
var fast = Options{PublicInterval: 10 * time.Millisecond}

func TestPublicNeverCarriesAPendingPost(t *testing.T) {
	_, l := openLog(t)
	n := startNode(t, l, fast, nil)
	pub := dial(t, n.url(Public, ""), nil)
	modc := dial(t, n.url(Moderator, ""), nil)
	for _, c := range []*client{pub, modc} {
		if _, err := c.next(5 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if pub.msgs[0].Type != "snapshot" || pub.msgs[0].Epoch != n.hub.Epoch() {
		t.Fatalf("first message = %+v, want a snapshot with the epoch", pub.msgs[0])
	}

	appendPost(t, l, "held", "SECRET-held text", event.DecisionHold)
	appendPost(t, l, "ok", "approved text", event.DecisionApprove)
	appendPost(t, l, "later", "held then approved", event.DecisionHold)
	appendPost(t, l, "rej", "SECRET-rejected text", event.DecisionReject)
	last := appendDecision(t, l, event.PostApproved, "later")

	pub.readUntil(last)
	modc.readUntil(last)

	var pubIDs []string
	for _, m := range pub.msgs {
		if m.Wall != nil {
			for _, p := range m.Wall.Upsert {
				pubIDs = append(pubIDs, p.ID)
			}
		}
	}
	want := []string{testPost("ok", "").ID, testPost("later", "").ID}
	if !slices.Equal(pubIDs, want) {
		t.Errorf("public upserts = %v, want %v", pubIDs, want)
		t.Logf("raw: %q", pub.raw)
	}
	for _, raw := range pub.raw {
		if strings.Contains(raw, "SECRET") || strings.Contains(raw, testPost("held", "").ID) {
			t.Errorf("public frame carries a post that is not approved: %s", raw)
		}
	}
	// Moderators see every post, held ones included.
	seen := map[string]string{}
	for _, m := range modc.msgs {
		if m.Effect != nil {
			for _, p := range m.Effect.Posts {
				seen[p.ID] = p.State
			}
		}
	}
	if seen[testPost("held", "").ID] != "pending" || seen[testPost("rej", "").ID] != "rejected" || seen[testPost("later", "").ID] != "approved" {
		t.Errorf("moderator saw states %v", seen)
	}
	if got := modc.events(); !slices.Equal(got, seq(1, last)) {
		t.Errorf("moderator positions = %v, want every event 1..%d", got, last)
	}
}

func TestResumeAfterMissedBurst(t *testing.T) {
	_, l := openLog(t)
	n := startNode(t, l, fast, nil)
	for i := range 3 {
		appendPost(t, l, fmt.Sprint("a", i), "before", event.DecisionApprove)
	}
	c := dial(t, n.url(Public, ""), nil)
	p := appendPost(t, l, "a3", "seen", event.DecisionApprove)
	c.readUntil(p)
	epoch := c.msgs[0].Epoch
	c.ws.Close()

	var last uint64
	for i := range 40 {
		last = appendPost(t, l, fmt.Sprint("b", i), "burst", event.DecisionApprove)
	}
	n.waitPos(t, last)
	c2 := dial(t, n.url(Public, fmt.Sprintf("since=%d&epoch=%s", p, epoch)), nil)
	c2.readUntil(last)
	if c2.msgs[0].Type != "resume" || c2.msgs[0].Pos != p {
		t.Fatalf("first message = %+v, want resume at %d", c2.msgs[0], p)
	}
	if got := c2.events(); !slices.Equal(got, seq(p+1, last)) {
		t.Errorf("after resume got %v, want exactly %d..%d", got, p+1, last)
	}
	// And live events keep coming after the missed ones, once each.
	live := appendPost(t, l, "c", "live", event.DecisionApprove)
	c2.readUntil(live)
	if got := c2.events(); !slices.Equal(got, seq(p+1, live)) {
		t.Errorf("got %v, want exactly %d..%d", got, p+1, live)
	}
}

func TestResumeOlderThanTheRingGetsSnapshot(t *testing.T) {
	_, l := openLog(t)
	opts := fast
	opts.RingSize = 4
	n := startNode(t, l, opts, nil)
	var last uint64
	for i := range 12 {
		last = appendPost(t, l, fmt.Sprint("p", i), "x", event.DecisionApprove)
	}
	n.waitPos(t, last)
	c := dial(t, n.url(Public, "since=2&epoch="+n.hub.Epoch()), nil)
	c.readUntil(last)
	s := c.msgs[0]
	if s.Type != "snapshot" || s.Epoch != n.hub.Epoch() || s.Pos != last || len(s.Wall.Posts) != 12 {
		t.Fatalf("got %+v, want a snapshot at %d with 12 posts", s, last)
	}
	if len(c.events()) != 0 {
		t.Errorf("events repeated after the snapshot: %v", c.events())
	}
}

func TestOtherEpochOrNoPositionGetsSnapshot(t *testing.T) {
	_, l := openLog(t)
	n := startNode(t, l, fast, nil)
	last := appendPost(t, l, "p", "x", event.DecisionApprove)
	n.waitPos(t, last)
	for _, q := range []string{"since=0&epoch=another-log", "", "since=1", "since=99&epoch=" + n.hub.Epoch()} {
		c := dial(t, n.url(Public, q), nil)
		c.readUntil(last)
		if m := c.msgs[0]; m.Type != "snapshot" || m.Epoch != n.hub.Epoch() || len(m.Wall.Posts) != 1 {
			t.Errorf("query %q: first message %+v, want a snapshot with the log's epoch", q, m)
		}
	}
}

func TestResumeOnAnotherNode(t *testing.T) {
	_, l := openLog(t)
	a := startNode(t, l, fast, nil)
	b := startNode(t, l, fast, nil)
	if a.hub.Epoch() != b.hub.Epoch() {
		t.Fatal("two nodes over one log disagree on the epoch")
	}
	c := dial(t, a.url(Public, ""), nil)
	var n uint64
	for i := range 5 {
		n = appendPost(t, l, fmt.Sprint("a", i), "on A", event.DecisionApprove)
	}
	c.readUntil(n)
	c.ws.Close()
	var last uint64
	for i := range 10 {
		last = appendPost(t, l, fmt.Sprint("b", i), "missed", event.DecisionApprove)
	}
	b.waitPos(t, last)
	c2 := dial(t, b.url(Public, fmt.Sprintf("since=%d&epoch=%s", n, c.msgs[0].Epoch)), nil)
	c2.readUntil(last)
	if c2.msgs[0].Type != "resume" {
		t.Fatalf("first message on B = %+v, want resume", c2.msgs[0])
	}
	if got := c2.events(); !slices.Equal(got, seq(n+1, last)) {
		t.Errorf("on B got %v, want exactly %d..%d", got, n+1, last)
	}
}

func TestSlowClientCutOffFastOneKeepsReceiving(t *testing.T) {
	// Immediate frames are written by a writer goroutine per socket;
	// ticked ones by the flush sweep, where the slow socket's blocked
	// write must not hold up the fast one.
	t.Run("immediate", func(t *testing.T) { testSlowClientCutOff(t, -1) })
	t.Run("ticked", func(t *testing.T) { testSlowClientCutOff(t, 5*time.Millisecond) })
}

func testSlowClientCutOff(t *testing.T, interval time.Duration) {
	_, l := openLog(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{PublicInterval: interval, QueueSize: 4}
	n := startNode(t, l, opts, &smallBufListener{Listener: ln})

	// The slow client's own receive buffer is small too, and it never reads.
	d := websocket.Dialer{NetDial: func(network, addr string) (net.Conn, error) {
		c, err := net.Dial(network, addr)
		if err == nil {
			_ = c.(*net.TCPConn).SetReadBuffer(4096)
		}
		return c, err
	}}
	slow, _, err := d.Dial(n.url(Public, ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fastc := dial(t, n.url(Public, ""), nil)
	// Both are attached (the upgrade answers before the hub attaches a
	// socket) once their snapshot arrived; after that the slow one reads
	// nothing until the end.
	sc := &client{t: t, ws: slow}
	for _, c := range []*client{sc, fastc} {
		if _, err := c.next(5 * time.Second); err != nil {
			t.Fatal(err)
		}
	}

	big := strings.Repeat("voices from outside the room ", 150) // ~4 KiB per post
	var last uint64
	for i := 0; i < 200; i++ {
		last = appendPost(t, l, fmt.Sprint("p", i), big, event.DecisionApprove)
		fastc.readUntil(last) // a fast client keeps up
	}
	fastc.readUntil(last)
	if got := fastc.events(); !slices.Equal(got, seq(1, last)) {
		t.Errorf("fast client got %d events, want all %d once each", len(got), last)
	}
	if got := counter(t, n.reg, "backchannel_fanout_slow_cutoffs_total", nil); got != 1 {
		t.Errorf("slow_cutoffs_total = %v, want 1", got)
	}

	// The slow client finds, after what was queued, a close with "slow";
	// it resumes from its last position and misses nothing.
	code, reason := sc.closeCode()
	if code != CloseSlow || reason != "slow" {
		t.Fatalf("slow client closed with %d %q, want %d slow", code, reason, CloseSlow)
	}
	seen := sc.events()
	if len(seen) == 0 {
		t.Fatal("slow client got nothing before the cut")
	}
	resumed := dial(t, n.url(Public, fmt.Sprintf("since=%d&epoch=%s", seen[len(seen)-1], n.hub.Epoch())), nil)
	resumed.readUntil(last)
	all := append(seen, resumed.events()...)
	if !slices.Equal(all, seq(1, last)) {
		t.Errorf("slow client before and after the cut saw %d events, want exactly 1..%d", len(all), last)
	}
}

func TestBadClientsClosedOthersUnaffected(t *testing.T) {
	_, l := openLog(t)
	n := startNode(t, l, fast, nil)
	other := dial(t, n.url(Public, ""), nil)
	if _, err := other.next(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		send   func(ws *websocket.Conn)
		code   int
		reason string
	}{
		{"garbage", func(ws *websocket.Conn) { _ = ws.WriteMessage(websocket.TextMessage, []byte("{not json")) }, websocket.CloseInvalidFramePayloadData, "bad message"},
		{"binary", func(ws *websocket.Conn) { _ = ws.WriteMessage(websocket.BinaryMessage, []byte{0, 1, 2}) }, websocket.CloseInvalidFramePayloadData, "bad message"},
		{"unknown", func(ws *websocket.Conn) {
			_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"approve","post_id":"x"}`))
		}, websocket.ClosePolicyViolation, "unknown message"},
		{"oversize", func(ws *websocket.Conn) {
			_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping","pad":"`+strings.Repeat("x", 5000)+`"}`))
		}, websocket.CloseMessageTooBig, ""},
		{"flood", func(ws *websocket.Conn) {
			for range 40 {
				_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`))
			}
		}, websocket.ClosePolicyViolation, "flood"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, n.url(Public, ""), nil)
			tc.send(c.ws)
			code, reason := c.closeCode()
			if code != tc.code || reason != tc.reason {
				t.Errorf("closed with %d %q, want %d %q", code, reason, tc.code, tc.reason)
			}
		})
	}
	// gorilla sends 1009 before the hub hears of the oversize frame, so
	// the count may trail the close the client saw by a moment.
	for deadline := time.Now().Add(5 * time.Second); ; {
		got := counter(t, n.reg, "backchannel_fanout_bad_client_total", nil)
		if got == float64(len(cases)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bad_client_total = %v, want %d", got, len(cases))
		}
		time.Sleep(10 * time.Millisecond) // polling a counter against a deadline
	}
	// The well-behaved client still gets events, and its pings answered.
	p := appendPost(t, l, "after", "still here", event.DecisionApprove)
	other.readUntil(p)
	if err := other.ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`)); err != nil {
		t.Fatal(err)
	}
	ms, err := other.next(5 * time.Second)
	if err != nil || len(ms) != 1 || ms[0].Type != "pong" {
		t.Errorf("ping answered with %+v, %v; want a pong", ms, err)
	}
	// The closed clients are gone from the hub; the good one remains.
	deadline := time.Now().Add(5 * time.Second)
	for n.hub.Conns()[Public] != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("hub still counts %d public connections, want 1", n.hub.Conns()[Public])
		}
		time.Sleep(10 * time.Millisecond) // polling a count against a deadline
	}
	if got := counter(t, n.reg, "backchannel_fanout_connections", map[string]string{"audience": "public"}); got != 1 {
		t.Errorf("connections gauge = %v, want 1", got)
	}
}

func TestFacilitatorGetsQuestionsNotPosts(t *testing.T) {
	_, l := openLog(t)
	n := startNode(t, l, fast, nil)
	f := dial(t, n.url(Facilitator, ""), nil)
	if _, err := f.next(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	appendPost(t, l, "plain", "SECRET-not a question", event.DecisionHold)
	appendPost(t, l, "q", "What comes next?", event.DecisionHold)
	q := appendDecision(t, l, event.QuestionFlagged, "q")
	f.readUntil(q)
	if got := f.events(); !slices.Equal(got, []uint64{q}) {
		t.Errorf("facilitator got events %v, want only the question at %d", got, q)
	}
	for _, raw := range f.raw {
		if strings.Contains(raw, "SECRET") {
			t.Errorf("facilitator frame carries a post that is not a question: %s", raw)
		}
	}
	if !strings.Contains(f.raw[len(f.raw)-1], "What comes next?") {
		t.Errorf("the question's text is missing: %s", f.raw[len(f.raw)-1])
	}
}

func TestOriginCheckedAtUpgrade(t *testing.T) {
	_, l := openLog(t)
	opts := fast
	opts.AllowedOrigins = []string{"https://wall.example.org"}
	n := startNode(t, l, opts, nil)
	host := strings.TrimPrefix(n.srv.URL, "http://")
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"https://evil.example", false},
		{"http://" + host, true},
		{"https://wall.example.org", true},
		{"", true},
	} {
		h := http.Header{}
		if tc.origin != "" {
			h.Set("Origin", tc.origin)
		}
		ws, resp, err := websocket.DefaultDialer.Dial(n.url(Public, ""), h)
		if tc.ok {
			if err != nil {
				t.Errorf("origin %q refused: %v", tc.origin, err)
				continue
			}
			ws.Close()
			continue
		}
		if err == nil {
			ws.Close()
			t.Errorf("origin %q accepted", tc.origin)
			continue
		}
		if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("origin %q: got %v %v, want 403", tc.origin, resp, err)
		}
	}
	if got := counter(t, n.reg, "backchannel_fanout_bad_client_total", map[string]string{"reason": "origin"}); got != 1 {
		t.Errorf("bad_client_total{reason=origin} = %v, want 1", got)
	}
}

func TestCloseSaysGoingAway(t *testing.T) {
	_, l := openLog(t)
	n := startNode(t, l, fast, nil)
	c := dial(t, n.url(Facilitator, ""), nil)
	if _, err := c.next(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	n.hub.Close()
	if code, _ := c.closeCode(); code != websocket.CloseGoingAway {
		t.Errorf("close code %d, want 1001", code)
	}
}

// The next flush waits the least spacing after the last one started and
// a quarter of the last sweep after it ended, whichever is later.
func TestNextFlushSpacing(t *testing.T) {
	h := &Hub{opts: Options{}.withDefaults()}
	adaptive := &audState{interval: -1}
	fixed := &audState{interval: time.Second}
	t0 := time.Date(2026, 11, 28, 14, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		s     *audState
		sweep time.Duration
		want  time.Duration // after t0
	}{
		{"a short sweep", adaptive, 2 * time.Millisecond, MinPublicInterval},
		{"10,000 walls", adaptive, 60 * time.Millisecond, 75 * time.Millisecond},
		{"a starved node", adaptive, 400 * time.Millisecond, 500 * time.Millisecond},
		{"fixed interval", fixed, 60 * time.Millisecond, time.Second},
		{"fixed, a long sweep", fixed, 900 * time.Millisecond, 1125 * time.Millisecond},
	} {
		if got := h.nextFlush(tc.s, t0, t0.Add(tc.sweep)).Sub(t0); got != tc.want {
			t.Errorf("%s: next flush %v after the last, want %v", tc.name, got, tc.want)
		}
	}
	if got := h.nextFlush(adaptive, time.Time{}, time.Time{}); !got.IsZero() {
		t.Errorf("the first flush waits until %v, want at once", got)
	}
}

// A post that finds the hub idle goes out at once, not at the next tick;
// one right behind it waits for the spacing.
func TestIdleHubFlushesAtOnce(t *testing.T) {
	_, l := openLog(t)
	const spacing = 3 * time.Second
	n := startNode(t, l, Options{PublicInterval: spacing}, nil)
	pub := dial(t, n.url(Public, ""), nil)
	if _, err := pub.next(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	p1 := appendPost(t, l, "first", "first", event.DecisionApprove)
	pub.readUntil(p1)
	if d := time.Since(t0); d > spacing/2 {
		t.Errorf("the first post took %v on an idle hub, want well under the %v spacing", d, spacing)
	}
	t1 := time.Now()
	p2 := appendPost(t, l, "second", "second", event.DecisionApprove)
	pub.readUntil(p2)
	if d := time.Since(t0); d < spacing-100*time.Millisecond {
		t.Errorf("the second post came %v after the first was appended (%v after the first arrived), want the %v spacing", d, time.Since(t1), spacing)
	}
}

// Frames go on the socket as encoded here, past gorilla's writer: their
// headers follow RFC 6455 at each length boundary, and buildFrame's
// in-place header sits right in front of its payload.
func TestTextFrameHeaders(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want []byte
	}{
		{0, []byte{0x81, 0}}, {125, []byte{0x81, 125}}, {126, []byte{0x81, 126, 0, 126}},
		{65535, []byte{0x81, 126, 0xff, 0xff}}, {65536, []byte{0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
	} {
		if got := textHeader(nil, tc.n); !bytes.Equal(got, tc.want) {
			t.Errorf("header for %d bytes: % x, want % x", tc.n, got, tc.want)
		}
	}
	for _, size := range []int{10, 200, 70000} {
		ms := []msg{{pos: 1, data: []byte(`"` + strings.Repeat("x", size) + `"`)}}
		f := buildFrame([]byte(`{"type":"resume"}`), ms)
		payload := `[{"type":"resume"},"` + strings.Repeat("x", size) + `"]`
		if want := textFrame(nil, []byte(payload)); !bytes.Equal(f.wire, want) {
			t.Errorf("buildFrame with %d bytes: frame differs from header+payload", size)
		}
	}
}

// A connection is closed with 4002 (rebalance) within its maximum age, at
// most a tenth of the node's clients per tick, and resumes from its
// position without a gap or a repeat.
func TestMaxConnAgeRebalances(t *testing.T) {
	_, l := openLog(t)
	opts := fast
	opts.MaxConnAge = 200 * time.Millisecond
	opts.PingInterval = 50 * time.Millisecond
	n := startNode(t, l, opts, nil)
	first := appendPost(t, l, "a", "before", event.DecisionApprove)
	c := dial(t, n.url(Public, ""), nil)
	c.readUntil(first)
	epoch := c.msgs[0].Epoch
	start := time.Now()
	code, reason := c.closeCode()
	if code != CloseRebalance || reason != "rebalance" {
		t.Fatalf("close %d %q, want %d rebalance", code, reason, CloseRebalance)
	}
	// Uniform in [age/2, 3age/2], checked on ticks of PingInterval.
	if waited := time.Since(start); waited > 300*time.Millisecond+opts.PingInterval+time.Second {
		t.Errorf("closed after %v, want within about 300ms", waited)
	}
	missed := appendPost(t, l, "b", "while away", event.DecisionApprove)
	n.waitPos(t, missed)
	c2 := dial(t, n.url(Public, fmt.Sprintf("since=%d&epoch=%s", first, epoch)), nil)
	c2.readUntil(missed)
	if c2.msgs[0].Type != "resume" {
		t.Fatalf("first message after the rebalance = %+v, want resume", c2.msgs[0])
	}
	if got := c2.events(); !slices.Equal(got, seq(first+1, missed)) {
		t.Errorf("after the rebalance got %v, want exactly %d..%d", got, first+1, missed)
	}
	if got := counter(t, n.reg, "backchannel_fanout_rebalanced_total", map[string]string{"audience": "public"}); got < 1 {
		t.Errorf("rebalanced_total = %v, want at least 1", got)
	}
}

// Of many connections past their age, one tick sends at most a tenth away.
func TestRebalanceSendsATenthPerTick(t *testing.T) {
	_, l := openLog(t)
	opts := fast
	opts.MaxConnAge = time.Hour
	n := startNode(t, l, opts, nil)
	for range 20 {
		c := dial(t, n.url(Public, ""), nil)
		if _, err := c.next(5 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	n.hub.mu.Lock()
	old := n.hub.expiredLocked(time.Now().Add(2 * time.Hour))
	none := n.hub.expiredLocked(time.Now())
	n.hub.mu.Unlock()
	if len(old) != 2 || len(none) != 0 {
		t.Errorf("expired: %d of 20 past their age (want 2, a tenth), %d before it (want 0)", len(old), len(none))
	}
}
