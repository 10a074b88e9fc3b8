-- lanes.lua: helpers shared by the scripts; Scripts.swift puts this text before each of them: the
-- lanes of pending jobs, and the record of failed attempts (at the end).
-- Pending work is split into lanes: spool:{q}:pending for jobs without a tenant, and
-- spool:{q}:pending:<tenant> for each tenant. The ring spool:{q}:lanes lists the lanes that have jobs
-- and are not parked, and fetch.lua serves them in turn, so that one tenant's 100,000-job campaign
-- cannot hold back another tenant's single job. Within a lane, jobs are FIFO: new ones are pushed on
-- the left, fetch pops from the right.

local function lane_key(pending, tenant)
  if not tenant or tenant == '' then return pending end
  return pending .. ':' .. tenant
end

-- Pushes ids onto `lane`, the tenant's lane (a declared KEY, or lane_key of the lane prefix), at the
-- back (new work) or, with `front`, where fetch pops next (requeued or released work keeps its turn),
-- and makes sure the lane is in the ring. A parked tenant's lane stays out of the ring until unpark.lua
-- puts it back.
local function lane_push(lane, ring, parked, tenant, ids, front)
  tenant = tenant or ''
  if front then
    -- The first id is to be fetched first, so it goes on last.
    local reversed = {}
    for i = #ids, 1, -1 do reversed[#reversed + 1] = ids[i] end
    redis.call('RPUSH', lane, unpack(reversed))
  else
    redis.call('LPUSH', lane, unpack(ids))
  end
  if (tenant == '' or redis.call('SISMEMBER', parked, tenant) == 0) and not redis.call('LPOS', ring, tenant) then
    redis.call('RPUSH', ring, tenant)
  end
end

-- Pushes jobs read from their hashes onto their tenants' lanes, one push per tenant.
local function lanes_push(pending, ring, parked, job_prefix, ids, front)
  local by_tenant, order = {}, {}
  for _, id in ipairs(ids) do
    local tenant = redis.call('HGET', job_prefix .. id, 'tenant') or ''
    if not by_tenant[tenant] then by_tenant[tenant] = {}; order[#order+1] = tenant end
    table.insert(by_tenant[tenant], id)
  end
  for _, tenant in ipairs(order) do lane_push(lane_key(pending, tenant), ring, parked, tenant, by_tenant[tenant], front) end
end

-- Failed attempts: a job's hash keeps its last few in `errors`, JSON text, oldest first, each
-- {attempt, at (unix ms), outcome ("retry" or "dead"), error}, so that a job's page shows what every
-- attempt ended in, not only the last error. Only failures write it, never the hot path.
local failures_kept = 10
local failure_text_bytes = 1000

local function record_failure(job_key, attempt, at, outcome, text)
  if #text > failure_text_bytes then
    -- Cut at a character boundary: never inside a multi-byte UTF-8 character.
    local cut = failure_text_bytes
    while cut > 0 and string.byte(text, cut + 1) >= 128 and string.byte(text, cut + 1) < 192 do cut = cut - 1 end
    text = string.sub(text, 1, cut)
  end
  local history = {}
  local stored = redis.call('HGET', job_key, 'errors')
  if stored then
    local ok, decoded = pcall(cjson.decode, stored)
    if ok and type(decoded) == 'table' then history = decoded end
  end
  history[#history + 1] = { attempt = tonumber(attempt), at = tonumber(at), outcome = outcome, error = text }
  while #history > failures_kept do table.remove(history, 1) end
  redis.call('HSET', job_key, 'errors', cjson.encode(history))
end
