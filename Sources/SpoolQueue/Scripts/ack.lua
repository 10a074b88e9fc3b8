-- ack.lua: finish jobs that ran to completion; only the holder of each job's lease may.
-- KEYS[1] spool:{q}:active   KEYS[2] spool:{q}:leases   KEYS[3] spool:{q}:stats   KEYS[4] spool:{q}:completed
-- KEYS[5] spool:{q}:job: (prefix)
-- ARGV[1] now (unix ms)   ARGV[2] 1 to keep finished jobs' records (the Janitor deletes them after their TTL), 0 to delete now
-- ARGV[3..] five per job: id, lease token, attempts made (counting this one), started at (unix ms), result ("" = none)
-- returns: per job, 1 when settled, 0 when the lease was no longer ours (the recoverer handed the job on)
local ids = {}
for i = 3, #ARGV, 5 do ids[#ids+1] = ARGV[i] end
local held = redis.call('HMGET', KEYS[2], unpack(ids))
local settled, done, finished = {}, {}, {}
local keep = ARGV[2] == '1'
for n, id in ipairs(ids) do
  local i = 3 + (n - 1) * 5
  if held[n] == ARGV[i+1] then
    local key = KEYS[5] .. id
    if keep then
      redis.call('HSET', key, 'state', 'completed', 'finished_at', ARGV[1], 'attempt', ARGV[i+2], 'started_at', ARGV[i+3])
      if ARGV[i+4] ~= '' then redis.call('HSET', key, 'result', ARGV[i+4]) end
      finished[#finished+1] = ARGV[1]
      finished[#finished+1] = id
    else
      redis.call('DEL', key)
    end
    done[#done+1] = id
    settled[n] = 1
  else
    settled[n] = 0
  end
end
if #done > 0 then
  redis.call('ZREM', KEYS[1], unpack(done))
  redis.call('HDEL', KEYS[2], unpack(done))
  redis.call('HINCRBY', KEYS[3], 'processed', #done)
end
-- One ZADD for the batch instead of an EXPIRE per job: the hot path stays short.
if #finished > 0 then redis.call('ZADD', KEYS[4], unpack(finished)) end
return settled
