package main

import (
	"bytes"
	"strconv"
)

// The scanner reads what loadgen needs from a frame without decoding its
// JSON: at ten thousand connections a full decode of every frame would
// take the load generator's whole core. It relies on the hub's encoding
// (each message starts {"type":"…","pos":N, each post {"id":"…") and on
// loadgen's post ids: event.PostID of urn:loadgen:<run>:<seq>, known
// before the run (the public socket does not carry a post's URI).

var (
	typeKey  = []byte(`{"type":"`)
	posKey   = []byte(`"pos":`)
	epochKey = []byte(`"epoch":"`)
	idKey    = []byte(`{"id":"`)
)

// frameInfo is what one frame told a connection.
type frameInfo struct {
	lastType string // type of the frame's last message
	lastPos  uint64 // its pos
	epoch    string // from a snapshot or resume message, if any
	seqs     []int  // loadgen posts the frame carries, in order
}

// scanFrame fills fi from frame; ids maps this run's post ids to their seqs.
func scanFrame(frame []byte, ids map[string]int, fi *frameInfo) {
	fi.seqs = fi.seqs[:0]
	fi.epoch = ""
	// The last message's start, found forwards: bytes.Index is vectorised,
	// bytes.LastIndex is not, and this runs for every frame.
	last := -1
	for off := 0; ; {
		i := bytes.Index(frame[off:], typeKey)
		if i < 0 {
			break
		}
		last = off + i
		off = last + len(typeKey)
	}
	if last >= 0 {
		rest := frame[last+len(typeKey):]
		if j := bytes.IndexByte(rest, '"'); j >= 0 {
			fi.lastType = string(rest[:j])
			rest = rest[j:]
			if k := bytes.Index(rest, posKey); k >= 0 {
				fi.lastPos, _ = parseUint(rest[k+len(posKey):])
			}
		}
	}
	// Only snapshot and resume messages carry the epoch, and they come
	// first in their frame, before any post.
	head := frame[:min(len(frame), 200)]
	if i := bytes.Index(head, epochKey); i >= 0 {
		rest := frame[i+len(epochKey):]
		if j := bytes.IndexByte(rest, '"'); j >= 0 {
			fi.epoch = string(rest[:j])
		}
	}
	for rest := frame; ; {
		i := bytes.Index(rest, idKey)
		if i < 0 {
			break
		}
		rest = rest[i+len(idKey):]
		j := bytes.IndexByte(rest, '"')
		if j < 0 {
			break
		}
		if seq, ok := ids[string(rest[:j])]; ok {
			fi.seqs = append(fi.seqs, seq)
		}
		rest = rest[j:]
	}
}

func parseUint(b []byte) (uint64, bool) {
	n := 0
	for n < len(b) && b[n] >= '0' && b[n] <= '9' {
		n++
	}
	v, err := strconv.ParseUint(string(b[:n]), 10, 64)
	return v, err == nil
}
