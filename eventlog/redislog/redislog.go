// Package redislog is the Redis Streams engine of eventlog.Store: the log
// several backchannel processes share. Each event's log is one stream; the
// idempotent append is one Lua script over the de-duplication hash and
// XADD; tails read with XREAD BLOCK and reconnect by themselves when Redis
// restarts. docs/EVENTLOG-REDIS.md describes the keys, the script and what
// an acknowledged append survives.
package redislog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
	"github.com/backchannel/backchannel/internal/backoff"
	"github.com/backchannel/backchannel/internal/redisurl"
)

// Defaults for the options.
const (
	// DefaultPrefix starts every key this package writes.
	DefaultPrefix = "bc"
	// DefaultBlock is how long one XREAD of a tail blocks. Cancellation does
	// not wait for it (the tail's connection is closed), so it only sets how
	// often an idle tail talks to Redis.
	DefaultBlock = 2 * time.Second
	// DefaultRetryFor bounds how long one call keeps retrying while Redis
	// cannot be reached, before it returns an EUNAVAILABLE error. Tails
	// retry for as long as their context lasts.
	DefaultRetryFor = 30 * time.Second
)

// Option changes how Open sets up a Store.
type Option func(*config)

type config struct {
	prefix   string
	block    time.Duration
	retryFor time.Duration
	logger   *slog.Logger
}

// WithPrefix sets the first part of every key (default "bc"), so several
// deployments, or several tests, can share one Redis database.
func WithPrefix(p string) Option { return func(c *config) { c.prefix = p } }

// WithBlock sets how long one XREAD BLOCK of a tail waits (default 2s).
func WithBlock(d time.Duration) Option { return func(c *config) { c.block = d } }

// WithRetryFor sets how long a call retries while Redis is unreachable
// (default 30s).
func WithRetryFor(d time.Duration) Option { return func(c *config) { c.retryFor = d } }

// WithLogger sets where reconnects and failures are logged (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// Store is an eventlog.Store over one Redis server, a primary watched by
// Sentinel, or a Redis Cluster. It is safe for concurrent use.
type Store struct {
	cfg    config
	target *redisurl.Target      // as parsed from the URL, for the tails' own connections
	rdb    redis.UniversalClient // appends, reads, meta, leases: short commands only

	// replicas is how many replicas the primary had when last asked (the
	// fewest over a cluster's primaries), refreshed by watchReplicas; an
	// append waits for one of them when there are any (see waitFor).
	replicas     atomic.Int64
	recheck      chan struct{} // asks watchReplicas to look again now
	unreplicated atomic.Uint64 // appends acknowledged without a replica's confirmation

	// done is cancelled by Close; every tail and every retry loop watches it.
	done     context.Context
	shutdown context.CancelFunc
	closed   atomic.Bool

	// tokenBase and tokenSeq make the Append tokens: unique across processes
	// (random base) and within one (counter), cheaper than random per call.
	tokenBase string
	tokenSeq  atomic.Uint64

	mu   sync.Mutex
	logs map[string]*Log
}

var _ eventlog.Store = (*Store)(nil)

// Open connects to the Redis the URL names (any form of package redisurl:
// "redis://[:password@]host:port/db", "rediss://" for TLS,
// "redis-sentinel://h1,h2,h3/name", "redis-cluster://h1,h2") and checks
// that it answers. The Store must be closed with Close.
//
// When the primary has replicas, an append is acknowledged once one of
// them has it too (WAIT), so it survives a failover; wait_replicas and
// wait_timeout in the URL change that (see redisurl.Target).
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	cfg := config{prefix: DefaultPrefix, block: DefaultBlock, retryFor: DefaultRetryFor, logger: slog.Default()}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.prefix == "" || strings.ContainsAny(cfg.prefix, "{}") {
		return nil, event.Errorf(event.EINVALID, "redislog: prefix %q must be non-empty and have no braces", cfg.prefix)
	}
	target, err := redisurl.Parse(url)
	if err != nil {
		return nil, event.Errorf(event.EINVALID, "redislog: bad redis URL: %v", err)
	}
	base := make([]byte, 8)
	_, _ = rand.Read(base)
	done, shutdown := context.WithCancel(context.Background())
	s := &Store{
		cfg:    cfg,
		target: target,
		// This package retries itself, knowing which commands are safe to
		// send twice; go-redis's own retries would resend an append whose
		// reply was lost.
		rdb:       target.Client(redisurl.Settings{MaxRetries: -1}),
		recheck:   make(chan struct{}, 1),
		done:      done,
		shutdown:  shutdown,
		tokenBase: hex.EncodeToString(base),
		logs:      make(map[string]*Log),
	}
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		s.Close()
		return nil, fmt.Errorf("redislog: open %s: %w", target, unavailable(err))
	}
	if target.WaitReplicas < 0 {
		s.countReplicas(ctx)
		go s.watchReplicas()
	}
	return s, nil
}

// Log returns the log of the event with this slug, creating it (its epoch)
// on first use. The slug may not contain braces, which delimit the hash tag.
func (s *Store) Log(ctx context.Context, slug string) (eventlog.Log, error) {
	if s.closed.Load() {
		return nil, eventlog.ErrClosed
	}
	if slug == "" || strings.ContainsAny(slug, "{}") {
		return nil, event.Errorf(event.EINVALID, "redislog: slug %q must be non-empty and have no braces", slug)
	}
	s.mu.Lock()
	l, ok := s.logs[slug]
	if !ok {
		l = newLog(s, slug)
		s.logs[slug] = l
	}
	s.mu.Unlock()
	// Reading the head sets the epoch if the log is new, and tells the log
	// how far it has got (the lower bound an append retry searches from).
	if _, err := l.Head(ctx); err != nil {
		return nil, err
	}
	return l, nil
}

