// Package eventlog defines the append-only log that holds everything that
// happens at an event, and the guarantees every engine gives. The engines are
// siblings: eventlog/disklog (embedded, the default) and eventlog/redislog
// (Redis Streams, for several processes); eventlog/logtest is the one
// conformance suite both pass.
package eventlog

import (
	"context"
	"errors"
	"time"

	"github.com/backchannel/backchannel/event"
)

// ErrClosed is returned by every method of a Store or Log after Close.
var ErrClosed = errors.New("eventlog: closed")

// Store holds the logs of every event this deployment serves, one log per
// event slug. A Store is safe for concurrent use.
type Store interface {
	// Log returns the log of the event with this slug, creating it on first
	// use. Calls with the same slug return logs over the same data.
	Log(ctx context.Context, slug string) (Log, error)

	// Ping reports whether the store can be reached now (used by /readyz).
	Ping(ctx context.Context) error

	// Lease takes or renews the lease called name for holder, for ttl. It
	// reports whether holder holds the lease when it returns. At most one
	// holder holds a lease at any moment across every process sharing the
	// store; a holder that stops renewing loses it when ttl runs out.
	// Ingest uses it so each source is run by exactly one process.
	Lease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)

	// Close stops every tail, makes every acknowledged append durable and
	// releases the store's resources. Methods called after Close return
	// ErrClosed.
	Close() error
}

// Appended is the result of an Append.
type Appended struct {
	// Pos is the position of the appended event, or, for a duplicate, the
	// position of the event first appended under the same key.
	Pos uint64
	// Duplicate reports that the key was already in the log and nothing was written.
	Duplicate bool
}

// Head describes a log as it is now.
type Head struct {
	// Epoch names this incarnation of the log. It is fixed when the log is
	// created and survives restarts; if the log is ever deleted and created
	// again, the epoch changes, so a client holding a position from the old
	// log knows its position means nothing here.
	Epoch string
	// Last is the position of the last event, 0 for an empty log.
	Last uint64
}

// Log is the append-only log of one event. Positions start at 1 and are
// dense: the events of a log are exactly positions 1..Head().Last. A Log is
// safe for concurrent use.
type Log interface {
	// Append writes e at the end of the log and returns its position.
	//
	// Guarantees:
	//   - Idempotent per key: if key is not empty and an event was already
	//     appended under key, nothing is written and the first event's
	//     position is returned with Duplicate set. The check and the write
	//     are one atomic step, so of concurrent appends with one key exactly
	//     one writes, and a crash between check and write cannot happen.
	//   - Durable when acknowledged: once Append returns without error the
	//     event survives a crash of the process (disklog: fsync'd; redislog:
	//     as durable as the Redis server's persistence is configured).
	//   - Ordered: an append that returns before another starts gets the
	//     lower position.
	//
	// e.Pos is ignored and set by the log; a zero e.Time is set to now.
	// e must pass e.Validate().
	Append(ctx context.Context, key string, e event.Entry) (Appended, error)

	// Read returns the events after position after, in order, at most
	// limit of them (limit <= 0 means no limit). It returns fewer than
	// limit, possibly none, only when it reached the end of the log.
	Read(ctx context.Context, after uint64, limit int) ([]event.Entry, error)

	// Tail calls fn with every event after position after, in order, in
	// batches of one or more, then waits for new events and calls fn with
	// them as they are appended, until ctx is done (it returns ctx.Err())
	// or fn returns an error (it returns that error).
	//
	// Guarantees: no gap and no repeat: the positions passed to fn are
	// exactly after+1, after+2, ... . Tail survives the engine's transient
	// failures (a Redis restart): it retries with backoff and resumes after
	// the last position it delivered. fn is never called concurrently.
	Tail(ctx context.Context, after uint64, fn func([]event.Entry) error) error

	// Head returns the log's epoch and last position.
	Head(ctx context.Context) (Head, error)

	// GetMeta returns the small value stored under name beside the log, or
	// "" if there is none. Sources keep their cursors here.
	GetMeta(ctx context.Context, name string) (string, error)

	// SetMeta stores value under name beside the log, durably.
	SetMeta(ctx context.Context, name, value string) error
}
