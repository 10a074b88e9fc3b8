-- fetch.lua: move up to N jobs from pending to active and lease them, atomically.
-- KEYS[1] spool:{q}:pending   KEYS[2] spool:{q}:active   KEYS[3] spool:{q}:paused   KEYS[4] spool:{q}:job: (prefix)
-- ARGV[1] most jobs to take   ARGV[2] now (unix ms)   ARGV[3] lease deadline (unix ms)   ARGV[4] lease token
-- returns: -1 when the queue is paused; else seven fields per job:
--          id, kind, args, attempt, max attempts, enqueued at, tenant (kind is false when the job's hash is missing)
if redis.call('EXISTS', KEYS[3]) == 1 then return -1 end
local ids = redis.call('RPOP', KEYS[1], ARGV[1])
if not ids then return {} end
local out = {}
for _, id in ipairs(ids) do
  local key = KEYS[4] .. id
  local f = redis.call('HMGET', key, 'kind', 'args', 'attempt', 'max_attempts', 'enqueued_at', 'tenant')
  -- A leased id whose hash is gone (deleted by hand, expired) is still handed out, so that the
  -- worker sends it to the dead set with a reason instead of it vanishing silently.
  redis.call('ZADD', KEYS[2], ARGV[3], id)
  if f[1] then
    redis.call('HSET', key, 'state', 'active', 'lease', ARGV[4], 'started_at', ARGV[2])
  else
    redis.call('HSET', key, 'state', 'active', 'lease', ARGV[4], 'started_at', ARGV[2], 'queue', '?')
  end
  out[#out+1] = id
  for j = 1, 6 do out[#out+1] = f[j] end
end
return out
