package disklog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
)

// The files of a log's directory.
const (
	logFile   = "events.log"
	epochFile = "epoch"
	metaFile  = "meta.json"
)

// tailBatch bounds how many events one call of a tail's fn receives, so a
// tail that starts far behind catches up in steps of bounded memory.
const tailBatch = 1024

// Log is the log of one event, an eventlog.Log.
type Log struct {
	s     *Store
	slug  string
	dir   string
	f     *os.File
	epoch string

	// reqs carries appends to the writer goroutine, which alone writes f
	// and alone reads and writes keys.
	reqs       chan *appendReq
	writerDone chan struct{}
	keys       map[string]uint64 // idempotency key -> position; writer only
	failed     error             // sticky: set when a write's outcome is unknown; writer only
	buf        []byte            // the batch being framed; writer only
	lastSync   time.Duration     // how long the last fsync took; writer only

	mu      sync.RWMutex
	offsets []int64       // offsets[i]: where the record of position i+1 starts; committed records only
	size    int64         // length of the committed records
	notify  chan struct{} // closed and replaced at each commit, to wake tails
	// writeErr is the error of the last commit, nil once one succeeds:
	// while it is set the log cannot take appends (a full disk), and
	// Store.Ping, which /readyz asks, says so.
	writeErr error

	metaMu sync.Mutex
	meta   map[string]string
}

var _ eventlog.Log = (*Log)(nil)

type appendReq struct {
	key  string
	data []byte // the event's JSON
	res  eventlog.Appended
	err  error
	done chan struct{}
}

