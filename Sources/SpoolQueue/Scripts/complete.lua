-- complete.lua: finish one job that ran to completion and asks for follow-up jobs, atomically: the
-- follow-ups go into the queue's outbox in the same step, so they exist if and only if the job is
-- completed. Only the holder of the job's lease may. (Jobs without follow-ups go through ack.lua, batched.)
-- A kept record lists its follow-ups in `follow_ups` ("<queue>/<id>" separated by spaces), so that a job's
-- page links to them as each of them links back by its `parent_id`.
-- KEYS[1] spool:{q}:active   KEYS[2] spool:{q}:leases   KEYS[3] spool:{q}:stats   KEYS[4] spool:{q}:completed
-- KEYS[5] spool:{q}:job: (prefix)   KEYS[6] spool:{q}:outbox
-- ARGV[1] now (unix ms)   ARGV[2] 1 to keep the job's record, 0 to delete it now   ARGV[3] id   ARGV[4] lease token
-- ARGV[5] result ("" = none)   ARGV[6..] two per follow-up: its id, its JSON (see Outbox.swift)
-- returns: 1 when settled, 0 when the lease was no longer ours (nothing written: the job runs again)
local id = ARGV[3]
if redis.call('HGET', KEYS[2], id) ~= ARGV[4] then return 0 end
redis.call('ZREM', KEYS[1], id)
redis.call('HDEL', KEYS[2], id)
redis.call('HINCRBY', KEYS[3], 'processed', 1)
if ARGV[2] == '1' then
  if ARGV[5] ~= '' then redis.call('HSET', KEYS[5] .. id, 'result', ARGV[5]) end
  local links = {}
  for i = 6, #ARGV, 2 do
    local ok, entry = pcall(cjson.decode, ARGV[i + 1])
    if ok and type(entry) == 'table' and type(entry.queue) == 'string' then links[#links + 1] = entry.queue .. '/' .. ARGV[i] end
  end
  if #links > 0 then redis.call('HSET', KEYS[5] .. id, 'follow_ups', table.concat(links, ' ')) end
  redis.call('ZADD', KEYS[4], ARGV[1], id)
else
  redis.call('UNLINK', KEYS[5] .. id)
end
for i = 6, #ARGV, 2 do redis.call('HSET', KEYS[6], ARGV[i], ARGV[i + 1]) end
return 1
