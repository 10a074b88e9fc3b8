-- requeue.lua: hand a leased job back to the front of its lane, unrun (shutdown, or prefetched but not started).
-- KEYS[1] spool:{q}:active   KEYS[2] spool:{q}:leases   KEYS[3] spool:{q}:job:<id>   KEYS[4] spool:{q}:pending (lane prefix)
-- KEYS[5] spool:{q}:lanes   KEYS[6] spool:{q}:parked_tenants
-- ARGV[1] id   ARGV[2] lease token
-- returns: 1 when settled, 0 when the lease was no longer ours
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], 'state', 'pending')
-- At the front, where fetch pops next: a requeued job does not lose its place.
lane_push(KEYS[4], KEYS[5], KEYS[6], redis.call('HGET', KEYS[3], 'tenant'), {ARGV[1]}, true)
return 1
