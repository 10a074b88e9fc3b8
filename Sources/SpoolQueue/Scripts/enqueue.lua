-- enqueue.lua: store jobs and make each pending (or scheduled), skipping any whose idempotency key is taken.
-- KEYS[1] spool:{q}:pending (lane prefix)   KEYS[2] spool:{q}:scheduled   KEYS[3] spool:{q}:job: (prefix)
-- KEYS[4] spool:{q}:idem: (prefix)   KEYS[5] spool:{q}:stats (counts `enqueued:<kind>`)   KEYS[6] spool:{q}:lanes
-- KEYS[7] spool:{q}:parked_tenants   KEYS[8] spool:{q}:unique: (prefix)   KEYS[9] spool:{q}:active
-- KEYS[10] spool:{q}:completed
-- ARGV[1] now (unix ms)   ARGV[2] idempotency TTL (s)   ARGV[3] fields per job: 8, or 10 for kinds declared unique
-- ARGV[4..] per job: id, kind, args JSON, max attempts, run at (unix ms, 0 = now), idempotency key or "", tenant or "",
--          parent job id or "" (a follow-up's; see complete.lua); with 10, the unique key and its scope
--          ("pending", or "running": pending or running)
-- returns: per job, the id it is stored under (the earlier job's id when its key was taken), then 1 if new or 0 if not
-- Unique jobs: while the job holding a unique key is still waiting to run (pending, scheduled, retrying,
-- waiting for a limiter or parked; or, with scope "running", also while it runs), a job with the same
-- key is not stored and answers with the holder's id. The holder is looked up, not released by fetch or
-- settle, so the hot paths do not change: a job runs while it is in the active set, has completed once
-- it is in the completed set (ack.lua leaves its hash alone), and otherwise is where its state says.
-- Only fields that carry information are written (hot path, and memory per job): a missing `attempt` is 0,
-- a missing `run_at` is `enqueued_at`, and the queue is in the key. Idempotency keys are per tenant:
-- two tenants that use the same key get two jobs.
local now = tonumber(ARGV[1])
local stride = tonumber(ARGV[3])
local result = {}
local ready, tenants = {}, {}
local enqueued = {}
local waiting_states = { pending = true, scheduled = true, retry = true, limited = true, parked = true }

-- The job holding `unique_key` when it still counts as a duplicate's holder, else nil.
local function unique_holder(unique_key, scope)
  local holder = redis.call('GET', unique_key)
  if not holder then return nil end
  local state = redis.call('HGET', KEYS[3] .. holder, 'state')
  if not state or not waiting_states[state] or redis.call('ZSCORE', KEYS[10], holder) then return nil end
  if redis.call('ZSCORE', KEYS[9], holder) and scope ~= 'running' then return nil end
  return holder
end

for i = 4, #ARGV, stride do
  local id, kind, args, max, run_at, idem, tenant, parent = ARGV[i], ARGV[i+1], ARGV[i+2], ARGV[i+3], tonumber(ARGV[i+4]), ARGV[i+5], ARGV[i+6], ARGV[i+7]
  local unique_key = nil
  if stride == 10 then unique_key = KEYS[8] .. tenant .. ':' .. ARGV[i+8] end
  local existing = false
  local idem_key = KEYS[4] .. tenant .. ':' .. idem
  if idem ~= '' then
    existing = redis.call('GET', idem_key)
  end
  if not existing and unique_key then
    existing = unique_holder(unique_key, ARGV[i+9]) or false
    -- The same request again (a follow-up moved twice) must find the same job, even once it runs.
    if existing and idem ~= '' then redis.call('SET', idem_key, existing, 'EX', ARGV[2]) end
  end
  if existing then
    result[#result+1] = existing
    result[#result+1] = 0
  else
    if idem ~= '' then
      redis.call('SET', idem_key, id, 'EX', ARGV[2])
    end
    -- A day after its last holder was stored, a unique key is dropped (a finished holder frees it anyway).
    if unique_key then redis.call('SET', unique_key, id, 'EX', 86400) end
    local key = KEYS[3] .. id
    if run_at > now then
      redis.call('HSET', key, 'kind', kind, 'args', args, 'max_attempts', max, 'enqueued_at', now, 'state', 'scheduled', 'run_at', run_at)
      redis.call('ZADD', KEYS[2], run_at, id)
    else
      redis.call('HSET', key, 'kind', kind, 'args', args, 'max_attempts', max, 'enqueued_at', now, 'state', 'pending')
      if not ready[tenant] then ready[tenant] = {}; tenants[#tenants+1] = tenant end
      table.insert(ready[tenant], id)
    end
    if idem ~= '' then redis.call('HSET', key, 'idempotency_key', idem) end
    if tenant ~= '' then redis.call('HSET', key, 'tenant', tenant) end
    if parent ~= '' then redis.call('HSET', key, 'parent_id', parent) end
    enqueued[kind] = (enqueued[kind] or 0) + 1
    result[#result+1] = id
    result[#result+1] = 1
  end
end
for kind, count in pairs(enqueued) do redis.call('HINCRBY', KEYS[5], 'enqueued:' .. kind, count) end
for _, tenant in ipairs(tenants) do lane_push(lane_key(KEYS[1], tenant), KEYS[6], KEYS[7], tenant, ready[tenant], false) end
return result
