package disklog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

// A record on disk is
//
//	u32 body length (little endian)
//	u32 CRC-32C of the body
//	body: u64 position, u16 key length, key, event JSON
//
// The position is stored so recovery can prove the records are dense; the
// CRC lets recovery tell a whole record from one torn by a crash.
const (
	headerLen  = 8
	minBodyLen = 8 + 2
	// maxBodyLen bounds one record, so a corrupt length cannot make recovery
	// allocate gigabytes. An event is a post of a few kilobytes.
	maxBodyLen = 16 << 20
	// MaxKeyLen is the longest idempotency key Append accepts.
	MaxKeyLen = 4096
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendRecord appends the framed record to buf and returns it.
func appendRecord(buf []byte, pos uint64, key string, data []byte) []byte {
	bodyLen := minBodyLen + len(key) + len(data)
	start := len(buf)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(bodyLen))
	buf = binary.LittleEndian.AppendUint32(buf, 0) // CRC, filled below
	body := len(buf)
	buf = binary.LittleEndian.AppendUint64(buf, pos)
	buf = binary.LittleEndian.AppendUint16(buf, uint16(len(key)))
	buf = append(buf, key...)
	buf = append(buf, data...)
	binary.LittleEndian.PutUint32(buf[start+4:], crc32.Checksum(buf[body:], castagnoli))
	return buf
}

// errTorn marks a record that fails its CRC or has an impossible length;
// errShort marks bytes that may be the start of a record but are too few.
var (
	errTorn  = errors.New("disklog: torn record")
	errShort = errors.New("disklog: short record")
)

// parseRecord decodes the record at the start of b and returns its parts and
// its whole length. It returns errTorn when b does not start with a whole,
// intact record, errShort when b ends inside a record.
func parseRecord(b []byte) (pos uint64, key string, data []byte, n int, err error) {
	if len(b) < headerLen {
		return 0, "", nil, 0, errShort
	}
	bodyLen := int(binary.LittleEndian.Uint32(b))
	if bodyLen < minBodyLen || bodyLen > maxBodyLen {
		return 0, "", nil, 0, errTorn
	}
	if len(b) < headerLen+bodyLen {
		return 0, "", nil, 0, errShort
	}
	body := b[headerLen : headerLen+bodyLen]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(b[4:]) {
		return 0, "", nil, 0, errTorn
	}
	pos = binary.LittleEndian.Uint64(body)
	keyLen := int(binary.LittleEndian.Uint16(body[8:]))
	if minBodyLen+keyLen > bodyLen {
		return 0, "", nil, 0, errTorn
	}
	key = string(body[minBodyLen : minBodyLen+keyLen])
	return pos, key, body[minBodyLen+keyLen:], headerLen + bodyLen, nil
}

// minRecordLen is the shortest whole record: a header and a body with no
// key and no JSON. Repair uses it to bound how many records a damaged
// range can have held.
const minRecordLen = headerLen + minBodyLen

// window reads a file forward in large chunks, so scanning it, also byte
// by byte through a damaged range, costs one read per chunk. A slice it
// returns is valid until the next call.
type window struct {
	f    *os.File
	size int64  // the file's length when the scan started
	buf  []byte // the file's bytes [off, off+len(buf))
	off  int64
}

const windowChunk = 4 << 20

func newWindow(f *os.File) (*window, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("disklog: stat %s: %w", f.Name(), err)
	}
	return &window{f: f, size: st.Size()}, nil
}

// bytes returns the file's bytes [off, off+n), fewer where the file ends.
func (w *window) bytes(off int64, n int) ([]byte, error) {
	end := min(off+int64(n), w.size)
	if off >= end {
		return nil, nil
	}
	if off >= w.off && end <= w.off+int64(len(w.buf)) {
		return w.buf[off-w.off : end-w.off], nil
	}
	want := min(max(int64(n), windowChunk), w.size-off)
	if int64(cap(w.buf)) < want {
		w.buf = make([]byte, want)
	}
	w.buf = w.buf[:want]
	m, err := w.f.ReadAt(w.buf, off)
	if err != nil && !errors.Is(err, io.EOF) {
		w.buf = w.buf[:0]
		return nil, fmt.Errorf("disklog: read %s: %w", w.f.Name(), err)
	}
	w.buf, w.off = w.buf[:m], off
	return w.buf[:min(int64(m), end-off)], nil
}

