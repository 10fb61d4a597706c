package disklog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
)

// Cut is one range of bytes Repair took out of a log file.
type Cut struct {
	// Offset is where the range started in the damaged file, Bytes its length.
	Offset, Bytes int64
	// SavedAs is the file beside the log that holds the range's bytes as
	// they were.
	SavedAs string
	// Tail reports a range that ran to the end of the file: what a crash
	// during a commit leaves, and what opening the log truncates anyway.
	Tail bool
	// Lost is how many positions the range held, known from the position
	// of the intact record after it: its events are gone. 0 for a tail
	// (its events were never acknowledged) and for bytes that held no
	// record.
	Lost uint64
	// FirstLost is the position (in the damaged file's numbering) of the
	// first record the range held.
	FirstLost uint64
	// Before and After are the times of the intact events around the
	// range (zero when there is none): the events lost were appended
	// between them, so moderators know which decisions to look at again.
	Before, After time.Time
}

// RepairReport says what Repair kept and cut.
type RepairReport struct {
	File string // the log file
	// Kept is how many records the repaired log holds.
	Kept uint64
	// Cuts are the ranges taken out, in file order; none when the log was
	// whole (Repair then changes nothing).
	Cuts []Cut
	// Renumbered reports that records after a cut moved down to keep the
	// positions dense, and the log was given a new epoch (Epoch) so that
	// every screen and client reloads instead of resuming at a position
	// that now names another event.
	Renumbered bool
	Epoch      string
}

