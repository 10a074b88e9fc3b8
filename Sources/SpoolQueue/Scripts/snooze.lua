-- snooze.lua: postpone a job without using an attempt (rate limited, quiet hours, tenant paused).
-- KEYS[1] spool:{q}:active   KEYS[2] spool:{q}:leases   KEYS[3] spool:{q}:job:<id>   KEYS[4] spool:{q}:scheduled
-- ARGV[1] id   ARGV[2] lease token   ARGV[3] run at (unix ms)   ARGV[4] why
-- returns: 1 when settled, 0 when the lease was no longer ours
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], 'state', 'scheduled', 'run_at', ARGV[3], 'snoozed', ARGV[4])
redis.call('HINCRBY', KEYS[3], 'snoozes', 1)
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[1])
return 1
