-- dead_retry.lua: give dead jobs a fresh set of attempts and put them back in pending.
-- KEYS[1] spool:{q}:dead   KEYS[2] spool:{q}:pending (lane prefix)   KEYS[3] spool:{q}:job: (prefix)
-- KEYS[4] spool:{q}:lanes   KEYS[5] spool:{q}:parked_tenants
-- ARGV[1] now (unix ms)   ARGV[2..] job ids
-- returns: how many jobs were moved (ids not in the dead set are ignored)
local moved = {}
for i = 2, #ARGV do
  local id = ARGV[i]
  if redis.call('ZREM', KEYS[1], id) == 1 then
    redis.call('HSET', KEYS[3] .. id, 'state', 'pending', 'attempt', 0, 'run_at', ARGV[1])
    redis.call('HDEL', KEYS[3] .. id, 'dead_reason', 'finished_at')
    moved[#moved+1] = id
  end
end
if #moved > 0 then lanes_push(KEYS[2], KEYS[4], KEYS[5], KEYS[3], moved, false) end
return #moved