// Ping reports whether Redis answers now. It does not retry.
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return eventlog.ErrClosed
	}
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redislog: ping: %w", s.mapErr(err))
	}
	return nil
}

// Lease takes or renews the lease called name for holder, for ttl
// (millisecond precision). The key expires in Redis when the holder stops
// renewing, so a crashed holder's lease frees itself.
func (s *Store) Lease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if s.closed.Load() {
		return false, eventlog.ErrClosed
	}
	if name == "" || holder == "" {
		return false, event.Errorf(event.EINVALID, "redislog: lease name and holder are required")
	}
	ms := ttl.Milliseconds()
	if ms <= 0 {
		return false, event.Errorf(event.EINVALID, "redislog: lease ttl %v is under a millisecond", ttl)
	}
	key := s.cfg.prefix + ":lease:{" + name + "}"
	var held int64
	// Renewing twice is harmless, so the script is safe to retry.
	err := s.retry(ctx, "lease", func(ctx context.Context) (err error) {
		held, err = leaseScript.Run(ctx, s.rdb, []string{key}, holder, ms).Int64()
		return err
	})
	return held == 1, err
}

// Shared returns the value stored under name for every process sharing
// this Redis, storing value there first if there is none (SET NX, then
// GET, in one script): however many processes call it at once with
// different values, all of them get the same one back. It also returns
// the key, for an operator who needs to read the value. Nodes use it for
// the credentials none of them is configured with.
func (s *Store) Shared(ctx context.Context, name, value string) (got, key string, err error) {
	if s.closed.Load() {
		return "", "", eventlog.ErrClosed
	}
	if name == "" || value == "" {
		return "", "", event.Errorf(event.EINVALID, "redislog: shared name and value are required")
	}
	key = s.cfg.prefix + ":shared:{" + name + "}"
	err = s.retry(ctx, "shared", func(ctx context.Context) (err error) {
		got, err = sharedScript.Run(ctx, s.rdb, []string{key}, value).Text()
		return err
	})
	return got, key, err
}

// Close stops every tail (they return ErrClosed) and closes the connections.
// Redis itself decides when acknowledged appends reach disk (its appendfsync
// setting), so there is nothing to flush here. Closing twice returns ErrClosed.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return eventlog.ErrClosed
	}
	s.shutdown()
	return s.rdb.Close()
}

// token returns a string no other Append call, in any process, gets.
func (s *Store) token() string {
	return s.tokenBase + strconv.FormatUint(s.tokenSeq.Add(1), 36)
}

// newEpoch returns a fresh random epoch name. Each call that may create a
// log offers a new one, so a log deleted and created again (or lost by
// Redis) never gets back its old epoch, even from the same process.
func newEpoch() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// retry runs fn until it succeeds, fails in a way a retry cannot fix, ctx
// is done, the store is closed, or cfg.retryFor has passed. fn must be safe
// to run more than once.
func (s *Store) retry(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	deadline := time.Now().Add(s.cfg.retryFor)
	bo := newBackoff()
	for attempt := 0; ; attempt++ {
		if s.closed.Load() {
			return eventlog.ErrClosed
		}
		err := fn(ctx)
		if err == nil {
			if attempt > 0 {
				s.cfg.logger.InfoContext(ctx, "redislog: recovered", slog.String("op", op), slog.Int("attempts", attempt+1))
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !transient(err) || time.Now().After(deadline) {
			return fmt.Errorf("redislog: %s: %w", op, s.mapErr(err))
		}
		if attempt == 0 {
			s.cfg.logger.WarnContext(ctx, "redislog: redis unreachable, retrying", slog.String("op", op), slog.Any("err", err))
		}
		if err := s.sleep(ctx, bo.Next()); err != nil {
			return err
		}
	}
}

// sleep waits for d, or returns early with ctx's error or ErrClosed.
func (s *Store) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.done.Done():
		return eventlog.ErrClosed
	}
}

// mapErr turns a failure into what callers test for: ErrClosed once the
// store is closed, an EUNAVAILABLE *event.Error (wrapping the cause) when
// Redis could not be reached.
func (s *Store) mapErr(err error) error {
	if s.closed.Load() || errors.Is(err, redis.ErrClosed) {
		return eventlog.ErrClosed
	}
	if transient(err) {
		return unavailable(err)
	}
	return err
}

// unavailable marks err as the log being unreachable, keeping err in the chain.
func unavailable(err error) error {
	return fmt.Errorf("%w: %w", event.Errorf(event.EUNAVAILABLE, "event log unavailable"), err)
}

// transient reports whether err may go away by itself: the connection
// failed, or Redis is loading its data after a restart. Errors Redis
// answers for a wrong command are not transient.
func transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, redis.ErrClosed) {
		return false
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		msg := rerr.Error()
		for _, p := range []string{"LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN", "CLUSTERDOWN", "READONLY", "MOVED", "ASK", "NOREPLICAS"} {
			if strings.HasPrefix(msg, p) {
				return true
			}
		}
		return false
	}
	// Everything else is the network: refused, reset, EOF, timeouts.
	return true
}

// newBackoff returns the schedule of waits while Redis is unreachable:
// jittered, doubling from 25ms to 1s, short because a log that cannot be
// read or written stalls every screen, and jittered so many clients
// reconnecting after a Redis restart do not arrive in step.
func newBackoff() backoff.Backoff {
	return backoff.Backoff{Min: 25 * time.Millisecond, Max: time.Second}
}
