-- ack.lua: finish jobs that ran to completion; only the holder of each job's lease may.
-- KEYS[1] spool:{q}:active   KEYS[2] spool:{q}:leases   KEYS[3] spool:{q}:stats   KEYS[4] spool:{q}:completed
-- KEYS[5] spool:{q}:job: (prefix)
-- ARGV[1] now (unix ms)   ARGV[2] 1 to keep finished jobs' records (the Janitor deletes them after their TTL), 0 to delete now
-- ARGV[3..] three per job: id, lease token, result ("" = none)
-- returns: per job, 1 when settled, 0 when the lease was no longer ours (the recoverer handed the job on)
-- Like fetch.lua, this leaves the job's hash alone (the hottest path): a job is completed while it is in
-- the completed set, finished at its score, after one more attempt than its hash counts.
local ids = {}
for i = 3, #ARGV, 3 do ids[#ids+1] = ARGV[i] end
local held = redis.call('HMGET', KEYS[2], unpack(ids))
local settled, done, finished, gone = {}, {}, {}, {}
local keep = ARGV[2] == '1'
for n, id in ipairs(ids) do
  local i = 3 + (n - 1) * 3
  if held[n] == ARGV[i+1] then
    if not keep then
      gone[#gone+1] = KEYS[5] .. id
    else
      if ARGV[i+2] ~= '' then redis.call('HSET', KEYS[5] .. id, 'result', ARGV[i+2]) end
      finished[#finished+1] = ARGV[1]
      finished[#finished+1] = id
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
if #finished > 0 then redis.call('ZADD', KEYS[4], unpack(finished)) end
if #gone > 0 then redis.call('UNLINK', unpack(gone)) end
return settled
