// Package redispresence is a presence.Store in Redis, so moderators
// served by different fan-out nodes behind a load balancer (no sticky
// sessions) see which posts the others have open.
//
// Each event has one hash, bc:{<slug>}:presence (the slug is the key's
// hash tag, as for the event's log keys), with a field per viewer whose
// value holds the post, the actor, since and expires. Entries expire by
// the callers' clock: Open sweeps the expired ones of its event in the
// same script, and List skips them. The hash as a whole expires
// keyTTLFactor TTLs after its last Open, so an event nobody moderates any
// more leaves nothing behind. A hash holds at most presence.MaxViewers
// live entries, so every command is cheap.
package redispresence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/internal/redisurl"
	"github.com/backchannel/backchannel/presence"
)

// DefaultPrefix starts every key, as redislog's does.
const DefaultPrefix = "bc"

// keyTTLFactor: the hash lives this many TTLs after its last Open, a
// margin over the entries' own expiry for clocks a little apart.
const keyTTLFactor = 2

// Store is a presence.Store over one Redis server. Close it when done.
type Store struct {
	rdb    redis.UniversalClient
	prefix string
	ttl    time.Duration
}

var _ presence.Store = (*Store)(nil)

// Open connects to the Redis at url (any form of package redisurl) and
// checks that it answers; entries live ttl without another Open.
func Open(ctx context.Context, url string, ttl time.Duration) (*Store, error) {
	if ttl <= 0 {
		return nil, event.Errorf(event.EINVALID, "redispresence: the TTL must be positive, not %v", ttl)
	}
	target, err := redisurl.Parse(url)
	if err != nil {
		return nil, event.Errorf(event.EINVALID, "redispresence: bad redis URL: %v", err)
	}
	// Presence is a hint polled every few seconds: a short timeout and a
	// small pool, so a slow Redis costs a page one missed refresh, not a
	// held request.
	s := &Store{rdb: target.Client(redisurl.Settings{PoolSize: 4, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second}), prefix: DefaultPrefix, ttl: ttl}
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		_ = s.rdb.Close()
		return nil, fmt.Errorf("redispresence: open %s: %w", target, unavailable(err))
	}
	return s, nil
}

// Close closes the connections to Redis.
func (s *Store) Close() error { return s.rdb.Close() }

// TTL implements presence.Store.
func (s *Store) TTL() time.Duration { return s.ttl }

func (s *Store) key(slug string) string {
	return s.prefix + ":{" + slug + "}:presence"
}

// value is one field's value. Times are Unix milliseconds, which Lua's
// doubles and cjson hold exactly.
type value struct {
	Post    string `json:"p"`
	Role    string `json:"r"`
	Name    string `json:"n,omitempty"`
	Since   int64  `json:"s"`
	Expires int64  `json:"e"`
}

// openScript: KEYS[1] the event's hash; ARGV viewer, post, now (ms),
// expires (ms), role, name, max viewers, key TTL (ms). It sweeps expired
// entries, refuses a new viewer past the bound (returns 0), keeps since
// when the viewer renews the same post, and returns 1.
var openScript = redis.NewScript(`
local now = tonumber(ARGV[3])
local all = redis.call('HGETALL', KEYS[1])
local live, since = 0, now
for i = 1, #all, 2 do
  local v = cjson.decode(all[i+1])
  if v.e <= now then
    redis.call('HDEL', KEYS[1], all[i])
  else
    live = live + 1
    if all[i] == ARGV[1] and v.p == ARGV[2] then since = v.s end
  end
end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 and live >= tonumber(ARGV[7]) then
  return 0
end
local v = {p = ARGV[2], r = ARGV[5], s = since, e = tonumber(ARGV[4])}
if ARGV[6] ~= '' then v.n = ARGV[6] end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(v))
redis.call('PEXPIRE', KEYS[1], ARGV[8])
return 1
`)

// closeScript: KEYS[1] the event's hash; ARGV viewer, post. Deletes the
// viewer's entry only if it is still that post, so a close that crosses
// an open of the next post does not undo it.
var closeScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and cjson.decode(cur).p == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
end
return 1
`)

// Open implements presence.Store.
func (s *Store) Open(ctx context.Context, slug, viewer string, by event.Actor, postID string, now time.Time) error {
	ok, err := openScript.Run(ctx, s.rdb, []string{s.key(slug)},
		viewer, postID, now.UnixMilli(), now.Add(s.ttl).UnixMilli(), string(by.Role), by.Name,
		presence.MaxViewers, (keyTTLFactor * s.ttl).Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("redispresence: open: %w", unavailable(err))
	}
	if ok == 0 {
		return event.Errorf(event.ERATELIMIT, "too many moderators have posts open")
	}
	return nil
}

// Release implements presence.Store.
func (s *Store) Release(ctx context.Context, slug, viewer, postID string) error {
	if err := closeScript.Run(ctx, s.rdb, []string{s.key(slug)}, viewer, postID).Err(); err != nil {
		return fmt.Errorf("redispresence: release: %w", unavailable(err))
	}
	return nil
}

// List implements presence.Store.
func (s *Store) List(ctx context.Context, slug string, now time.Time) ([]presence.Entry, error) {
	all, err := s.rdb.HGetAll(ctx, s.key(slug)).Result()
	if err != nil {
		return nil, fmt.Errorf("redispresence: list: %w", unavailable(err))
	}
	nowMs := now.UnixMilli()
	out := make([]presence.Entry, 0, len(all))
	for viewer, raw := range all {
		var v value
		if err := json.Unmarshal([]byte(raw), &v); err != nil {
			// Written by something else under our key: skip it rather
			// than fail every moderator's page.
			continue
		}
		if v.Expires <= nowMs {
			continue
		}
		out = append(out, presence.Entry{
			PostID: v.Post, By: event.Actor{Role: event.Role(v.Role), Name: v.Name}, Viewer: viewer,
			Since: time.UnixMilli(v.Since).UTC(), Expires: time.UnixMilli(v.Expires).UTC(),
		})
	}
	presence.Sort(out)
	return out, nil
}

// unavailable marks a Redis failure as event.EUNAVAILABLE (the API answers
// 503) while keeping the cause for errors.Is.
func unavailable(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: %w", event.Errorf(event.EUNAVAILABLE, "presence store unavailable"), err)
}
