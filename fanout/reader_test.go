package fanout

// What a client may send, frame by frame, and what it gets back: the
// contract every reader (readLoop, the poller) keeps. Odd frames are built
// by hand and written to the raw socket under a gorilla client, which reads
// the server's answers.

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// clientFrame is one websocket frame as a client sends it: b0 is the first
// byte (FIN, RSV bits, opcode), and the payload is masked unless unmasked.
func clientFrame(b0 byte, payload []byte, unmasked bool) []byte {
	b := []byte{b0}
	var m byte = 0x80
	if unmasked {
		m = 0
	}
	switch n := len(payload); {
	case n < 126:
		b = append(b, m|byte(n))
	case n <= 0xffff:
		b = append(b, m|126, byte(n>>8), byte(n))
	default:
		b = append(b, m|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if unmasked {
		return append(b, payload...)
	}
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	b = append(b, key[:]...)
	for i, x := range payload {
		b = append(b, x^key[i%4])
	}
	return b
}

const (
	finText = 0x80 | websocket.TextMessage
	finPing = 0x80 | websocket.PingMessage
)

var pingMsg = []byte(`{"type":"ping"}`)

// dialRaw dials url with a gorilla client and also returns its socket, for
// writing frames gorilla would not send. The client has read its first
// frame (the snapshot) and records the payload of every pong it reads.
func dialRaw(t *testing.T, url string) (*client, net.Conn, chan string) {
	t.Helper()
	return dialRawWith(t, url, false)
}

// dialRawWith is dialRaw, offering permessage-deflate when compress is set.
func dialRawWith(t *testing.T, url string, compress bool) (*client, net.Conn, chan string) {
	t.Helper()
	var nc net.Conn
	d := websocket.Dialer{EnableCompression: compress, NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		nc = c
		return c, err
	}}
	ws, resp, err := d.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v (resp %v)", url, err, resp)
	}
	t.Cleanup(func() { ws.Close() })
	c := &client{t: t, ws: ws}
	if _, err := c.next(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	pongs := make(chan string, 16)
	ws.SetPongHandler(func(data string) error {
		pongs <- data
		return nil
	})
	return c, nc, pongs
}

func write(t *testing.T, nc net.Conn, frames ...[]byte) {
	t.Helper()
	var b []byte
	for _, f := range frames {
		b = append(b, f...)
	}
	if _, err := nc.Write(b); err != nil {
		t.Fatal(err)
	}
}

// wantPong reads the next frame and fails unless it is the answer to a
// {"type":"ping"} message.
func (c *client) wantPong() {
	c.t.Helper()
	ms, err := c.next(5 * time.Second)
	if err != nil || len(ms) != 1 || ms[0].Type != "pong" {
		c.t.Fatalf("got %+v, %v; want a pong message", ms, err)
	}
}

// A ping control frame is answered with a pong carrying its payload, ahead
// of the answer to the message sent after it.
func TestClientPingFrameGetsPong(t *testing.T) {
	_, l := openLog(t)
	n := startNode(t, l, fast, nil)
	c, nc, pongs := dialRaw(t, n.url(Public, ""))
	write(t, nc, clientFrame(finPing, []byte("are you there?"), false), clientFrame(finText, pingMsg, false))
	c.wantPong()
	select {
	case got := <-pongs:
		if got != "are you there?" {
			t.Errorf("pong payload %q, want the ping's", got)
		}
	default:
		t.Error("no pong frame before the answer to the message after the ping")
	}
}

// Two messages in one write are both answered.
func TestTwoMessagesInOneWrite(t *testing.T) {
	_, l := openLog(t)
	n := startNode(t, l, fast, nil)
	c, nc, _ := dialRaw(t, n.url(Public, ""))
	write(t, nc, clientFrame(finText, pingMsg, false), clientFrame(finText, pingMsg, false))
	c.wantPong()
	c.wantPong()
}

// A text message in fragments, with a ping control frame between them, is
// reassembled and answered, and the ping too.
func TestFragmentedMessageWithPingBetween(t *testing.T) {
	_, l := openLog(t)
	n := startNode(t, l, fast, nil)
	c, nc, pongs := dialRaw(t, n.url(Public, ""))
	write(t, nc,
		clientFrame(websocket.TextMessage, pingMsg[:3], false), // not final
		clientFrame(0, pingMsg[3:9], false),                    // continuation, not final
		clientFrame(finPing, []byte("between"), false),
		clientFrame(0x80, pingMsg[9:], false), // final continuation
	)
	c.wantPong()
	select {
	case got := <-pongs:
		if got != "between" {
			t.Errorf("pong payload %q, want %q", got, "between")
		}
	default:
		t.Error("the ping between the fragments was not answered")
	}
}

// Frames that break RFC 6455 close the client with 1002 and the reason
// gorilla gives; a fragmented message past ReadLimit with 1009.
func TestProtocolErrorsClose(t *testing.T) {
	_, l := openLog(t)
	n := startNode(t, l, fast, nil)
	long := make([]byte, 3000)
	for _, tc := range []struct {
		name   string
		frames [][]byte
		code   int
		reason string
	}{
		{"unmasked", [][]byte{clientFrame(finText, pingMsg, true)}, websocket.CloseProtocolError, "bad MASK"},
		{"rsv1", [][]byte{clientFrame(0x40|finText, pingMsg, false)}, websocket.CloseProtocolError, "RSV1 set"},
		{"rsv3", [][]byte{clientFrame(0x10|finText, pingMsg, false)}, websocket.CloseProtocolError, "RSV3 set"},
		{"opcode", [][]byte{clientFrame(0x80|3, pingMsg, false)}, websocket.CloseProtocolError, "bad opcode 3"},
		{"continuation first", [][]byte{clientFrame(0x80, pingMsg, false)}, websocket.CloseProtocolError, "continuation after FIN"},
		{"data inside a message", [][]byte{clientFrame(websocket.TextMessage, pingMsg[:3], false), clientFrame(finText, pingMsg, false)},
			websocket.CloseProtocolError, "data before FIN"},
		{"fragmented ping", [][]byte{clientFrame(websocket.PingMessage, nil, false)}, websocket.CloseProtocolError, "FIN not set on control"},
		{"long ping", [][]byte{clientFrame(finPing, long[:126], false)}, websocket.CloseProtocolError, "len > 125 for control"},
		{"fragments past the limit", [][]byte{clientFrame(websocket.TextMessage, long, false), clientFrame(0x80, long, false)},
			websocket.CloseMessageTooBig, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, nc, _ := dialRaw(t, n.url(Public, ""))
			write(t, nc, tc.frames...)
			code, reason := c.closeCode()
			if code != tc.code || reason != tc.reason {
				t.Errorf("closed with %d %q, want %d %q", code, reason, tc.code, tc.reason)
			}
		})
	}
}

