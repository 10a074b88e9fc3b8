-- live_counts.lua: one queue's numbers for the dashboard's live feed, read-only. A queue's pending
-- jobs are spread over lanes (lanes.lua), so counting them in Swift takes a second round trip; the
-- feed sends one call of this per queue in a single pipeline instead.
-- KEYS[1] spool:{q}:lanes   KEYS[2] spool:{q}:scheduled   KEYS[3] spool:{q}:active   KEYS[4] spool:{q}:retry
-- KEYS[5] spool:{q}:dead    KEYS[6] spool:{q}:stats       KEYS[7] spool:{q}:paused
-- KEYS[8] spool:{q}:pending (the lane without a tenant; a tenant's lane is it plus ':' and the tenant)
-- KEYS[9] spool:{q}:job: (the prefix of job hashes)
-- returns: {pending, scheduled, active, retry, dead, processed, failed, paused (0 or 1),
--           since when the oldest pending job waits (unix ms; 0 when none)}
local pending, oldest = 0, 0
for _, tenant in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  local lane = KEYS[8]
  if tenant ~= '' then lane = lane .. ':' .. tenant end
  pending = pending + redis.call('LLEN', lane)
  -- Oldest on the right; a job that never waited for a time has no run_at, only enqueued_at.
  local id = redis.call('LINDEX', lane, -1)
  if id then
    local times = redis.call('HMGET', KEYS[9] .. id, 'run_at', 'enqueued_at')
    local since = tonumber(times[1]) or tonumber(times[2])
    if since and (oldest == 0 or since < oldest) then oldest = since end
  end
end
local totals = redis.call('HMGET', KEYS[6], 'processed', 'failed')
return {
  pending, redis.call('ZCARD', KEYS[2]), redis.call('ZCARD', KEYS[3]), redis.call('ZCARD', KEYS[4]),
  redis.call('ZCARD', KEYS[5]), tonumber(totals[1]) or 0, tonumber(totals[2]) or 0, redis.call('EXISTS', KEYS[7]), oldest
}
