package fanout

// Compressed frames (permessage-deflate, RFC 7692). A client that offers
// the extension (every browser does) gets each shared frame, the one
// built per flush for a whole audience, compressed: the frame is
// compressed once, by the first writer that needs it, and every such
// connection writes the same bytes, so the cost is per frame, not per
// socket. A post's text then crosses the wire in fewer bytes than its
// own: on a venue's Wi-Fi, with hundreds of phones, that is the
// difference that matters. Frames built for one connection (its snapshot
// or resume, a pong) go uncompressed, which the extension allows message
// by message: compressing a snapshot per joining socket would cost a
// reconnect storm far more CPU than it saves bytes.
//
// gorilla negotiates the extension (Upgrader.EnableCompression) and only
// ever in its no-context-takeover form, so each message is compressed on
// its own and any frame can go to any connection. gorilla does not say
// whether it agreed; deflateOffered below answers yes only for offers
// gorilla certainly accepts, and a connection it wrongly thought plain
// just gets uncompressed frames, which are always allowed.

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"strings"
	"sync"
)

// minDeflate is the smallest payload worth compressing: below it the
// saving is a few bytes and the frame header eats them.
const minDeflate = 128

var flateWriters sync.Pool // *flate.Writer at BestSpeed

// deflated returns the frame's compressed form, building it on the first
// call: the whole websocket frame (RSV1 set) whose payload is the
// original's, compressed. It returns the plain frame when compressing
// does not make it smaller.
func (f *frame) deflated() []byte {
	f.zOnce.Do(func() {
		f.zwire = f.wire
		payload := f.wire[headerLen(f.wire):]
		if len(payload) < minDeflate {
			return
		}
		z := deflatePayload(payload)
		if z == nil || len(z)+10 >= len(f.wire) {
			return
		}
		b := make([]byte, 0, len(z)+10)
		b = textHeader(b, len(z))
		b[0] |= rsv1
		f.zwire = append(b, z...)
	})
	return f.zwire
}

// rsv1 marks a compressed message's first frame (RFC 7692 section 6).
const rsv1 = 0x40

// headerLen is the length of an unmasked frame header at the start of b.
func headerLen(b []byte) int {
	switch b[1] & 0x7f {
	case 126:
		return 4
	case 127:
		return 10
	default:
		return 2
	}
}

// deflatePayload compresses p as one permessage-deflate message: raw
// DEFLATE ended by a sync flush, whose last four bytes (00 00 ff ff) are
// left off (RFC 7692 section 7.2.1). nil if compression failed.
func deflatePayload(p []byte) []byte {
	var out bytes.Buffer
	out.Grow(len(p)/2 + 16)
	w, _ := flateWriters.Get().(*flate.Writer)
	if w == nil {
		var err error
		if w, err = flate.NewWriter(&out, flate.BestSpeed); err != nil {
			return nil
		}
	} else {
		w.Reset(&out)
	}
	defer flateWriters.Put(w)
	if _, err := w.Write(p); err != nil {
		return nil
	}
	if err := w.Flush(); err != nil {
		return nil
	}
	b := out.Bytes()
	if !bytes.HasSuffix(b, []byte{0, 0, 0xff, 0xff}) {
		return nil
	}
	return b[:len(b)-4]
}

// deflateOffered reports whether the handshake's Sec-WebSocket-Extensions
// offer permessage-deflate in a form gorilla's parser accepts: every
// extension list it is in well formed (tokens, parameters token or
// token=token), as gorilla stops reading a list at its first flaw. A
// quoted parameter value makes it answer no: rare, and a no only costs
// bytes.
func deflateOffered(values []string) bool {
	for _, v := range values {
		offered, ok := false, true
		for _, ext := range strings.Split(v, ",") {
			parts := strings.Split(ext, ";")
			for _, p := range parts {
				k, val, hasVal := strings.Cut(strings.Trim(p, " \t"), "=")
				k = strings.TrimRight(k, " \t")
				if !isToken(k) || (hasVal && !isToken(strings.TrimLeft(val, " \t"))) {
					ok = false
				}
			}
			if strings.Trim(parts[0], " \t") == "permessage-deflate" {
				offered = true
			}
		}
		if offered && ok {
			return true
		}
	}
	return false
}

// isToken reports whether s is a non-empty RFC 7230 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

var flateReaders sync.Pool // io.ReadCloser from flate.NewReader

// errInflatedTooBig: a compressed message inflates past the read limit.
var errInflatedTooBig = errors.New("fanout: a compressed message inflates past the read limit")

// inflateMessage inflates one permessage-deflate message, p, to at most
// limit bytes: the four bytes left off at the end (00 00 ff ff) are put
// back, and the end of the stream is the end of the data, as RFC 7692
// section 7.2.2 says.
func inflateMessage(p []byte, limit int64) ([]byte, error) {
	src := io.MultiReader(bytes.NewReader(p), bytes.NewReader([]byte{0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff}))
	r, _ := flateReaders.Get().(io.ReadCloser)
	if r == nil {
		r = flate.NewReader(src)
	} else if err := r.(flate.Resetter).Reset(src, nil); err != nil {
		return nil, err
	}
	defer flateReaders.Put(r)
	out, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(out)) > limit {
		return nil, errInflatedTooBig
	}
	return out, nil
}
