package redislog

import "github.com/redis/go-redis/v9"

// The Lua scripts. Redis runs a script atomically: no other command runs
// between its first and last call, which is what makes the idempotent
// append one step. Every key a script touches is passed in KEYS and shares
// the slug's hash tag, so the scripts also run unchanged on a cluster.
//
// Stream ids are "0-<pos>": the millisecond part is always 0 and the
// sequence part is the position, so a position and an id convert without a
// lookup and XREAD/XRANGE can start after any position.

// appendScript appends one event, or finds the append it repeats.
//
//	KEYS[1] log stream   KEYS[2] keys hash (idempotency key -> pos)   KEYS[3] epoch
//	ARGV[1] idempotency key, "" for none
//	ARGV[2] the event as JSON (pos 0: the position is the entry's id)
//	ARGV[3] token: unique per Append call, stored in the entry as field "t"
//	ARGV[4] epoch to set if the log has none yet
//	ARGV[5] "1" if this is a retry of an attempt whose outcome is unknown
//	ARGV[6] a position the log had reached before the first attempt
//
// Returns {pos, duplicate} with duplicate 1 when another Append call wrote
// the key first. A retry recognises its own earlier write by the token, so
// a reply lost on a dropped connection neither doubles the event nor turns
// it into a "duplicate".
var appendScript = redis.NewScript(`
local function tokenOf(fields)
  for i = 1, #fields, 2 do
    if fields[i] == 't' then return fields[i + 1] end
  end
  return nil
end
local retry = ARGV[5] == '1'
if ARGV[1] ~= '' then
  local p = redis.call('HGET', KEYS[2], ARGV[1])
  if p then
    local dup = 1
    if retry then
      local r = redis.call('XRANGE', KEYS[1], '0-' .. p, '0-' .. p)
      if #r == 1 and tokenOf(r[1][2]) == ARGV[3] then dup = 0 end
    end
    return {tonumber(p), dup}
  end
elseif retry then
  -- Every entry our earlier attempt could have written comes after ARGV[6].
  local from = '(0-' .. ARGV[6]
  while true do
    local r = redis.call('XRANGE', KEYS[1], from, '+', 'COUNT', 256)
    for _, entry in ipairs(r) do
      if tokenOf(entry[2]) == ARGV[3] then
        return {tonumber(string.sub(entry[1], 3)), 0}
      end
    end
    if #r < 256 then break end
    from = '(' .. r[#r][1]
  end
end
redis.call('SET', KEYS[3], ARGV[4], 'NX')
local pos = 1
local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #top == 1 then pos = tonumber(string.sub(top[1][1], 3)) + 1 end
redis.call('XADD', KEYS[1], string.format('0-%d', pos), 'e', ARGV[2], 't', ARGV[3])
if ARGV[1] ~= '' then redis.call('HSET', KEYS[2], ARGV[1], pos) end
return {pos, 0}
`)

// headScript returns {epoch, last}, read at one instant, setting the epoch
// first if the log has none (it was never written, or it was deleted).
//
//	KEYS[1] log stream   KEYS[2] epoch   ARGV[1] epoch to set if none
var headScript = redis.NewScript(`
redis.call('SET', KEYS[2], ARGV[1], 'NX')
local epoch = redis.call('GET', KEYS[2])
local last = 0
local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #top == 1 then last = tonumber(string.sub(top[1][1], 3)) end
return {epoch, last}
`)

// leaseScript takes a free lease or renews one the holder has, in one step:
// SET NX PX when nobody holds it, compare-and-PEXPIRE when someone does.
//
//	KEYS[1] lease   ARGV[1] holder   ARGV[2] ttl in milliseconds
//
// Returns 1 if the holder holds the lease afterwards, 0 if someone else does.
var leaseScript = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`)

// sharedScript stores ARGV[1] under KEYS[1] unless the key exists, and
// returns what the key holds: the first writer's value, for everyone.
var sharedScript = redis.NewScript(`
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('GET', KEYS[1])
`)
