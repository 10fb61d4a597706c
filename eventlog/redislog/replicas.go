package redislog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// replicaCheckEvery is how often a store with wait_replicas=auto asks the
// primary how many replicas it has. A failover or a replica that comes
// and goes is seen within this long (at once after an append no replica
// confirmed).
const replicaCheckEvery = 2 * time.Second

// waitFor is how many replicas must confirm an append now: the URL's
// wait_replicas, or with auto, one when the primary has any.
func (s *Store) waitFor() int {
	if n := s.target.WaitReplicas; n >= 0 {
		return n
	}
	if s.replicas.Load() > 0 {
		return 1
	}
	return 0
}

// Unreplicated returns how many appends were acknowledged without the
// replica confirmation they waited for (the wait timed out): those live on
// the primary only until the replica catches up.
func (s *Store) Unreplicated() uint64 { return s.unreplicated.Load() }

// runAppend runs appendScript once with keys and args and, when replicas
// must confirm it, WAIT on the same connection right after it (WAIT counts
// the replicas that have every write of its own connection), in one
// pipeline, so the wait costs one replication round trip and no extra
// network round trip to the primary.
func (s *Store) runAppend(ctx context.Context, keys []string, args ...any) ([]int64, error) {
	want := s.waitFor()
	if want == 0 {
		return appendScript.Run(ctx, s.rdb, keys, args...).Int64Slice()
	}
	c, err := s.primaryFor(ctx, keys[0])
	if err != nil {
		return nil, err
	}
	var res []int64
	var acked int64
	for attempt := 0; ; attempt++ {
		pipe := c.Pipeline()
		ev := appendScript.EvalSha(ctx, pipe, keys, args...)
		w := pipe.(*redis.Pipeline).Wait(ctx, want, s.target.WaitTimeout)
		_, _ = pipe.Exec(ctx)
		if err := ev.Err(); err != nil {
			if attempt == 0 && redis.HasErrorPrefix(err, "NOSCRIPT") {
				// A new or restarted primary: load the script and run the
				// append once more (it did not run, so nothing doubles).
				if err := appendScript.Load(ctx, c).Err(); err != nil {
					return nil, err
				}
				continue
			}
			return nil, err
		}
		if res, err = ev.Int64Slice(); err != nil {
			return nil, err
		}
		acked, err = w.Result()
		if err != nil {
			// The append is on the primary: acknowledge it as a server
			// with no replicas would, and say so.
			acked = 0
		}
		break
	}
	if acked < int64(want) {
		if n := s.unreplicated.Add(1); n&(n-1) == 0 { // log the 1st, 2nd, 4th, 8th...
			s.cfg.logger.WarnContext(ctx, "redislog: an append was acknowledged before a replica confirmed it: it is on the primary only until a replica catches up",
				slog.Int("wanted", want), slog.Int64("confirmed", acked), slog.Duration("waited", s.target.WaitTimeout),
				slog.Uint64("unreplicated_so_far", n))
		}
		select {
		case s.recheck <- struct{}{}:
		default:
		}
	}
	return res, nil
}

// primaryFor returns the client of the primary that holds key: the store's
// own for one server or Sentinel (go-redis follows the failover), the
// node owning key's slot on a cluster.
func (s *Store) primaryFor(ctx context.Context, key string) (*redis.Client, error) {
	switch c := s.rdb.(type) {
	case *redis.Client:
		return c, nil
	case *redis.ClusterClient:
		return c.MasterForKey(ctx, key)
	}
	return nil, fmt.Errorf("redislog: unexpected client %T", s.rdb)
}

// watchReplicas keeps s.replicas current until the store closes.
func (s *Store) watchReplicas() {
	t := time.NewTicker(replicaCheckEvery)
	defer t.Stop()
	for {
		select {
		case <-s.done.Done():
			return
		case <-t.C:
		case <-s.recheck:
		}
		ctx, cancel := context.WithTimeout(s.done, time.Second)
		s.countReplicas(ctx)
		cancel()
	}
}

// countReplicas asks the primary (every primary of a cluster) how many
// replicas are connected, and keeps the fewest. A primary that cannot be
// asked leaves the count as it was.
func (s *Store) countReplicas(ctx context.Context) {
	count := func(c *redis.Client) (int64, error) {
		info, err := c.Info(ctx, "replication").Result()
		if err != nil {
			return 0, err
		}
		return connectedReplicas(info)
	}
	var n int64
	var err error
	switch c := s.rdb.(type) {
	case *redis.Client:
		n, err = count(c)
	case *redis.ClusterClient:
		n = -1
		mu := make(chan struct{}, 1) // ForEachMaster calls in parallel
		err = c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			k, err := count(m)
			if err != nil {
				return err
			}
			mu <- struct{}{}
			if n < 0 || k < n {
				n = k
			}
			<-mu
			return nil
		})
		n = max(n, 0)
	}
	if err != nil {
		return
	}
	if old := s.replicas.Swap(n); old != n {
		s.cfg.logger.Info("redislog: replicas of the primary", slog.Int64("replicas", n), slog.Bool("appends_wait_for_one", n > 0))
	}
}

// connectedReplicas reads connected_slaves from INFO replication.
func connectedReplicas(info string) (int64, error) {
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "connected_slaves:"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, errors.New("INFO replication has no connected_slaves")
}
