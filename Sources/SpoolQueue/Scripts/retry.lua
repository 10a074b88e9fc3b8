-- retry.lua: a failed attempt that has attempts left; the job waits in the retry set until its time.
-- The failure joins the job's `errors` (record_failure, in lanes.lua).
-- KEYS[1] spool:{q}:active   KEYS[2] spool:{q}:leases   KEYS[3] spool:{q}:job:<id>   KEYS[4] spool:{q}:retry
-- KEYS[5] spool:{q}:stats
-- ARGV[1] id   ARGV[2] lease token   ARGV[3] retry at (unix ms)   ARGV[4] error text   ARGV[5] now (unix ms)
-- returns: 1 when settled, 0 when the lease was no longer ours
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
local attempt = redis.call('HINCRBY', KEYS[3], 'attempt', 1)
redis.call('HSET', KEYS[3], 'state', 'retry', 'run_at', ARGV[3], 'last_error', ARGV[4])
record_failure(KEYS[3], attempt, ARGV[5], 'retry', ARGV[4])
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[1])
redis.call('HINCRBY', KEYS[5], 'failed', 1)
return 1
