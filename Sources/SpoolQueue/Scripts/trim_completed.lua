-- trim_completed.lua: delete the records of jobs that completed before the retention window.
-- KEYS[1] spool:{q}:completed   KEYS[2] spool:{q}:job: (prefix)
-- ARGV[1] oldest finish time kept (unix ms)   ARGV[2] most records deleted in this call
-- returns: how many records were deleted
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', 0, ARGV[2])
if #ids == 0 then return 0 end
local keys = {}
for _, id in ipairs(ids) do keys[#keys+1] = KEYS[2] .. id end
-- UNLINK frees memory off the main thread; a job retried by hand since (dead retry) is no longer listed here.
redis.call('UNLINK', unpack(keys))
redis.call('ZREM', KEYS[1], unpack(ids))
return #ids