// record parses the record starting at off, like parseRecord.
func (w *window) record(off int64) (pos uint64, key string, data []byte, n int, err error) {
	b, err := w.bytes(off, headerLen)
	if err != nil {
		return 0, "", nil, 0, err
	}
	if len(b) < headerLen {
		return 0, "", nil, 0, errShort
	}
	bodyLen := int(binary.LittleEndian.Uint32(b))
	if bodyLen < minBodyLen || bodyLen > maxBodyLen {
		return 0, "", nil, 0, errTorn
	}
	if b, err = w.bytes(off, headerLen+bodyLen); err != nil {
		return 0, "", nil, 0, err
	}
	return parseRecord(b)
}

// resync looks for the first intact record at or after from that can
// follow position last when the bytes from bad on are damaged: its
// position is above last, and the records it skips (last+1 up to its
// position) fit in the damaged bytes. A CRC-32C match at a random offset
// is a one in four billion chance, and the position check rules out all
// but a handful of the offsets tried, so what it finds is a record that
// was written, not noise. It returns found == false when nothing intact
// follows: the damage runs to the end of the file.
func (w *window) resync(bad, from int64, last uint64) (off int64, pos uint64, found bool, err error) {
	for off = from; off+minRecordLen <= w.size; off++ {
		b, err := w.bytes(off, headerLen+8)
		if err != nil {
			return 0, 0, false, err
		}
		if len(b) < headerLen+8 {
			break
		}
		bodyLen := int64(binary.LittleEndian.Uint32(b))
		if bodyLen < minBodyLen || bodyLen > maxBodyLen || off+headerLen+bodyLen > w.size {
			continue
		}
		p := binary.LittleEndian.Uint64(b[headerLen:])
		if p <= last || (p-last-1) > uint64(off-bad)/minRecordLen {
			continue
		}
		if p2, _, _, _, err := w.record(off); err == nil && p2 == p {
			return off, p, true, nil
		}
	}
	return 0, 0, false, nil
}

// scanned is what recovery learned from a log file.
type scanned struct {
	offsets []int64           // offsets[i] is where the record of position i+1 starts
	keys    map[string]uint64 // idempotency key -> position
	size    int64             // length of the intact prefix
}

// DamageError reports a log file damaged in the middle: bytes that are not
// a whole, intact record, with intact records after them. A crash cannot
// leave that (it can tear only the last commit, see docs/EVENTLOG.md), so
// the log is refused instead of being truncated, which would drop every
// record after the damage. Store.Repair cuts the damage out.
type DamageError struct {
	File   string // the log file
	Slug   string // the event whose log it is
	Offset int64  // where the damaged bytes start
	Pos    uint64 // the position of the record that should start at Offset
	Next   int64  // where the next intact record starts
}

func (e *DamageError) Error() string {
	return fmt.Sprintf("disklog: %s is damaged at byte offset %d (the record of position %d); intact records follow from byte offset %d, so this is not a torn tail left by a crash: the log is refused rather than cut short; repair it (docs/EVENTLOG.md, \"Repair\")",
		e.File, e.Offset, e.Pos, e.Next)
}

// scanFile reads the records of f from the start and indexes them.
// Records must hold positions 1, 2, ...; a whole record out of order is
// corruption, not a crash, and fails the scan. Bytes that are not a whole
// intact record end the scan: if no intact record follows them they are a
// torn tail, and sc.size ends before them; if one does, the file is
// damaged in the middle and scanFile returns a *DamageError.
func scanFile(f *os.File, slug string) (scanned, error) {
	sc := scanned{keys: make(map[string]uint64)}
	w, err := newWindow(f)
	if err != nil {
		return sc, err
	}
	var off int64
	for off < w.size {
		pos, key, _, n, err := w.record(off)
		if err != nil && !errors.Is(err, errTorn) && !errors.Is(err, errShort) {
			return sc, err
		}
		want := uint64(len(sc.offsets)) + 1
		if err != nil {
			next, _, found, rerr := w.resync(off, off+1, want-1)
			if rerr != nil {
				return sc, rerr
			}
			if found {
				return sc, &DamageError{File: f.Name(), Slug: slug, Offset: off, Pos: want, Next: next}
			}
			break // a torn tail: the intact prefix ends here
		}
		if pos != want {
			return sc, fmt.Errorf("disklog: %s at offset %d: record holds position %d, want %d", f.Name(), off, pos, want)
		}
		sc.offsets = append(sc.offsets, off)
		if key != "" {
			sc.keys[key] = pos
		}
		off += int64(n)
	}
	sc.size = off
	return sc, nil
}
