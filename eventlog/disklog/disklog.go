// Package disklog is the embedded engine of eventlog: each event's log is an
// append-only file of CRC-framed records in a directory of its own, written
// by one goroutine that commits concurrent appends together with one write
// and one fsync. It needs no server and serves one process; see
// docs/EVENTLOG.md for the format, the fsync policy and recovery.
package disklog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
)

// Options tune a Store. The zero value is what production uses.
type Options struct {
	// Logger receives recovery warnings (a torn tail truncated). nil means slog.Default().
	Logger *slog.Logger
	// MaxBatch bounds how many appends one commit carries; 0 means 1024.
	MaxBatch int
	// CommitDelay caps how long the writer waits for the appenders it
	// expects before a commit (see docs/EVENTLOG.md); it never waits longer
	// than the last fsync took. 0 means DefaultCommitDelay; negative means
	// never wait.
	CommitDelay time.Duration
}

// DefaultCommitDelay is long enough for the appenders just acknowledged to
// come back on a busy 2-core machine, and short against the fsync every
// append waits for anyway.
const DefaultCommitDelay = 500 * time.Microsecond

// Store is the embedded eventlog.Store: one directory per event slug under
// its data directory. Only one Store at a time may open a directory; Open
// takes an exclusive lock on it so two processes cannot interleave writes.
type Store struct {
	dir  string
	opts Options
	lock *os.File // holds the flock on dir/LOCK

	// closeMu is held for reading by every operation and for writing by
	// Close, so Close waits for appends under way and nothing touches a
	// file after it is closed.
	closeMu sync.RWMutex
	closed  bool
	closing chan struct{} // closed by Close: wakes every tail

	mu     sync.Mutex
	logs   map[string]*Log
	leases map[string]lease
}

type lease struct {
	holder string
	until  time.Time
}

var _ eventlog.Store = (*Store)(nil)

// Open opens the store in dir, creating dir if needed, with default options.
func Open(dir string) (*Store, error) {
	return OpenOptions(dir, Options{})
}

// OpenOptions opens the store in dir, creating dir if needed.
func OpenOptions(dir string, opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 1024
	}
	if opts.CommitDelay == 0 {
		opts.CommitDelay = DefaultCommitDelay
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("disklog: create data directory: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("disklog: open lock file: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("disklog: %s is in use by another process: %w", dir, err)
	}
	// Directories left by a log creation that a crash interrupted hold
	// nothing anyone was told about.
	if tmps, err := filepath.Glob(filepath.Join(dir, ".tmp-*")); err == nil {
		for _, p := range tmps {
			_ = os.RemoveAll(p)
		}
	}
	return &Store{
		dir:     dir,
		opts:    opts,
		lock:    lock,
		closing: make(chan struct{}),
		logs:    make(map[string]*Log),
		leases:  make(map[string]lease),
	}, nil
}

// validSlug reports whether slug can name a directory safely: letters,
// digits, '-' and '_', at most 128 of them.
func validSlug(slug string) bool {
	if slug == "" || len(slug) > 128 {
		return false
	}
	for _, r := range slug {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
		default:
			return false
		}
	}
	return true
}

// Log returns the log of slug, creating its directory on first use and
// recovering it (truncating a torn tail) on the first call after Open.
func (s *Store) Log(ctx context.Context, slug string) (eventlog.Log, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return nil, eventlog.ErrClosed
	}
	if !validSlug(slug) {
		return nil, event.Errorf(event.EINVALID, "event slug %q: use letters, digits, '-' and '_'", slug)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.logs[slug]; ok {
		return l, nil
	}
	path := filepath.Join(s.dir, slug)
	if _, err := os.Stat(path); os.IsNotExist(err) {
		if err := s.create(slug); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, fmt.Errorf("disklog: %w", err)
	}
	l, err := openLog(s, slug, path)
	if err != nil {
		return nil, err
	}
	s.logs[slug] = l
	return l, nil
}

// create makes the directory of a new log with its epoch, atomically: it is
// built under a temporary name and renamed into place, so a crash leaves
// either no log or a whole one, never a log without an epoch.
func (s *Store) create(slug string) error {
	tmp, err := os.MkdirTemp(s.dir, ".tmp-")
	if err != nil {
		return fmt.Errorf("disklog: create log %s: %w", slug, err)
	}
	defer os.RemoveAll(tmp) // a no-op after the rename
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	if err := writeFileSync(filepath.Join(tmp, epochFile), []byte(hex.EncodeToString(b[:])+"\n")); err != nil {
		return err
	}
	if err := writeFileSync(filepath.Join(tmp, logFile), nil); err != nil {
		return err
	}
	if err := syncDir(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, slug)); err != nil {
		return fmt.Errorf("disklog: create log %s: %w", slug, err)
	}
	return syncDir(s.dir)
}

// Ping reports ErrClosed after Close, and an error while a log cannot
// take appends: its last commit failed to write or fsync (a full disk, an
// I/O error). It reports nil again once a commit succeeds, which after a
// failed fsync needs the store reopened (see docs/EVENTLOG.md). The data
// directory is local, so there is nothing else to reach.
func (s *Store) Ping(ctx context.Context) error {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return eventlog.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	logs := make([]*Log, 0, len(s.logs))
	for _, l := range s.logs {
		logs = append(logs, l)
	}
	s.mu.Unlock()
	var errs []error
	for _, l := range logs {
		if err := l.appendErr(); err != nil {
			errs = append(errs, fmt.Errorf("log %s cannot take appends: %w", l.slug, err))
		}
	}
	return errors.Join(errs...)
}

// Lease implements eventlog.Store. Leases live in memory: this engine serves
// one process, so there is nobody else to share them with, and a lease does
// not outlive the process.
func (s *Store) Lease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return false, eventlog.ErrClosed
	}
	if holder == "" || ttl <= 0 {
		return false, event.Errorf(event.EINVALID, "lease %q: a holder and a positive ttl are required", name)
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.leases[name]
	if ok && cur.holder != holder && now.Before(cur.until) {
		return false, nil
	}
	s.leases[name] = lease{holder: holder, until: now.Add(ttl)}
	return true, nil
}

// Close stops every tail (they return ErrClosed), waits for the appends
// under way, which are durable once acknowledged, and closes every file.
func (s *Store) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		return eventlog.ErrClosed
	}
	s.closed = true
	close(s.closing)
	var errs []string
	for _, l := range s.logs {
		if err := l.close(); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if err := s.lock.Close(); err != nil { // releases the flock
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		return fmt.Errorf("disklog: close: %s", strings.Join(errs, "; "))
	}
	return nil
}

// writeFileSync writes data to a new file at path and fsyncs it.
func writeFileSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("disklog: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("disklog: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("disklog: sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("disklog: close %s: %w", path, err)
	}
	return nil
}

// syncDir fsyncs a directory so the names created or renamed in it survive
// a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("disklog: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("disklog: sync directory %s: %w", dir, err)
	}
	return nil
}
