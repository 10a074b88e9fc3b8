-- ack.lua: finish a job that ran to completion; only the holder of the lease may.
-- KEYS[1] spool:{q}:active   KEYS[2] spool:{q}:job:<id>   KEYS[3] spool:{q}:stats
-- ARGV[1] id   ARGV[2] lease token   ARGV[3] now (unix ms)   ARGV[4] seconds to keep the finished job (0 = delete)
-- ARGV[5] result text ("" = none)
-- returns: 1 when settled, 0 when the lease was no longer ours (the recoverer handed the job on)
if redis.call('HGET', KEYS[2], 'lease') ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HINCRBY', KEYS[3], 'processed', 1)
if tonumber(ARGV[4]) == 0 then
  redis.call('DEL', KEYS[2])
  return 1
end
redis.call('HSET', KEYS[2], 'state', 'completed', 'finished_at', ARGV[3], 'result', ARGV[5])
redis.call('HINCRBY', KEYS[2], 'attempt', 1)
redis.call('HDEL', KEYS[2], 'lease', 'args')
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 1
