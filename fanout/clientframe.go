//go:build linux

package fanout

// A client's websocket frames parsed by hand (RFC 6455 section 5) from
// bytes as they arrive, for the poller (poller_linux.go): it reads what a
// socket holds without blocking, which may be half a header or several
// frames, while gorilla's reader and gobwas/ws's ReadHeader both pull from
// a blocking io.Reader and cannot be handed half a frame and asked again
// later. The checks, their order and the close reasons are gorilla's
// (advanceFrame), so a client sees the same whichever reader serves it;
// what a whole data message means is onMessage's, shared with readLoop.

import (
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// clientFrames is what a connection keeps between two reads of its
// socket. Both slices are nil while no frame or message is half read, so
// an idle connection carries none of it.
type clientFrames struct {
	kept []byte // the start of a frame not yet whole
	msg  []byte // a fragmented data message being put together
	op   int    // msg's opcode (text or binary); 0 when no message is under way
	// z: msg is compressed (permessage-deflate, its first frame had RSV1).
	z bool
}

// maxControlPayload is the largest payload of a control frame (RFC 6455
// section 5.5).
const maxControlPayload = 125

// opContinuation is the opcode of a data message's later fragments.
const opContinuation = 0

// readFrames handles b, bytes just read from c's socket, after any kept
// from earlier reads: every whole frame in them, in order, and keeps the
// rest. b is not kept (the poller reuses it) but may be modified. It
// reports whether to go on reading, as onMessage does.
func (c *conn) readFrames(now time.Time, b []byte) (ok bool, code int, reason string) {
	in := &c.in
	if len(in.kept) > 0 {
		in.kept = append(in.kept, b...)
		b = in.kept
	}
	for len(b) > 0 {
		n, ok, code, reason := c.readFrame(now, b)
		if !ok {
			in.kept, in.msg, in.op = nil, nil, 0
			return false, code, reason
		}
		if n == 0 {
			break // b holds part of a frame
		}
		b = b[n:]
	}
	if len(b) == 0 {
		in.kept = nil
	} else {
		in.kept = append(make([]byte, 0, len(b)), b...)
	}
	return true, 0, ""
}

// readFrame handles the frame at the start of b and returns its length,
// or 0 when b does not hold all of it yet. ok, code and reason are as
// onMessage's; a frame that breaks the protocol gives 1002 and gorilla's
// reason, a data message past ReadLimit 1009 (as soon as a header says so).
func (c *conn) readFrame(now time.Time, b []byte) (n int, ok bool, code int, reason string) {
	in := &c.in
	if len(b) < 2 {
		return 0, true, 0, ""
	}
	final := b[0]&0x80 != 0
	op := int(b[0] & 0x0f)
	length := int64(b[1] & 0x7f)
	// Every fault of the first two bytes is named, as gorilla does.
	var errs []string
	// RSV1 marks a compressed message's first frame, where the client
	// negotiated compression (deflate.go), and is an error anywhere else.
	z := b[0]&0x40 != 0
	if z && (!c.deflate || (op != websocket.TextMessage && op != websocket.BinaryMessage)) {
		errs = append(errs, "RSV1 set")
	}
	if b[0]&0x20 != 0 {
		errs = append(errs, "RSV2 set")
	}
	if b[0]&0x10 != 0 {
		errs = append(errs, "RSV3 set")
	}
	switch op {
	case websocket.CloseMessage, websocket.PingMessage, websocket.PongMessage:
		if length > maxControlPayload {
			errs = append(errs, "len > 125 for control")
		}
		if !final {
			errs = append(errs, "FIN not set on control")
		}
	case websocket.TextMessage, websocket.BinaryMessage:
		if in.op != 0 {
			errs = append(errs, "data before FIN")
		}
	case opContinuation:
		if in.op == 0 {
			errs = append(errs, "continuation after FIN")
		}
	default:
		errs = append(errs, "bad opcode "+strconv.Itoa(op))
	}
	if b[1]&0x80 == 0 {
		errs = append(errs, "bad MASK")
	}
	if len(errs) > 0 {
		return 0, false, websocket.CloseProtocolError, protocolReason(strings.Join(errs, ", "))
	}

	h := 2
	switch length {
	case 126:
		if len(b) < 4 {
			return 0, true, 0, ""
		}
		length, h = int64(binary.BigEndian.Uint16(b[2:])), 4
	case 127:
		if len(b) < 10 {
			return 0, true, 0, ""
		}
		// Negative when the most significant bit is set: too big, below.
		length, h = int64(binary.BigEndian.Uint64(b[2:])), 10
	}
	if len(b) < h+4 {
		return 0, true, 0, ""
	}
	key := b[h : h+4]
	h += 4
	if op != websocket.CloseMessage && op != websocket.PingMessage && op != websocket.PongMessage &&
		(length < 0 || int64(len(in.msg))+length > c.h.opts.ReadLimit) {
		c.aud.met.badClient("oversize")
		return 0, false, websocket.CloseMessageTooBig, ""
	}
	if int64(len(b)-h) < length {
		return 0, true, 0, ""
	}
	n = h + int(length)
	p := b[h:n]
	for i := range p {
		p[i] ^= key[i&3]
	}

	switch op {
	case websocket.PongMessage:
		return n, true, 0, "" // only liveness, which the caller records
	case websocket.PingMessage:
		return n, c.reply(pongControlFrame(p)), 0, ""
	case websocket.CloseMessage:
		// Echoed with its code, as gorilla's default close handler does.
		cc := websocket.CloseNoStatusReceived
		if len(p) >= 2 {
			cc = int(binary.BigEndian.Uint16(p))
			if !validReceivedCloseCode(cc) {
				return 0, false, websocket.CloseProtocolError, "bad close code " + strconv.Itoa(cc)
			}
			if !utf8.Valid(p[2:]) {
				return 0, false, websocket.CloseProtocolError, "invalid utf8 payload in close frame"
			}
		}
		c.closeWith(cc, "")
		return n, false, 0, ""
	}
	// A whole message in one frame is handled as it is; fragments are
	// put together first.
	mt, msg := op, p
	if !final || in.op != 0 {
		if in.op == 0 {
			in.op, in.z = op, z
		}
		in.msg = append(in.msg, p...)
		if !final {
			return n, true, 0, ""
		}
		mt, msg, z = in.op, in.msg, in.z
		in.op, in.msg, in.z = 0, nil, false
	}
	if z {
		if msg, code = c.inflate(msg); code != 0 {
			return 0, false, code, ""
		}
	}
	ok, code, reason = c.onMessage(now, mt, msg)
	return n, ok, code, reason
}

// inflate returns the message p compressed, or a close code: 1009 when
// it inflates past ReadLimit (a few bytes can inflate a thousandfold),
// 1007 when it is not DEFLATE data.
func (c *conn) inflate(p []byte) ([]byte, int) {
	msg, err := inflateMessage(p, c.h.opts.ReadLimit)
	switch {
	case errors.Is(err, errInflatedTooBig):
		c.aud.met.badClient("oversize")
		return nil, websocket.CloseMessageTooBig
	case err != nil:
		c.aud.met.badClient("bad_message")
		return nil, websocket.CloseInvalidFramePayloadData
	}
	return msg, 0
}

// protocolReason bounds a close reason so that the close frame's payload,
// with its two-byte code, fits a control frame.
func protocolReason(s string) string {
	if len(s) > maxControlPayload-2 {
		s = s[:maxControlPayload-2]
	}
	return s
}

// validReceivedCloseCode reports whether a client may send code in a close
// frame: gorilla's list (RFC 6455 section 7.4 and the IANA registry).
func validReceivedCloseCode(code int) bool {
	switch code {
	case websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseProtocolError,
		websocket.CloseUnsupportedData, websocket.CloseInvalidFramePayloadData,
		websocket.ClosePolicyViolation, websocket.CloseMessageTooBig, websocket.CloseMandatoryExtension,
		websocket.CloseInternalServerErr, websocket.CloseServiceRestart, websocket.CloseTryAgainLater:
		return true
	}
	return code >= 3000 && code <= 4999
}

// pongControlFrame is the pong control frame answering a client's ping
// whose payload is p (at most maxControlPayload bytes).
func pongControlFrame(p []byte) *frame {
	wire := make([]byte, 0, 2+len(p))
	wire = append(wire, 0x80|websocket.PongMessage, byte(len(p)))
	return &frame{wire: append(wire, p...), control: true}
}
