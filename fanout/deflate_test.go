package fanout

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/internal/netcount"
)

func countingDialer(compress bool, n *atomic.Int64) *websocket.Dialer {
	return &websocket.Dialer{
		EnableCompression: compress,
		NetDialContext:    netcount.Dial((&net.Dialer{}).DialContext, n),
	}
}

// A client that offers permessage-deflate gets each post compressed, and
// reads the same messages as one that does not; the bytes on its wire
// are fewer than the post's own text.
func TestCompressedFramesForClientsThatOfferIt(t *testing.T) {
	_, l := openLog(t)
	n := startNode(t, l, fast, nil)
	var plainBytes, zBytes atomic.Int64
	open := func(compress bool, cnt *atomic.Int64) *client {
		ws, _, err := countingDialer(compress, cnt).Dial(n.url(Public, ""), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ws.Close() })
		c := &client{t: t, ws: ws}
		if _, err := c.next(5 * time.Second); err != nil {
			t.Fatal(err)
		}
		return c
	}
	plain, z := open(false, &plainBytes), open(true, &zBytes)
	p0, z0 := plainBytes.Load(), zBytes.Load()

	// Text as people write it, not a repeated word that compresses to
	// nothing.
	body := "Great to see so many voices joining #Leaders4Leeds from outside the room today. " +
		"The question of how we fund community transport came up three times in the chat: " +
		"could the panel say what the council plans for the routes that were cut last spring, " +
		"and whether volunteers will be asked to fill the gaps again? Also, thank you to the " +
		"interpreters, and to everyone who stayed on the stream while the sound was fixed. " +
		"One more from the back of our room in Bradford: please keep the slides up longer."
	pos := appendPost(t, l, "deflate", body, event.DecisionApprove)
	plain.readUntil(pos)
	z.readUntil(pos)
	if got, want := z.raw[len(z.raw)-1], plain.raw[len(plain.raw)-1]; got != want {
		t.Fatalf("the compressed client read\n%s\nthe plain one\n%s", got, want)
	}
	pb, zb := plainBytes.Load()-p0, zBytes.Load()-z0
	t.Logf("a %d-byte post: %d bytes plain, %d compressed", len(body), pb, zb)
	if zb >= pb*3/4 {
		t.Errorf("compressed frame %d bytes against %d plain: want under 3/4", zb, pb)
	}
	// The counter moves once the write has returned, which may be after
	// the client read the frame.
	labels := map[string]string{"event": "leaders4leeds", "audience": "public"}
	got := counter(t, n.reg, "backchannel_fanout_compressed_frames_total", labels)
	for deadline := time.Now().Add(5 * time.Second); got == 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond) // polling a counter against a deadline
		got = counter(t, n.reg, "backchannel_fanout_compressed_frames_total", labels)
	}
	if got != 1 {
		t.Errorf("compressed_frames_total = %v, want 1 (the one compressed client's post)", got)
	}
	if zb > int64(len(body))*11/10 {
		t.Errorf("compressed frame %d bytes, more than 1.1 × the post's %d-byte text", zb, len(body))
	}
}

// deflateOffered says yes only where gorilla agrees to compress: a yes
// for an offer gorilla refused would send compressed frames to a client
// that cannot read them. Each case is tried against a real handshake.
func TestDeflateOfferedOnlyWhereGorillaAgrees(t *testing.T) {
	_, l := openLog(t)
	n := startNode(t, l, fast, nil)
	cases := []struct {
		offer string
		want  bool
	}{
		{"permessage-deflate; client_max_window_bits", true}, // what browsers send
		{"permessage-deflate", true},
		{"x-webkit-deflate-frame, permessage-deflate; server_no_context_takeover", true},
		{"permessage-deflate; client_max_window_bits=15", true},
		{"permessage-deflate; client_max_window_bits = 10", true},
		{"", false},
		{"x-webkit-deflate-frame", false},
		{"permessage-deflate;;", false},           // gorilla stops at the empty parameter
		{"a, , permessage-deflate", false},        // and at an empty extension
		{"a b, permessage-deflate", false},        // and at a stray token
		{`permessage-deflate; x="quoted"`, false}, // a yes gorilla would give; we say no
		{"permessage-deflatex", false},
	}
	host := strings.TrimPrefix(n.srv.URL, "http://")
	for _, tc := range cases {
		hdr := http.Header{}
		if tc.offer != "" {
			hdr.Set("Sec-WebSocket-Extensions", tc.offer)
		}
		got := deflateOffered(hdr["Sec-Websocket-Extensions"])
		if got != tc.want {
			t.Errorf("deflateOffered(%q) = %v, want %v", tc.offer, got, tc.want)
		}
		if got && !gorillaAgrees(t, host, tc.offer) {
			t.Errorf("deflateOffered(%q) = true but gorilla did not negotiate compression", tc.offer)
		}
	}
}

