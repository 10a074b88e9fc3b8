-- lanes.lua: helpers shared by every script that makes jobs pending; Scripts.swift puts this text
-- before theirs. Pending work is split into lanes: spool:{q}:pending for jobs without a tenant, and
-- spool:{q}:pending:<tenant> for each tenant. The ring spool:{q}:lanes lists the lanes that have jobs
-- and are not parked, and fetch.lua serves them in turn, so that one tenant's 100,000-job campaign
-- cannot hold back another tenant's single job. Within a lane, jobs are FIFO: new ones are pushed on
-- the left, fetch pops from the right.

local function lane_key(pending, tenant)
  if not tenant or tenant == '' then return pending end
  return pending .. ':' .. tenant
end

-- Pushes ids onto a tenant's lane, at the back (new work) or, with `front`, where fetch pops next
-- (requeued or released work keeps its turn), and makes sure the lane is in the ring. A parked
-- tenant's lane stays out of the ring until unpark.lua puts it back.
local function lane_push(pending, ring, parked, tenant, ids, front)
  tenant = tenant or ''
  if front then
    -- The first id is to be fetched first, so it goes on last.
    local reversed = {}
    for i = #ids, 1, -1 do reversed[#reversed + 1] = ids[i] end
    redis.call('RPUSH', lane_key(pending, tenant), unpack(reversed))
  else
    redis.call('LPUSH', lane_key(pending, tenant), unpack(ids))
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
  for _, tenant in ipairs(order) do lane_push(pending, ring, parked, tenant, by_tenant[tenant], front) end
end
