-- dead_discard.lua: delete dead jobs for good.
-- KEYS[1] spool:{q}:dead   KEYS[2] spool:{q}:job: (prefix)
-- ARGV[1..] job ids
-- returns: how many jobs were deleted (ids not in the dead set are ignored)
local deleted = 0
for i = 1, #ARGV do
  if redis.call('ZREM', KEYS[1], ARGV[i]) == 1 then
    redis.call('DEL', KEYS[2] .. ARGV[i])
    deleted = deleted + 1
  end
end
return deleted