// openLog recovers the log in dir: it indexes every intact record,
// truncates a torn tail left by a crash, and starts the writer.
func openLog(s *Store, slug, dir string) (*Log, error) {
	epoch, err := os.ReadFile(filepath.Join(dir, epochFile))
	if err != nil {
		return nil, fmt.Errorf("disklog: log %s has no epoch: %w", slug, err)
	}
	meta := make(map[string]string)
	if b, err := os.ReadFile(filepath.Join(dir, metaFile)); err == nil {
		if err := json.Unmarshal(b, &meta); err != nil {
			return nil, fmt.Errorf("disklog: log %s: read %s: %w", slug, metaFile, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("disklog: log %s: %w", slug, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, logFile), os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("disklog: log %s: %w", slug, err)
	}
	sc, err := scanFile(f, slug)
	if err != nil {
		f.Close()
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("disklog: log %s: %w", slug, err)
	}
	if st.Size() > sc.size {
		// Only the last commit can be torn: each commit is fsync'd before
		// the next is written. Its appends were never acknowledged.
		s.opts.Logger.Warn("disklog: truncating a torn tail left by a crash",
			slog.String("slug", slug), slog.Int("records", len(sc.offsets)),
			slog.Int64("offset", sc.size), slog.Int64("dropped_bytes", st.Size()-sc.size))
		if err := f.Truncate(sc.size); err != nil {
			f.Close()
			return nil, fmt.Errorf("disklog: log %s: truncate torn tail: %w", slug, err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, fmt.Errorf("disklog: log %s: %w", slug, err)
		}
	}
	l := &Log{
		s:          s,
		slug:       slug,
		dir:        dir,
		f:          f,
		epoch:      strings.TrimSpace(string(epoch)),
		reqs:       make(chan *appendReq, s.opts.MaxBatch),
		writerDone: make(chan struct{}),
		keys:       sc.keys,
		offsets:    sc.offsets,
		size:       sc.size,
		notify:     make(chan struct{}),
		meta:       meta,
	}
	go l.writer()
	return l, nil
}

// close stops the writer and closes the file. The Store calls it holding
// closeMu for writing, so no Append is sending on reqs.
func (l *Log) close() error {
	close(l.reqs)
	<-l.writerDone
	return l.f.Close()
}

// Append implements eventlog.Log. Concurrent appends are committed together:
// the writer frames every append waiting, writes them with one write, fsyncs
// once, and only then acknowledges each.
func (l *Log) Append(ctx context.Context, key string, e event.Entry) (eventlog.Appended, error) {
	if err := ctx.Err(); err != nil {
		return eventlog.Appended{}, err
	}
	if err := e.Validate(); err != nil {
		return eventlog.Appended{}, err
	}
	if len(key) > MaxKeyLen {
		return eventlog.Appended{}, event.Errorf(event.EINVALID, "idempotency key longer than %d bytes", MaxKeyLen)
	}
	// The position lives in the record's frame, not in its JSON.
	e.Pos = 0
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	data, err := json.Marshal(e)
	if err != nil {
		return eventlog.Appended{}, fmt.Errorf("disklog: encode event: %w", err)
	}
	if len(data)+len(key)+minBodyLen > maxBodyLen {
		return eventlog.Appended{}, event.Errorf(event.EINVALID, "event of %d bytes is too large", len(data))
	}
	r := &appendReq{key: key, data: data, done: make(chan struct{})}

	l.s.closeMu.RLock()
	defer l.s.closeMu.RUnlock()
	if l.s.closed {
		return eventlog.Appended{}, eventlog.ErrClosed
	}
	select {
	case l.reqs <- r:
	case <-ctx.Done():
		return eventlog.Appended{}, ctx.Err()
	}
	// Once queued the append will be committed or fail; waiting for it is
	// bounded by one fsync, and returning early would leave the caller not
	// knowing whether it happened.
	<-r.done
	return r.res, r.err
}

// writer is the one goroutine that writes the log file.
//
// Group commit: it takes every append waiting and commits them together.
// Alone, that halves the batches under steady load: the appenders a commit
// acknowledges come back a few microseconds after the next commit started
// with only the ones that queued during the last fsync, and wait a whole
// fsync for the one after. So the writer expects the appenders it just
// acknowledged plus the ones that queued meanwhile, and waits up to
// CommitDelay for that many before it commits. A lone appender never waits;
// when appenders go away, one commit waits the delay and the expectation
// drops to what came.
func (l *Log) writer() {
	defer close(l.writerDone)
	maxBatch, delay := l.s.opts.MaxBatch, l.s.opts.CommitDelay
	batch := make([]*appendReq, 0, maxBatch)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	expect := 0 // appenders likely to be back for the next commit
	for r := range l.reqs {
		batch = append(batch[:0], r)
	drain:
		for len(batch) < maxBatch {
			select {
			case r, ok := <-l.reqs:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		// Waiting longer than an fsync costs more than the commit it saves.
		if want, d := min(expect, maxBatch), min(delay, l.lastSync); len(batch) < want && d > 0 {
			timer.Reset(d)
		wait:
			for len(batch) < want {
				select {
				case r, ok := <-l.reqs:
					if !ok {
						break wait
					}
					batch = append(batch, r)
				case <-timer.C:
					break wait
				}
			}
			timer.Stop()
		}
		l.commit(batch)
		// The appenders just acknowledged, and those that queued during
		// this commit.
		expect = len(batch) + len(l.reqs)
		clear(batch) // let the requests' data be collected
	}
}

// commit writes one batch with one write and one fsync, then publishes it
// to readers, acknowledges every append in it, and wakes the tails.
//
// Publishing comes before acknowledging, so an appender that reads right
// after its Append returns sees its event. Waking the tails comes last: the
// Go scheduler runs the goroutine readied last first on this processor, so
// the tails are not queued behind every appender just released.
func (l *Log) commit(batch []*appendReq) {
	var wake chan struct{}
	defer func() {
		for _, r := range batch {
			close(r.done)
		}
		if wake != nil {
			close(wake)
		}
	}()
	if l.failed != nil {
		for _, r := range batch {
			r.err = l.failed
		}
		return
	}
	l.mu.RLock()
	next := uint64(len(l.offsets)) + 1
	size := l.size
	l.mu.RUnlock()

	buf := l.buf[:0]
	var offs []int64
	var fresh map[string]uint64 // keys first seen in this batch
	for _, r := range batch {
		if r.key != "" {
			if p, ok := l.keys[r.key]; ok {
				r.res = eventlog.Appended{Pos: p, Duplicate: true}
				continue
			}
			if p, ok := fresh[r.key]; ok {
				r.res = eventlog.Appended{Pos: p, Duplicate: true}
				continue
			}
			if fresh == nil {
				fresh = make(map[string]uint64)
			}
			fresh[r.key] = next
		}
		offs = append(offs, size+int64(len(buf)))
		buf = appendRecord(buf, next, r.key, r.data)
		r.res = eventlog.Appended{Pos: next}
		next++
	}
	if len(offs) == 0 {
		return // every append was a duplicate
	}
	if cap(buf) <= 4<<20 {
		l.buf = buf // reuse, unless one huge batch would pin the memory
	}
	fail := func(err error) {
		for _, r := range batch {
			r.res, r.err = eventlog.Appended{}, err
		}
		l.mu.Lock()
		l.writeErr = err
		l.mu.Unlock()
	}
	if _, err := l.f.WriteAt(buf, size); err != nil {
		err = fmt.Errorf("disklog: log %s: write: %w", l.slug, err)
		// Cut off whatever part was written, so the next commit starts on
		// a record boundary; if even that fails, stop writing.
		if terr := l.f.Truncate(size); terr != nil {
			l.failed = err
		}
		fail(err)
		return
	}
	synced := time.Now()
	err := l.f.Sync()
	l.lastSync = time.Since(synced)
	if err != nil {
		// After a failed fsync the kernel may have dropped the dirty pages:
		// what is on disk is unknown, so no further append is acknowledged
		// until the store is reopened and recovery reads what is there.
		l.failed = fmt.Errorf("disklog: log %s: fsync: %w", l.slug, err)
		fail(l.failed)
		return
	}
	for k, p := range fresh {
		l.keys[k] = p
	}
	l.mu.Lock()
	l.offsets = append(l.offsets, offs...)
	l.size = size + int64(len(buf))
	l.writeErr = nil
	wake, l.notify = l.notify, make(chan struct{})
	l.mu.Unlock()
}

// appendErr returns why the last commit failed, nil if it succeeded (or
// none was tried).
func (l *Log) appendErr() error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.writeErr
}

// Read implements eventlog.Log.
func (l *Log) Read(ctx context.Context, after uint64, limit int) ([]event.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l.s.closeMu.RLock()
	defer l.s.closeMu.RUnlock()
	if l.s.closed {
		return nil, eventlog.ErrClosed
	}
	l.mu.RLock()
	last := uint64(len(l.offsets))
	if after >= last {
		l.mu.RUnlock()
		return nil, nil
	}
	end := last
	if limit > 0 && uint64(limit) < last-after {
		end = after + uint64(limit)
	}
	start, stop := l.offsets[after], l.size
	if end < last {
		stop = l.offsets[end]
	}
	l.mu.RUnlock()

	// Committed records are never rewritten, so reading them needs no lock
	// against the writer, which only writes past l.size.
	buf := make([]byte, stop-start)
	if _, err := l.f.ReadAt(buf, start); err != nil {
		return nil, fmt.Errorf("disklog: log %s: read: %w", l.slug, err)
	}
	evs := make([]event.Entry, 0, end-after)
	for p := after + 1; p <= end; p++ {
		pos, _, data, n, err := parseRecord(buf)
		if err != nil || pos != p {
			return nil, fmt.Errorf("disklog: log %s: record %d is damaged (%v)", l.slug, p, err)
		}
		var e event.Entry
		if err := json.Unmarshal(data, &e); err != nil {
			return nil, fmt.Errorf("disklog: log %s: decode record %d: %w", l.slug, p, err)
		}
		e.Pos = pos
		evs = append(evs, e)
		buf = buf[n:]
	}
	return evs, nil
}

// Tail implements eventlog.Log. It reads what is committed, then sleeps on
// the log's commit signal, so a new event reaches fn as soon as its commit
// is fsync'd, with no polling. Closing the store ends it with ErrClosed.
func (l *Log) Tail(ctx context.Context, after uint64, fn func([]event.Entry) error) error {
	pos := after
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		evs, err := l.Read(ctx, pos, tailBatch)
		if err != nil {
			return err
		}
		if len(evs) > 0 {
			if err := fn(evs); err != nil {
				return err
			}
			pos = evs[len(evs)-1].Pos
			continue
		}
		l.mu.RLock()
		wake, more := l.notify, uint64(len(l.offsets)) > pos
		l.mu.RUnlock()
		if more {
			continue
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		case <-l.s.closing:
			return eventlog.ErrClosed
		}
	}
}

// Head implements eventlog.Log.
func (l *Log) Head(ctx context.Context) (eventlog.Head, error) {
	if err := ctx.Err(); err != nil {
		return eventlog.Head{}, err
	}
	l.s.closeMu.RLock()
	defer l.s.closeMu.RUnlock()
	if l.s.closed {
		return eventlog.Head{}, eventlog.ErrClosed
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	return eventlog.Head{Epoch: l.epoch, Last: uint64(len(l.offsets))}, nil
}

// GetMeta implements eventlog.Log.
func (l *Log) GetMeta(ctx context.Context, name string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	l.s.closeMu.RLock()
	defer l.s.closeMu.RUnlock()
	if l.s.closed {
		return "", eventlog.ErrClosed
	}
	l.metaMu.Lock()
	defer l.metaMu.Unlock()
	return l.meta[name], nil
}

// SetMeta implements eventlog.Log: the whole set of values is rewritten to a
// temporary file, fsync'd and renamed over the old one, so a crash leaves
// either the old set or the new one. An empty value removes the name.
func (l *Log) SetMeta(ctx context.Context, name, value string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.s.closeMu.RLock()
	defer l.s.closeMu.RUnlock()
	if l.s.closed {
		return eventlog.ErrClosed
	}
	l.metaMu.Lock()
	defer l.metaMu.Unlock()
	next := make(map[string]string, len(l.meta)+1)
	for k, v := range l.meta {
		next[k] = v
	}
	if value == "" {
		delete(next, name)
	} else {
		next[name] = value
	}
	b, err := json.Marshal(next)
	if err != nil {
		return fmt.Errorf("disklog: encode meta: %w", err)
	}
	tmp := filepath.Join(l.dir, metaFile+".tmp")
	if err := writeFileSync(tmp, b); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(l.dir, metaFile)); err != nil {
		return fmt.Errorf("disklog: log %s: %w", l.slug, err)
	}
	if err := syncDir(l.dir); err != nil {
		return err
	}
	l.meta = next
	return nil
}
