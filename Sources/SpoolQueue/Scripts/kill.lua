-- kill.lua: move a job to the dead set with its reason (permanent error, attempts exhausted, bad payload).
-- The failure joins the job's `errors` (record_failure, in lanes.lua).
-- KEYS[1] spool:{q}:active   KEYS[2] spool:{q}:leases   KEYS[3] spool:{q}:job:<id>   KEYS[4] spool:{q}:dead
-- KEYS[5] spool:{q}:stats
-- ARGV[1] id   ARGV[2] lease token   ARGV[3] now (unix ms)   ARGV[4] reason   ARGV[5] last error ("" = keep)
-- returns: 1 when settled, 0 when the lease was no longer ours
-- The dead set's caps (count, age) are enforced by trim_dead.lua, run by the scheduler.
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
local attempt = redis.call('HINCRBY', KEYS[3], 'attempt', 1)
redis.call('HSET', KEYS[3], 'state', 'dead', 'dead_reason', ARGV[4], 'finished_at', ARGV[3])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[3], 'last_error', ARGV[5]) end
local failure = ARGV[4]
if ARGV[5] ~= '' then failure = ARGV[4] .. ': ' .. ARGV[5] end
record_failure(KEYS[3], attempt, ARGV[3], 'dead', failure)
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[1])
redis.call('HINCRBY', KEYS[5], 'failed', 1)
return 1