// gorillaAgrees makes a websocket handshake offering ext and reports
// whether the answer accepts permessage-deflate.
func gorillaAgrees(t *testing.T, host, ext string) bool {
	t.Helper()
	c, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	req := "GET /ws/public HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Extensions: " + ext + "\r\n\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake offering %q: %s", ext, resp.Status)
	}
	return strings.HasPrefix(resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate")
}

// deflated is p compressed as a client compresses a message.
func deflated(t *testing.T, p []byte) []byte {
	t.Helper()
	z := deflatePayload(p)
	if z == nil {
		t.Fatal("deflatePayload failed")
	}
	return z
}

// A client that negotiated compression may compress its own messages;
// every reader inflates them, whole or in fragments, and closes with 1009
// one that inflates past the read limit however few bytes it took on the
// wire (a few hundred bytes inflate to a megabyte).
func TestCompressedClientMessages(t *testing.T) {
	_, l := openLog(t)
	n := startNode(t, l, fast, nil)
	bomb := deflated(t, bytes.Repeat([]byte(" "), 1<<20))
	if len(bomb) > 4096 {
		t.Fatalf("the bomb takes %d bytes, over the read limit on the wire", len(bomb))
	}
	zping := deflated(t, pingMsg)
	const rsv1Text = 0x40 | websocket.TextMessage
	for _, a := range []Audience{Public, Moderator} { // the poller, readLoop
		t.Run(a.String(), func(t *testing.T) {
			// gorilla's client compresses what it writes.
			c := dial(t, n.url(a, ""), nil)
			c.ws.Close()
			zd := &websocket.Dialer{EnableCompression: true}
			ws, _, err := zd.Dial(n.url(a, ""), nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ws.Close() })
			c = &client{t: t, ws: ws}
			if _, err := c.next(5 * time.Second); err != nil {
				t.Fatal(err)
			}
			if err := ws.WriteMessage(websocket.TextMessage, pingMsg); err != nil {
				t.Fatal(err)
			}
			c.wantPong()

			c, nc, _ := dialRawWith(t, n.url(a, ""), true)
			write(t, nc, clientFrame(0x80|rsv1Text, zping, false))
			c.wantPong()
			// In two fragments: RSV1 on the first only.
			write(t, nc, clientFrame(rsv1Text, zping[:4], false), clientFrame(0x80, zping[4:], false))
			c.wantPong()
			write(t, nc, clientFrame(0x80|rsv1Text, bomb, false))
			if code, _ := c.closeCode(); code != websocket.CloseMessageTooBig {
				t.Errorf("a message inflating to 1 MiB closed with %d, want %d", code, websocket.CloseMessageTooBig)
			}

			// RSV1 on a control frame is an error even with compression
			// (RFC 7692 section 6.1); gorilla's reader (readLoop, staff
			// sockets) lets it pass and answers the ping.
			if a != Public {
				return
			}
			c, nc, _ = dialRawWith(t, n.url(a, ""), true)
			write(t, nc, clientFrame(0x40|finPing, nil, false))
			if code, _ := c.closeCode(); code != websocket.CloseProtocolError {
				t.Errorf("RSV1 on a ping closed with %d, want %d", code, websocket.CloseProtocolError)
			}
		})
	}
}