// Repair cuts the damage out of the log of slug, so that it opens again:
// it keeps every intact record, before and after the damage, and saves
// each range it cuts, byte for byte, in a file beside the log named after
// the range's offset (events.log.cut-OFFSET). See docs/EVENTLOG.md,
// "Repair".
//
// Positions stay dense: when a cut held records, the records after it are
// renumbered down and the log gets a new epoch, so that a client holding a
// position of the old numbering reloads. Idempotency keys go with their
// records. The new file is written beside the old, fsync'd and renamed
// over it, so a crash during Repair leaves the damaged log or the repaired
// one, never half of each; a crash between the new epoch and the new log
// leaves the damaged log under a new epoch, which Repair repairs again.
//
// Repair needs the store's lock (no server may be running on the
// directory) and must be called before Log(slug) in this Store.
func (s *Store) Repair(ctx context.Context, slug string) (RepairReport, error) {
	var rep RepairReport
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return rep, eventlog.ErrClosed
	}
	if !validSlug(slug) {
		return rep, event.Errorf(event.EINVALID, "event slug %q: use letters, digits, '-' and '_'", slug)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.logs[slug]; ok {
		return rep, fmt.Errorf("disklog: repair %s: the log is open in this store", slug)
	}
	dir := filepath.Join(s.dir, slug)
	path := filepath.Join(dir, logFile)
	rep.File = path
	f, err := os.Open(path)
	if err != nil {
		return rep, fmt.Errorf("disklog: repair: %w", err)
	}
	defer f.Close()
	w, err := newWindow(f)
	if err != nil {
		return rep, err
	}

	// First pass: find the cuts without writing anything.
	type kept struct {
		off int64
		n   int
		pos uint64 // in the damaged file's numbering
	}
	var (
		keep []kept
		last uint64 // the position of the last record kept
		off  int64
	)
	for off < w.size {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		pos, _, _, n, err := w.record(off)
		if err != nil && !errors.Is(err, errTorn) && !errors.Is(err, errShort) {
			return rep, err
		}
		if err == nil && pos == last+1 {
			keep = append(keep, kept{off, n, pos})
			last = pos
			off += int64(n)
			continue
		}
		if err == nil && pos > last+1 {
			// Whole records with a gap before them: records were taken
			// out, but no bytes are damaged.
			rep.Cuts = append(rep.Cuts, Cut{Offset: off, FirstLost: last + 1, Lost: pos - last - 1})
			keep = append(keep, kept{off, n, pos})
			last = pos
			off += int64(n)
			continue
		}
		// Bad bytes, or a whole record repeating a position already kept.
		next, npos, found, err := w.resync(off, off+1, last)
		if err != nil {
			return rep, err
		}
		c := Cut{Offset: off, FirstLost: last + 1}
		if !found {
			c.Bytes, c.Tail = w.size-off, true
			rep.Cuts = append(rep.Cuts, c)
			break
		}
		c.Bytes, c.Lost = next-off, npos-last-1
		rep.Cuts = append(rep.Cuts, c)
		_, _, _, n, err = w.record(next) // resync checked it is intact
		if err != nil {
			return rep, err
		}
		keep = append(keep, kept{next, n, npos})
		last = npos
		off = next + int64(n)
	}
	rep.Kept = uint64(len(keep))
	if len(rep.Cuts) == 0 {
		return rep, nil
	}

	// The times around each cut, for the report.
	at := func(k kept) time.Time {
		b, err := w.bytes(k.off, k.n)
		if err != nil {
			return time.Time{}
		}
		_, _, data, _, err := parseRecord(b)
		if err != nil {
			return time.Time{}
		}
		var e struct {
			Time time.Time `json:"time"`
		}
		_ = json.Unmarshal(data, &e)
		return e.Time
	}
	for i := range rep.Cuts {
		c := &rep.Cuts[i]
		j := sort.Search(len(keep), func(j int) bool { return keep[j].off >= c.Offset })
		if j > 0 {
			c.Before = at(keep[j-1])
		}
		if j < len(keep) {
			c.After = at(keep[j])
		}
		if c.Lost > 0 {
			rep.Renumbered = true
		}
	}

	// Save what is cut, byte for byte, before anything changes.
	for i := range rep.Cuts {
		c := &rep.Cuts[i]
		if c.Bytes == 0 {
			continue
		}
		buf := make([]byte, c.Bytes)
		if _, err := f.ReadAt(buf, c.Offset); err != nil {
			return rep, fmt.Errorf("disklog: repair: read %s: %w", path, err)
		}
		name, err := saveCut(dir, c.Offset, buf)
		if err != nil {
			return rep, err
		}
		c.SavedAs = name
	}

	// Write the repaired log beside the old one.
	tmp := filepath.Join(dir, logFile+".repair-tmp")
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return rep, fmt.Errorf("disklog: repair: %w", err)
	}
	defer os.Remove(tmp) // a no-op after the rename
	var buf []byte
	var woff int64
	for i, k := range keep {
		b, err := w.bytes(k.off, k.n)
		if err != nil {
			out.Close()
			return rep, err
		}
		_, key, data, _, err := parseRecord(b)
		if err != nil {
			out.Close()
			return rep, fmt.Errorf("disklog: repair: record at offset %d changed under the repair: %w", k.off, err)
		}
		buf = appendRecord(buf, uint64(i+1), key, data)
		if len(buf) >= windowChunk || i == len(keep)-1 {
			if _, err := out.WriteAt(buf, woff); err != nil {
				out.Close()
				return rep, fmt.Errorf("disklog: repair: write %s: %w", tmp, err)
			}
			woff += int64(len(buf))
			buf = buf[:0]
		}
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return rep, fmt.Errorf("disklog: repair: sync %s: %w", tmp, err)
	}
	if err := out.Close(); err != nil {
		return rep, fmt.Errorf("disklog: repair: %w", err)
	}

	if rep.Renumbered {
		var b [16]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
		rep.Epoch = hex.EncodeToString(b[:])
		etmp := filepath.Join(dir, epochFile+".tmp")
		if err := writeFileSync(etmp, []byte(rep.Epoch+"\n")); err != nil {
			return rep, err
		}
		if err := os.Rename(etmp, filepath.Join(dir, epochFile)); err != nil {
			return rep, fmt.Errorf("disklog: repair: %w", err)
		}
		if err := syncDir(dir); err != nil {
			return rep, err
		}
	} else if e, err := os.ReadFile(filepath.Join(dir, epochFile)); err == nil {
		rep.Epoch = strings.TrimSpace(string(e))
	}
	if err := os.Rename(tmp, path); err != nil {
		return rep, fmt.Errorf("disklog: repair: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return rep, err
	}
	return rep, nil
}

// saveCut writes data to a new file in dir named after offset
// (events.log.cut-OFFSET, with .1, .2 ... added if a file of that name is
// left from an earlier repair) and fsyncs it. It returns the file's path.
func saveCut(dir string, offset int64, data []byte) (string, error) {
	base := filepath.Join(dir, logFile+".cut-"+strconv.FormatInt(offset, 10))
	for i := 0; ; i++ {
		name := base
		if i > 0 {
			name += "." + strconv.Itoa(i)
		}
		f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if errors.Is(err, os.ErrExist) && i < 1000 {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("disklog: repair: save the cut bytes: %w", err)
		}
		if _, err := f.Write(data); err != nil {
			f.Close()
			return "", fmt.Errorf("disklog: repair: write %s: %w", name, err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return "", fmt.Errorf("disklog: repair: sync %s: %w", name, err)
		}
		if err := f.Close(); err != nil {
			return "", fmt.Errorf("disklog: repair: %w", err)
		}
		return name, syncDir(dir)
	}
}
