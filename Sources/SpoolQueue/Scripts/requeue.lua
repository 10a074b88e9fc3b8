-- requeue.lua: hand a leased job back to the front of its lane, unrun (shutdown, or prefetched but not started).
-- KEYS[1] spool:{q}:active   KEYS[2] spool:{q}:leases   KEYS[3] spool:{q}:job:<id>
-- KEYS[4] spool:{q}:pending[:<tenant>] (the job's lane)   KEYS[5] spool:{q}:lanes   KEYS[6] spool:{q}:parked_tenants
-- ARGV[1] id   ARGV[2] lease token   ARGV[3] the job's tenant ("" = none), whose lane KEYS[4] is
-- returns: 1 when settled, 0 when the lease was no longer ours; an error, with nothing written, when the
-- job's hash names another tenant than the caller's
-- Every key is declared, so Redis checks them all before the script runs: while the queue's slot
-- migrates the call is refused whole (TRYAGAIN), never cut off after the job left active.
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
-- A script is not rolled back: the lane is checked before the first write, not found missing after it.
local tenant = redis.call('HGET', KEYS[3], 'tenant') or ''
if tenant ~= ARGV[3] then
  return redis.error_reply('ERR requeue.lua: job ' .. ARGV[1] .. ' belongs to tenant "' .. tenant .. '", not "' .. ARGV[3] .. '"')
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], 'state', 'pending')
-- At the front, where fetch pops next: a requeued job does not lose its place.
lane_push(KEYS[4], KEYS[5], KEYS[6], tenant, {ARGV[1]}, true)
return 1
