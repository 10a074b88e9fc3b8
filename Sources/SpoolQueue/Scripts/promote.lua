-- promote.lua: move due jobs from a time-ordered set (scheduled or retry) to their lanes.
-- KEYS[1] spool:{q}:scheduled or spool:{q}:retry   KEYS[2] spool:{q}:pending (lane prefix)   KEYS[3] spool:{q}:job: (prefix)
-- KEYS[4] spool:{q}:lanes   KEYS[5] spool:{q}:parked_tenants
-- ARGV[1] now (unix ms)   ARGV[2] most jobs to move in this call
-- returns: how many jobs were moved
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
if #ids == 0 then return 0 end
redis.call('ZREM', KEYS[1], unpack(ids))
local ready = {}
for _, id in ipairs(ids) do
  if redis.call('HSET', KEYS[3] .. id, 'state', 'pending') == 0 then
    ready[#ready+1] = id
  else
    -- HSET created the field on a missing hash: the job was deleted meanwhile; drop the stray key.
    redis.call('DEL', KEYS[3] .. id)
  end
end
if #ready > 0 then lanes_push(KEYS[2], KEYS[4], KEYS[5], KEYS[3], ready, false) end
return #ready
