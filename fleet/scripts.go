package fleet

import "github.com/redis/go-redis/v9"

// The Lua scripts. Each runs atomically in Redis and reads Redis's own
// clock (TIME), so that the replicas' clocks never have to agree. Keys are
// built inside the scripts from the prefix (ARGV[1]), which carries a hash
// tag ("{firebreak}:"), so that every key of one prefix lives in one slot.

// claimScript: KEYS[1] the group key's pointer. ARGV: prefix, id, record,
// epoch, hold ms, ttl ms, then the actions to seed. Returns {record, epoch}.
var claimScript = redis.NewScript(`
local P, id, hold, ttl = ARGV[1], ARGV[2], tonumber(ARGV[5]), tonumber(ARGV[6])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function state(x)
  local st = redis.call('HMGET', P .. 'inc:' .. x, 'epoch', 'closed', 'open_to')
  if not st[1] then return 'none' end
  if st[2] == '1' then return 'closed' end
  redis.call('ZREMRANGEBYSCORE', P .. 'hold:' .. x, '-inf', now)
  if redis.call('ZCARD', P .. 'hold:' .. x) > 0 or tonumber(st[3]) > now then return 'open' end
  return 'idle'
end
local function keep(x)
  local inc = P .. 'inc:' .. x
  redis.call('HSET', inc, 'open_to', now + hold)
  redis.call('PEXPIRE', inc, ttl)
  redis.call('PEXPIRE', P .. 'log:' .. x, ttl)
  redis.call('ZADD', P .. 'open', 'GT', now + hold, x)
  redis.call('PEXPIRE', P .. 'open', ttl)
  redis.call('SET', KEYS[1], x, 'PX', ttl)
  return redis.call('HMGET', inc, 'rec', 'epoch')
end
local cur = redis.call('GET', KEYS[1])
if cur and state(cur) == 'open' then return keep(cur) end
local mine = state(id)
if mine == 'open' or mine == 'idle' then return keep(id) end
local inc, log = P .. 'inc:' .. id, P .. 'log:' .. id
redis.call('HSET', inc, 'rec', ARGV[3], 'epoch', ARGV[4], 'closed', '0', 'open_to', now + hold)
redis.call('DEL', log)
for i = 7, #ARGV do redis.call('RPUSH', log, ARGV[i]) end
return keep(id)
`)

// appendScript: ARGV: prefix, id, action, close ("1" or "0"), ttl ms, cap.
// Returns 1, or -1 for an unknown incident, -2 for a full log.
var appendScript = redis.NewScript(`
local P, id, ttl = ARGV[1], ARGV[2], tonumber(ARGV[5])
local inc, log = P .. 'inc:' .. id, P .. 'log:' .. id
if redis.call('EXISTS', inc) == 0 then return -1 end
if redis.call('LLEN', log) >= tonumber(ARGV[6]) then return -2 end
redis.call('RPUSH', log, ARGV[3])
redis.call('PEXPIRE', log, ttl)
redis.call('PEXPIRE', inc, ttl)
if ARGV[4] == '1' then
  redis.call('HSET', inc, 'closed', '1')
  redis.call('ZREM', P .. 'open', id)
end
return 1
`)

// syncScript: ARGV: prefix, replica, hold ms, ttl ms, holding (a JSON
// array of IDs), cursors (a JSON object ID → {epoch, next}), the most open
// incidents to list, the most actions per incident. Returns a flat array:
// per incident ID, record, epoch, holders, next, n, then its n actions.
var syncScript = redis.NewScript(`
local P, me, hold, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local holding, cursors = cjson.decode(ARGV[5]), cjson.decode(ARGV[6])
local maxOpen, maxActs = tonumber(ARGV[7]), tonumber(ARGV[8])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for _, id in ipairs(holding) do
  local inc = P .. 'inc:' .. id
  if redis.call('HGET', inc, 'closed') == '0' then
    local h = P .. 'hold:' .. id
    redis.call('ZADD', h, now + hold, me)
    redis.call('PEXPIRE', h, ttl)
    redis.call('PEXPIRE', inc, ttl)
    redis.call('PEXPIRE', P .. 'log:' .. id, ttl)
    redis.call('ZADD', P .. 'open', 'GT', now + hold, id)
    redis.call('PEXPIRE', P .. 'open', ttl)
  end
end
redis.call('ZREMRANGEBYSCORE', P .. 'open', '-inf', now)
local ids, seen = {}, {}
for _, id in ipairs(redis.call('ZRANGE', P .. 'open', 0, maxOpen - 1)) do
  ids[#ids + 1] = id
  seen[id] = true
end
for id, _ in pairs(cursors) do
  if not seen[id] then ids[#ids + 1] = id end
end
local out = {}
for _, id in ipairs(ids) do
  local st = redis.call('HMGET', P .. 'inc:' .. id, 'rec', 'epoch')
  if st[1] then
    local h = P .. 'hold:' .. id
    redis.call('ZREMRANGEBYSCORE', h, '-inf', now)
    local holders = redis.call('ZCARD', h)
    if redis.call('ZSCORE', h, me) then holders = holders - 1 end
    local from = 0
    local c = cursors[id]
    if c and c.epoch == st[2] then from = tonumber(c.next) end
    local acts = redis.call('LRANGE', P .. 'log:' .. id, from, from + maxActs - 1)
    out[#out + 1] = id
    out[#out + 1] = st[1]
    out[#out + 1] = st[2]
    out[#out + 1] = holders
    out[#out + 1] = from + #acts
    out[#out + 1] = #acts
    for _, a in ipairs(acts) do out[#out + 1] = a end
  end
end
return out
`)

// limitScript is a GCRA that grants up to a number of tokens at once.
// KEYS: none. ARGV: prefix, name, replica, emission interval µs, burst
// tolerance µs, tokens wanted, replica window ms. Returns {granted,
// replicas seen in the window}.
var limitScript = redis.NewScript(`
local P, name, me = ARGV[1], ARGV[2], ARGV[3]
local every, tol, want, window = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local key = P .. 'rate:' .. name
local tat = tonumber(redis.call('GET', key) or '0')
if tat < now then tat = now end
local n = math.floor((now + tol - tat) / every)
if n > want then n = want end
if n < 0 then n = 0 end
if n > 0 then
  tat = tat + n * every
  redis.call('SET', key, string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1000)
end
local r = P .. 'replicas:' .. name
local nowms = math.floor(now / 1000)
redis.call('ZADD', r, nowms, me)
redis.call('ZREMRANGEBYSCORE', r, '-inf', nowms - window)
redis.call('PEXPIRE', r, window * 2)
return {n, redis.call('ZCARD', r)}
`)