// A client's close frame is echoed with its code, and the connection ends.
func TestClientCloseEchoed(t *testing.T) {
	_, l := openLog(t)
	n := startNode(t, l, fast, nil)
	c, nc, _ := dialRaw(t, n.url(Public, ""))
	write(t, nc, clientFrame(0x80|websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), false))
	if code, reason := c.closeCode(); code != websocket.CloseNormalClosure || reason != "" {
		t.Errorf("echo %d %q, want %d %q", code, reason, websocket.CloseNormalClosure, "")
	}
	waitConns(t, n.hub, Public, 0)
}

// A client that sends nothing, not even the pongs to the server's pings,
// is closed once PongWait has passed, and within PongWait+PingInterval;
// one that answers stays.
func TestSilentClientClosed(t *testing.T) {
	_, l := openLog(t)
	opts := fast
	opts.PingInterval = 100 * time.Millisecond
	opts.PongWait = 300 * time.Millisecond
	n := startNode(t, l, opts, nil)
	good := dial(t, n.url(Public, ""), nil)
	go func() {
		for { // reading answers the server's pings (gorilla's default handler)
			if _, _, err := good.ws.ReadMessage(); err != nil {
				return
			}
		}
	}()
	start := time.Now()
	silent, _, err := websocket.DefaultDialer.Dial(n.url(Public, ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	waitConns(t, n.hub, Public, 2) // Dial returns on the 101, maybe before the hub counts it
	const slack = 2 * time.Second  // a loaded machine under the race detector
	waitConnsWithin(t, n.hub, Public, 1, opts.PongWait+opts.PingInterval+slack)
	if took := time.Since(start); took < opts.PongWait {
		t.Errorf("closed after %v, before PongWait (%v)", took, opts.PongWait)
	}
	// The one that left is the silent one: its socket ends (without a
	// close frame: like a read timeout, the server just drops it).
	_ = silent.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := silent.ReadMessage()
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("the silent client's socket is still open: %v", err)
		}
		break
	}
}

// waitConns waits until h holds want connections of audience a.
func waitConns(t *testing.T, h *Hub, a Audience, want int) {
	t.Helper()
	waitConnsWithin(t, h, a, want, 5*time.Second)
}

func waitConnsWithin(t *testing.T, h *Hub, a Audience, want int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for h.Conns()[a] != want {
		if time.Now().After(deadline) {
			t.Fatalf("hub holds %d %s connections after %v, want %d", h.Conns()[a], a, within, want)
		}
		time.Sleep(5 * time.Millisecond) // polling a count against a deadline
	}
}
