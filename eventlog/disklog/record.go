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

// scanned is what recovery learned from a log file.
type scanned struct {
	offsets []int64           // offsets[i] is where the record of position i+1 starts
	keys    map[string]uint64 // idempotency key -> position
	size    int64             // length of the intact prefix
}

// scanFile reads the records of f from the start, stopping at the first
// torn one, and indexes them. Records must hold positions 1, 2, ...; a whole
// record out of order is corruption, not a crash, and fails the scan.
func scanFile(f *os.File) (scanned, error) {
	sc := scanned{keys: make(map[string]uint64)}
	st, err := f.Stat()
	if err != nil {
		return sc, fmt.Errorf("disklog: stat %s: %w", f.Name(), err)
	}
	// Read in large chunks; a record is never split across a chunk we
	// parse, because a short remainder is carried into the next read.
	const chunk = 4 << 20
	var buf []byte
	var off int64 // file offset of buf[0]
	for {
		pos, key, _, n, err := parseRecord(buf)
		if err == nil {
			if want := uint64(len(sc.offsets)) + 1; pos != want {
				return sc, fmt.Errorf("disklog: %s at offset %d: record holds position %d, want %d", f.Name(), off, pos, want)
			}
			sc.offsets = append(sc.offsets, off)
			if key != "" {
				sc.keys[key] = pos
			}
			buf = buf[n:]
			off += int64(n)
			continue
		}
		if !errors.Is(err, errShort) {
			break // a torn record: the intact prefix ends here
		}
		// b ends inside a record: read more, unless the file has no more.
		have := off + int64(len(buf))
		if have >= st.Size() {
			break
		}
		need := int64(chunk)
		if len(buf) >= headerLen {
			need = max(need, int64(binary.LittleEndian.Uint32(buf))+headerLen-int64(len(buf)))
		}
		need = min(need, st.Size()-have)
		next := make([]byte, len(buf)+int(need))
		copy(next, buf)
		m, err := f.ReadAt(next[len(buf):], have)
		if err != nil && !errors.Is(err, io.EOF) {
			return sc, fmt.Errorf("disklog: read %s: %w", f.Name(), err)
		}
		buf = next[:len(buf)+m]
		if m == 0 {
			break
		}
	}
	sc.size = off
	return sc, nil
}
