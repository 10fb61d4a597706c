package redislog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
	"github.com/backchannel/backchannel/internal/redisurl"
)

// ErrDiverged is returned by Tail when, after Redis came back, the log no
// longer holds the events the tail already delivered: Redis lost
// acknowledged writes (a crash inside the appendfsync window) or the log
// was deleted and created again. A caller that folds the log must rebuild
// from the start.
var ErrDiverged = errors.New("redislog: the log no longer holds what was delivered")

// readPage is how many entries one XRANGE or XREAD asks for.
const readPage = 512

// Log is the log of one event: the stream KEYS[log] and its companions.
// It is safe for concurrent use.
type Log struct {
	s    *Store
	slug string

	keyLog, keyKeys, keyMeta, keyEpoch string
	keysAppend, keysHead               []string

	// known is the highest position this process has seen in the log. An
	// append that has not been sent yet lands above it, so an append retry
	// only searches entries after it for its own token.
	known atomic.Uint64
}

var _ eventlog.Log = (*Log)(nil)

func newLog(s *Store, slug string) *Log {
	// The braces are the hash tag: a cluster puts every key of one event
	// in the same slot, which the scripts need.
	base := s.cfg.prefix + ":{" + slug + "}:"
	l := &Log{
		s:        s,
		slug:     slug,
		keyLog:   base + "log",
		keyKeys:  base + "keys",
		keyMeta:  base + "meta",
		keyEpoch: base + "epoch",
	}
	l.keysAppend = []string{l.keyLog, l.keyKeys, l.keyEpoch}
	l.keysHead = []string{l.keyLog, l.keyEpoch}
	return l
}

// observe records that position pos exists.
func (l *Log) observe(pos uint64) {
	for {
		k := l.known.Load()
		if pos <= k || l.known.CompareAndSwap(k, pos) {
			return
		}
	}
}

// Append writes e at the end of the log, atomically with the check of key
// (see appendScript). While Redis is unreachable it retries for up to the
// store's retry period; a retry of an attempt whose reply was lost finds
// that attempt's entry instead of writing a second one.
//
// Durability is Redis's: with appendfsync everysec an acknowledged append
// can be lost if the Redis machine crashes within about a second after it,
// unless a replica confirmed it first (see Store.runAppend), which is what
// lets it survive a failover to that replica.
// If ctx ends while an attempt is in flight, the append may or may not
// have happened.
func (l *Log) Append(ctx context.Context, key string, e event.Entry) (eventlog.Appended, error) {
	if l.s.closed.Load() {
		return eventlog.Appended{}, eventlog.ErrClosed
	}
	if err := e.Validate(); err != nil {
		return eventlog.Appended{}, fmt.Errorf("redislog: append to %s: %w", l.slug, err)
	}
	e.Pos = 0 // the position is the entry's id
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	data, err := json.Marshal(&e)
	if err != nil {
		return eventlog.Appended{}, fmt.Errorf("redislog: encode %s: %w", e.Kind, err)
	}
	token := l.s.token()
	since := strconv.FormatUint(l.known.Load(), 10)
	retried := "0"
	var res []int64
	err = l.s.retry(ctx, "append", func(ctx context.Context) error {
		r, err := l.s.runAppend(ctx, l.keysAppend, key, data, token, newEpoch(), retried, since)
		// Whatever happened to this attempt, the next one must look for it.
		retried = "1"
		if err != nil {
			return err
		}
		if len(r) != 2 || r[0] < 1 {
			return fmt.Errorf("redislog: append script answered %v", r)
		}
		res = r
		return nil
	})
	if err != nil {
		return eventlog.Appended{}, err
	}
	pos := uint64(res[0])
	l.observe(pos)
	return eventlog.Appended{Pos: pos, Duplicate: res[1] == 1}, nil
}

