-- wait_for_limit.lua: leased jobs that a limiter refused wait in that limiter's list, unrun and
-- without using an attempt, instead of going back to their lane: jobs for other keys keep flowing
-- past them, and waiting costs nothing until the limiter is due (release_limited.lua).
-- KEYS[1] spool:{q}:active   KEYS[2] spool:{q}:leases   KEYS[3] spool:{q}:job: (prefix)
-- KEYS[4] spool:{q}:limited:<limit key>   KEYS[5] spool:{q}:limited_keys (zset: limit key -> when due)
-- KEYS[6] spool:{q}:limited_pace (hash: limit key -> "<ms per job to release, 0 = one at a time> <template>")
-- ARGV[1] limit key   ARGV[2] due (unix ms)   ARGV[3] ms per job   ARGV[4] why   ARGV[5] the key's declared template
-- ARGV[6..] two per job: id, lease token
-- returns: per job, 1 when it now waits, 0 when the lease was no longer ours
local out = {}
local waiting = 0
for i = 6, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  if redis.call('HGET', KEYS[2], id) == token then
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', KEYS[2], id)
    redis.call('HSET', KEYS[3] .. id, 'state', 'limited', 'limited_by', ARGV[1], 'run_at', ARGV[2], 'snoozed', ARGV[4])
    redis.call('HINCRBY', KEYS[3] .. id, 'snoozes', 1)
    -- FIFO per limiter: in on the left, released from the right.
    redis.call('LPUSH', KEYS[4], id)
    waiting = waiting + 1
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
if waiting > 0 then
  -- The limiter's own answer is the truth: it replaces any earlier estimate, sooner or later.
  redis.call('ZADD', KEYS[5], ARGV[2], ARGV[1])
  redis.call('HSET', KEYS[6], ARGV[1], ARGV[3] .. ' ' .. ARGV[5])
end
return out
