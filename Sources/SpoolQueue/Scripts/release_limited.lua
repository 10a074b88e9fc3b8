-- release_limited.lua: hands jobs waiting on limiters that are due back to the front of their lanes,
-- as many per limiter as it can have admitted since it became due (its pace), then sets the limiter's
-- next due time. Released jobs ask the limiter again when fetched: one that is refused again waits
-- again, with the limiter's exact answer.
-- KEYS[1] spool:{q}:limited_keys   KEYS[2] spool:{q}:limited: (prefix)   KEYS[3] spool:{q}:limited_pace
-- KEYS[4] spool:{q}:pending (lane prefix)   KEYS[5] spool:{q}:lanes   KEYS[6] spool:{q}:parked_tenants   KEYS[7] spool:{q}:job: (prefix)
-- ARGV[1] now (unix ms)   ARGV[2] most limiters to look at   ARGV[3] most jobs per limiter
-- ARGV[4] (optional) one limit key to release ARGV[3] jobs of now, due or not: a worker that gave a
--         concurrency slot back hands it straight to a waiting job
-- returns: {how many jobs were released, when the first limiter with jobs still waiting is due (unix
--          ms, as a string; '-1' when none is)}: the scheduler wakes then rather than at its next poll
local now = tonumber(ARGV[1])
local due
if ARGV[4] then
  due = {}
  if redis.call('ZSCORE', KEYS[1], ARGV[4]) then due = {ARGV[4], now} end
else
  due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, ARGV[2])
end
local released = 0
for i = 1, #due, 2 do
  local limit, since = due[i], tonumber(due[i + 1])
  local list = KEYS[2] .. limit
  local pace = tonumber(string.match(redis.call('HGET', KEYS[3], limit) or '0', '^%S+')) or 0
  local count = 1
  if ARGV[4] then count = tonumber(ARGV[3]) elseif pace > 0 then count = 1 + math.floor((now - since) / pace) end
  count = math.min(count, tonumber(ARGV[3]))
  local ids = redis.call('RPOP', list, count)
  if ids then
    for _, id in ipairs(ids) do redis.call('HSET', KEYS[7] .. id, 'state', 'pending') end
    lanes_push(KEYS[4], KEYS[5], KEYS[6], KEYS[7], ids, true)
    released = released + #ids
  end
  if redis.call('LLEN', list) == 0 then
    redis.call('ZREM', KEYS[1], limit)
    redis.call('HDEL', KEYS[3], limit)
  else
    -- An estimate: when the jobs just released have used the tokens due. It counts on from when the
    -- limiter was due, not from now, so that a late pass (a busy machine, the poll interval) does not
    -- push every later release back: the pace holds on average. A concurrency limiter (no pace) is
    -- looked at again within a second even if no slot is handed back.
    local next_due = now + 1000
    if pace > 0 then next_due = since + count * pace end
    redis.call('ZADD', KEYS[1], next_due, limit)
  end
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {released, first[2] or '-1'}
