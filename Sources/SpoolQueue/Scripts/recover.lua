-- recover.lua: jobs whose lease expired (their worker died or hung) go back to the front of their lane, or to dead
-- when that lost attempt was their last. Each lost attempt joins the job's `errors` (record_failure, in lanes.lua).
-- KEYS[1] spool:{q}:active   KEYS[2] spool:{q}:pending (lane prefix)   KEYS[3] spool:{q}:dead   KEYS[4] spool:{q}:stats
-- KEYS[5] spool:{q}:job: (prefix)   KEYS[6] spool:{q}:leases   KEYS[7] spool:{q}:lanes   KEYS[8] spool:{q}:parked_tenants
-- ARGV[1] now (unix ms)   ARGV[2] most jobs to recover in this call
-- returns: {requeued, killed}
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local requeued, killed = 0, 0
for _, id in ipairs(ids) do
  local key = KEYS[5] .. id
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[6], id)
  local max = redis.call('HGET', key, 'max_attempts')
  if not max then
    -- The job's data is gone (deleted by hand, expired): leave a trace in the dead set, not nothing.
    redis.call('HSET', key, 'state', 'dead', 'finished_at', ARGV[1], 'dead_reason', 'malformed job: its data is missing from Redis')
    redis.call('ZADD', KEYS[3], ARGV[1], id)
    redis.call('HINCRBY', KEYS[4], 'failed', 1)
    killed = killed + 1
  else
    local attempt = redis.call('HINCRBY', key, 'attempt', 1)
    local failure = 'lease expired: the worker holding the job stopped heartbeating'
    redis.call('HSET', key, 'last_error', failure)
    if attempt >= tonumber(max) then
      record_failure(key, attempt, ARGV[1], 'dead', failure)
      redis.call('HSET', key, 'state', 'dead', 'finished_at', ARGV[1],
        'dead_reason', 'attempts exhausted (' .. attempt .. '/' .. max .. '): lease expired')
      redis.call('ZADD', KEYS[3], ARGV[1], id)
      redis.call('HINCRBY', KEYS[4], 'failed', 1)
      killed = killed + 1
    else
      record_failure(key, attempt, ARGV[1], 'retry', failure)
      redis.call('HSET', key, 'state', 'pending', 'run_at', ARGV[1])
      local tenant = redis.call('HGET', key, 'tenant') or ''
      lane_push(lane_key(KEYS[2], tenant), KEYS[7], KEYS[8], tenant, {id}, true)
      requeued = requeued + 1
    end
  end
end
return {requeued, killed}