// Read returns the events after position after, at most limit of them
// (no limit if limit <= 0), with XRANGE in pages.
func (l *Log) Read(ctx context.Context, after uint64, limit int) ([]event.Entry, error) {
	if l.s.closed.Load() {
		return nil, eventlog.ErrClosed
	}
	if after == math.MaxUint64 {
		return nil, nil // nothing can come after it, and Redis refuses the range
	}
	var out []event.Entry
	for {
		n := readPage
		if limit > 0 && limit-len(out) < n {
			n = limit - len(out)
		}
		var msgs []redis.XMessage
		err := l.s.retry(ctx, "read", func(ctx context.Context) (err error) {
			msgs, err = l.s.rdb.XRangeN(ctx, l.keyLog, "(0-"+strconv.FormatUint(after, 10), "+", int64(n)).Result()
			return err
		})
		if err != nil {
			return nil, err
		}
		evs, err := decode(msgs, after)
		if err != nil {
			return nil, err
		}
		out = append(out, evs...)
		if len(evs) < n || (limit > 0 && len(out) >= limit) {
			break
		}
		after = evs[len(evs)-1].Pos
	}
	if len(out) > 0 {
		l.observe(out[len(out)-1].Pos)
	}
	return out, nil
}

// Tail delivers the events after position after, then new ones as they
// are appended, with XREAD BLOCK on a connection of its own. Cancelling
// ctx or closing the store closes that connection, so Tail returns at
// once rather than when the block times out. When Redis cannot be reached
// it retries with jittered backoff for as long as ctx lasts and resumes
// after the last delivered position; if Redis came back without the
// events already delivered it returns ErrDiverged.
func (l *Log) Tail(ctx context.Context, after uint64, fn func([]event.Entry) error) error {
	if l.s.closed.Load() {
		return eventlog.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(l.s.done, cancel)
	defer stop()
	// ended names why the tail stops once ctx is done.
	ended := func() error {
		if l.s.closed.Load() {
			return eventlog.ErrClosed
		}
		if err := parent.Err(); err != nil {
			return err
		}
		return ctx.Err()
	}

	c := l.s.target.Client(redisurl.Settings{PoolSize: 1, MaxRetries: -1})
	context.AfterFunc(ctx, func() { _ = c.Close() }) // also runs on return, via cancel

	log := l.s.cfg.logger.With(slog.String("slug", l.slug))
	pos := after
	bo := newBackoff()
	failing := false
	// The head is read before the first XREAD, for the epoch, and again
	// after every failure, to check that Redis came back with the log the
	// tail was reading and not a shorter or recreated one.
	epoch, check := "", true
	for {
		if ctx.Err() != nil {
			return ended()
		}
		var err error
		if check {
			var now string
			if now, err = l.tailHead(ctx, c, pos, epoch); err == nil {
				epoch, check = now, false
			}
		}
		var streams []redis.XStream
		if err == nil {
			streams, err = c.XRead(ctx, &redis.XReadArgs{
				Streams: []string{l.keyLog, "0-" + strconv.FormatUint(pos, 10)},
				Count:   readPage,
				Block:   l.s.cfg.block,
			}).Result()
			if errors.Is(err, redis.Nil) {
				continue // the block timed out with nothing new
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return ended()
			}
			if errors.Is(err, ErrDiverged) || !transient(err) {
				return fmt.Errorf("redislog: tail of %s: %w", l.slug, err)
			}
			if !failing {
				log.WarnContext(ctx, "redislog: tail lost redis, retrying", slog.Uint64("after", pos), slog.Any("err", err))
				failing = true
			}
			check = true
			if err := l.s.sleep(ctx, bo.Next()); err != nil {
				return ended()
			}
			continue
		}
		if failing {
			log.InfoContext(ctx, "redislog: tail resumed", slog.Uint64("after", pos))
			failing = false
			bo.Reset()
		}
		if len(streams) != 1 || len(streams[0].Messages) == 0 {
			continue
		}
		evs, err := decode(streams[0].Messages, pos)
		if err != nil {
			return fmt.Errorf("redislog: tail of %s: %w", l.slug, err)
		}
		if err := fn(evs); err != nil {
			return err
		}
		pos = evs[len(evs)-1].Pos
		l.observe(pos)
	}
}

// tailHead reads the log's epoch and checks that it is still was (unless
// was is "", at the start) and that the log reaches position atLeast.
func (l *Log) tailHead(ctx context.Context, c redis.UniversalClient, atLeast uint64, was string) (string, error) {
	epoch, last, err := l.head(ctx, c)
	if err != nil {
		return "", err
	}
	if was == "" {
		return epoch, nil
	}
	if epoch != was {
		return "", fmt.Errorf("the log's epoch changed from %s to %s: %w", was, epoch, ErrDiverged)
	}
	if last < atLeast {
		return "", fmt.Errorf("the log ends at %d, before position %d already delivered: %w", last, atLeast, ErrDiverged)
	}
	return epoch, nil
}

// Head returns the log's epoch and last position, read in one script.
func (l *Log) Head(ctx context.Context) (eventlog.Head, error) {
	if l.s.closed.Load() {
		return eventlog.Head{}, eventlog.ErrClosed
	}
	var h eventlog.Head
	err := l.s.retry(ctx, "head", func(ctx context.Context) (err error) {
		h.Epoch, h.Last, err = l.head(ctx, l.s.rdb)
		return err
	})
	if err != nil {
		return eventlog.Head{}, err
	}
	l.observe(h.Last)
	return h, nil
}

// head runs headScript once on c.
func (l *Log) head(ctx context.Context, c redis.Scripter) (string, uint64, error) {
	v, err := headScript.Run(ctx, c, l.keysHead, newEpoch()).Slice()
	if err != nil {
		return "", 0, err
	}
	if len(v) != 2 {
		return "", 0, fmt.Errorf("redislog: head script answered %v", v)
	}
	epoch, ok1 := v[0].(string)
	last, ok2 := v[1].(int64)
	if !ok1 || !ok2 || last < 0 {
		return "", 0, fmt.Errorf("redislog: head script answered %v", v)
	}
	return epoch, uint64(last), nil
}

// GetMeta returns the value stored under name in the log's meta hash, "" if none.
func (l *Log) GetMeta(ctx context.Context, name string) (string, error) {
	if l.s.closed.Load() {
		return "", eventlog.ErrClosed
	}
	var v string
	err := l.s.retry(ctx, "get meta", func(ctx context.Context) (err error) {
		v, err = l.s.rdb.HGet(ctx, l.keyMeta, name).Result()
		if errors.Is(err, redis.Nil) {
			v, err = "", nil
		}
		return err
	})
	return v, err
}

// SetMeta stores value under name in the log's meta hash.
func (l *Log) SetMeta(ctx context.Context, name, value string) error {
	if l.s.closed.Load() {
		return eventlog.ErrClosed
	}
	return l.s.retry(ctx, "set meta", func(ctx context.Context) error {
		return l.s.rdb.HSet(ctx, l.keyMeta, name, value).Err()
	})
}

// decode turns stream entries into events, checking that they continue
// densely after position after.
func decode(msgs []redis.XMessage, after uint64) ([]event.Entry, error) {
	evs := make([]event.Entry, 0, len(msgs))
	for i, m := range msgs {
		pos, err := posOf(m.ID)
		if err != nil {
			return nil, err
		}
		if want := after + uint64(i) + 1; pos != want {
			return nil, fmt.Errorf("redislog: entry %s where position %d was expected", m.ID, want)
		}
		raw, ok := m.Values["e"].(string)
		if !ok {
			return nil, fmt.Errorf("redislog: entry %s has no event", m.ID)
		}
		var e event.Entry
		if err := json.Unmarshal([]byte(raw), &e); err != nil {
			return nil, fmt.Errorf("redislog: entry %s: %w", m.ID, err)
		}
		e.Pos = pos
		evs = append(evs, e)
	}
	return evs, nil
}

// posOf parses a stream id "0-<pos>".
func posOf(id string) (uint64, error) {
	seq, ok := strings.CutPrefix(id, "0-")
	if !ok {
		return 0, fmt.Errorf("redislog: stream id %q is not 0-<pos>", id)
	}
	pos, err := strconv.ParseUint(seq, 10, 64)
	if err != nil || pos == 0 {
		return 0, fmt.Errorf("redislog: stream id %q is not 0-<pos>", id)
	}
	return pos, nil
}
