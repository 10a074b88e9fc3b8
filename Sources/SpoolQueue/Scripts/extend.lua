-- extend.lua: a worker's heartbeat pushes out the lease deadline of the jobs it still holds.
-- KEYS[1] spool:{q}:active   KEYS[2] spool:{q}:leases
-- ARGV[1] new lease deadline (unix ms)   ARGV[2..] pairs of id, lease token
-- returns: how many leases were extended (a lease already recovered elsewhere is left alone)
local extended = 0
for i = 2, #ARGV, 2 do
  if redis.call('HGET', KEYS[2], ARGV[i]) == ARGV[i+1] then
    redis.call('ZADD', KEYS[1], 'XX', ARGV[1], ARGV[i])
    extended = extended + 1
  end
end
return extended
