-- trim_dead.lua: hold the dead set to its caps: drop entries older than the age limit, then the
-- oldest beyond the count limit, deleting their job hashes too.
-- KEYS[1] spool:{q}:dead   KEYS[2] spool:{q}:job: (prefix)
-- ARGV[1] oldest kept (unix ms)   ARGV[2] most entries kept   ARGV[3] most entries dropped in this call
-- returns: how many entries were dropped
local dropped = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', 0, ARGV[3])
local room = tonumber(ARGV[3]) - #dropped
local excess = redis.call('ZCARD', KEYS[1]) - #dropped - tonumber(ARGV[2])
if excess > 0 and room > 0 then
  local oldest = redis.call('ZRANGE', KEYS[1], #dropped, #dropped + math.min(excess, room) - 1)
  for _, id in ipairs(oldest) do dropped[#dropped+1] = id end
end
for _, id in ipairs(dropped) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('DEL', KEYS[2] .. id)
end
return #dropped
