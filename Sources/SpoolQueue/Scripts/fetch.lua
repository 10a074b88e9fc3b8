-- fetch.lua: move up to N jobs from their lanes to active and lease them, atomically.
-- KEYS[1] spool:{q}:pending (lane prefix)   KEYS[2] spool:{q}:active   KEYS[3] spool:{q}:leases   KEYS[4] spool:{q}:paused
-- KEYS[5] spool:{q}:job: (prefix)   KEYS[6] spool:{q}:lanes   KEYS[7] spool:{q}:parked_tenants
-- ARGV[1] most jobs to take   ARGV[2] lease deadline (unix ms)   ARGV[3] lease token   ARGV[4..] paused tenants
-- Lanes are served in turn from the ring's head, each up to an equal share of the batch, and each
-- visited lane goes to the ring's tail: with two busy tenants, each gets half of every batch.
-- A paused tenant's lane is parked: taken out of the ring, its jobs left in place, until unpark.lua.
-- The worker passes the paused tenants it last saw.
-- returns: -1 when the queue is paused; else seven fields per job:
--          id, kind, args, attempt, max attempts, enqueued at, tenant (kind is false when the job's hash is missing)
-- The job's hash is not written here, the hottest path: a job is active while it is in the active set,
-- whatever its `state` field last said (status lookups and cancel.lua check the set).
if redis.call('EXISTS', KEYS[4]) == 1 then return -1 end
local want = tonumber(ARGV[1])
local lanes = redis.call('LLEN', KEYS[6])
if lanes == 0 then return {} end
local paused = {}
for i = 4, #ARGV do paused[ARGV[i]] = true end
local share = math.max(1, math.ceil(want / lanes))
local out, deadlines, tokens = {}, {}, {}
for _ = 1, lanes do
  if want <= 0 then break end
  local tenant = redis.call('LMOVE', KEYS[6], KEYS[6], 'LEFT', 'RIGHT')
  if not tenant then break end
  local lane = lane_key(KEYS[1], tenant)
  if tenant ~= '' and paused[tenant] then
    redis.call('RPOP', KEYS[6])
    redis.call('SADD', KEYS[7], tenant)
  else
    local ids = redis.call('RPOP', lane, math.min(share, want))
    if redis.call('LLEN', lane) == 0 then redis.call('RPOP', KEYS[6]) end
    for _, id in ipairs(ids or {}) do
      -- An id whose hash is gone (deleted by hand, expired) is still leased and handed out, so that the
      -- worker sends it to the dead set with a reason instead of it vanishing silently.
      local f = redis.call('HMGET', KEYS[5] .. id, 'kind', 'args', 'attempt', 'max_attempts', 'enqueued_at', 'tenant')
      deadlines[#deadlines+1] = ARGV[2]
      deadlines[#deadlines+1] = id
      tokens[#tokens+1] = id
      tokens[#tokens+1] = ARGV[3]
      out[#out+1] = id
      for j = 1, 6 do out[#out+1] = f[j] end
      want = want - 1
    end
  end
end
if #deadlines > 0 then
  redis.call('ZADD', KEYS[2], unpack(deadlines))
  redis.call('HSET', KEYS[3], unpack(tokens))
end
return out
