-- unpark.lua: hand a resumed tenant's parked jobs back to pending, ahead of newer work, oldest first.
-- KEYS[1] spool:{q}:parked:<tenant>   KEYS[2] spool:{q}:pending   KEYS[3] spool:{q}:parked_tenants
-- KEYS[4] spool:{q}:job: (prefix)
-- ARGV[1] tenant   ARGV[2] most jobs to move in this call
-- returns: how many moved; the caller calls again until 0.
local moved = 0
local limit = tonumber(ARGV[2])
while moved < limit do
  -- Newest first onto pending's right end, where fetch pops: the oldest ends up popped first.
  local id = redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'RIGHT')
  if not id then break end
  redis.call('HSET', KEYS[4] .. id, 'state', 'pending')
  moved = moved + 1
end
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SREM', KEYS[3], ARGV[1]) end
return moved
