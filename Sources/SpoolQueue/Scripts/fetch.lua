-- fetch.lua: move up to N jobs from pending to active and lease them, atomically.
-- KEYS[1] spool:{q}:pending   KEYS[2] spool:{q}:active   KEYS[3] spool:{q}:leases   KEYS[4] spool:{q}:paused
-- KEYS[5] spool:{q}:job: (prefix)   KEYS[6] spool:{q}:parked: (prefix, + tenant)   KEYS[7] spool:{q}:parked_tenants
-- ARGV[1] most jobs to take   ARGV[2] lease deadline (unix ms)   ARGV[3] lease token   ARGV[4..] paused tenants
-- A job of a paused tenant is not leased: it moves to that tenant's parked list, oldest first, and
-- unpark.lua hands it back when the tenant resumes. The worker passes the paused tenants it last saw.
-- returns: -1 when the queue is paused; else seven fields per job:
--          id, kind, args, attempt, max attempts, enqueued at, tenant (kind is false when the job's hash is missing)
-- The job's hash is not written here, the hottest path: a job is active while it is in the active set,
-- whatever its `state` field last said (status lookups and cancel.lua check the set).
if redis.call('EXISTS', KEYS[4]) == 1 then return -1 end
local ids = redis.call('RPOP', KEYS[1], ARGV[1])
if not ids then return {} end
local paused = {}
for i = 4, #ARGV do paused[ARGV[i]] = true end
local out, deadlines, tokens = {}, {}, {}
for _, id in ipairs(ids) do
  -- An id whose hash is gone (deleted by hand, expired) is still leased and handed out, so that the
  -- worker sends it to the dead set with a reason instead of it vanishing silently.
  local f = redis.call('HMGET', KEYS[5] .. id, 'kind', 'args', 'attempt', 'max_attempts', 'enqueued_at', 'tenant')
  if f[6] and paused[f[6]] then
    redis.call('RPUSH', KEYS[6] .. f[6], id)
    redis.call('SADD', KEYS[7], f[6])
    redis.call('HSET', KEYS[5] .. id, 'state', 'parked')
  else
  deadlines[#deadlines+1] = ARGV[2]
  deadlines[#deadlines+1] = id
  tokens[#tokens+1] = id
  tokens[#tokens+1] = ARGV[3]
  out[#out+1] = id
  for j = 1, 6 do out[#out+1] = f[j] end
  end
end
if #deadlines > 0 then
  redis.call('ZADD', KEYS[2], unpack(deadlines))
  redis.call('HSET', KEYS[3], unpack(tokens))
end
return out
