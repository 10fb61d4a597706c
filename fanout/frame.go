package fanout

// The websocket framing, written by hand: the hub encodes each frame once,
// header and all, and every connection of an audience writes the same
// bytes straight to its socket (see conn.write).

import (
	"encoding/binary"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// msg is one encoded message of one audience.
type msg struct {
	pos  uint64
	at   time.Time // the event's append time, for the delivery delay metric
	data []byte
	// key, when set, names what the message states in full (a question's
	// vote count): a later message with the same key makes it redundant
	// (coalesce.go).
	key string
}

// frame is what goes into a connection's queue: one websocket message,
// usually shared by every connection of an audience.
type frame struct {
	// wire is the whole websocket frame as it goes on the socket (a
	// server's frames are not masked), encoded once and written with one
	// write call per socket.
	wire []byte
	msgs int       // messages in the frame
	at   time.Time // the oldest event's time; zero when none
	ping bool      // a ping control frame instead of wire
	// control: wire is a control frame (a pong answering a client's
	// ping), not counted among the data frames sent.
	control bool
	// shared: the frame goes to many connections, so those that
	// negotiated compression get zwire (deflate.go).
	shared bool
	zOnce  sync.Once
	zwire  []byte
}

// pingFrame is the heartbeat every connection is sent; pongFrame answers
// a client's {"type":"ping"}.
var (
	pingFrame = &frame{ping: true}
	pongFrame = mustFrame([]byte(`[{"type":"pong"}]`), 0, time.Time{})
)

// mustFrame is a frame carrying data, one JSON array of n messages the
// oldest of which was appended at at.
func mustFrame(data []byte, n int, at time.Time) *frame {
	return &frame{wire: textFrame(make([]byte, 0, len(data)+10), data), msgs: n, at: at}
}

// textFrame appends to b an unmasked, final websocket text frame carrying
// data (RFC 6455 section 5.2).
func textFrame(b, data []byte) []byte {
	return append(textHeader(b, len(data)), data...)
}

// textHeader appends the header of such a frame with n bytes of payload.
func textHeader(b []byte, n int) []byte {
	b = append(b, 0x80|websocket.TextMessage)
	switch {
	case n < 126:
		b = append(b, byte(n))
	case n <= 0xffff:
		b = append(b, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return b
}

// buildFrame joins encoded messages into one JSON array frame.
func buildFrame(head []byte, ms []msg) *frame {
	n := len(head) + 2 + len(ms)
	for i := range ms {
		n += len(ms[i].data)
	}
	// One allocation: the header's room, then the payload, then the
	// header is written in front of it.
	const hdr = 10
	buf := make([]byte, hdr, hdr+n)
	b := buf[hdr:hdr]
	b = append(b, '[')
	if head != nil {
		b = append(b, head...)
	}
	for i := range ms {
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = append(b, ms[i].data...)
	}
	b = append(b, ']')
	var at time.Time
	if len(ms) > 0 {
		at = ms[0].at
	}
	h := textHeader(make([]byte, 0, hdr), len(b))
	wire := buf[hdr-len(h) : hdr+len(b)]
	copy(wire, h)
	return &frame{wire: wire, msgs: len(ms), at: at}
}
