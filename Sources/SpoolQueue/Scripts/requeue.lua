-- requeue.lua: hand a leased job back to the front of pending, unrun (shutdown, or prefetched but not started).
-- KEYS[1] spool:{q}:active   KEYS[2] spool:{q}:leases   KEYS[3] spool:{q}:job:<id>   KEYS[4] spool:{q}:pending
-- ARGV[1] id   ARGV[2] lease token
-- returns: 1 when settled, 0 when the lease was no longer ours
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], 'state', 'pending')
-- RPUSH puts it where fetch pops next: a requeued job does not lose its place.
redis.call('RPUSH', KEYS[4], ARGV[1])
return 1
