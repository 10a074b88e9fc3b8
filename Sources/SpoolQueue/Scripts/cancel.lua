-- cancel.lua: cancel a job that has not started: pending (parked or not), scheduled, waiting to retry,
-- or waiting for a rate limit.
-- KEYS[1] spool:{q}:pending (lane prefix)   KEYS[2] spool:{q}:scheduled   KEYS[3] spool:{q}:retry   KEYS[4] spool:{q}:job:<id>
-- KEYS[5] spool:{q}:active   KEYS[6] spool:{q}:completed   KEYS[7] spool:{q}:limited: (prefix, + limit key)
-- ARGV[1] id   ARGV[2] now (unix ms)   ARGV[3] seconds to keep the cancelled job
-- returns: 1 when cancelled, or the state that prevented it ("active", "completed", "dead", ...), or false if unknown
local state = redis.call('HGET', KEYS[4], 'state')
if not state then return false end
-- fetch.lua and ack.lua leave the hash alone: the active and completed sets say where the job is.
if redis.call('ZSCORE', KEYS[5], ARGV[1]) then return 'active' end
if redis.call('ZSCORE', KEYS[6], ARGV[1]) then return 'completed' end
local removed = 0
if state == 'pending' then
  removed = redis.call('LREM', lane_key(KEYS[1], redis.call('HGET', KEYS[4], 'tenant')), 1, ARGV[1])
elseif state == 'scheduled' then
  removed = redis.call('ZREM', KEYS[2], ARGV[1])
elseif state == 'retry' then
  removed = redis.call('ZREM', KEYS[3], ARGV[1])
elseif state == 'limited' then
  local limit = redis.call('HGET', KEYS[4], 'limited_by')
  if limit then removed = redis.call('LREM', KEYS[7] .. limit, 1, ARGV[1]) end
end
if removed == 0 then return state end
redis.call('HSET', KEYS[4], 'state', 'cancelled', 'finished_at', ARGV[2])
redis.call('EXPIRE', KEYS[4], ARGV[3])
return 1
