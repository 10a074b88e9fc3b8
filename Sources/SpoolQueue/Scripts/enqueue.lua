-- enqueue.lua: store jobs and make each pending (or scheduled), skipping any whose idempotency key is taken.
-- KEYS[1] spool:{q}:pending   KEYS[2] spool:{q}:scheduled   KEYS[3] spool:{q}:job: (prefix)   KEYS[4] spool:{q}:idem: (prefix)
-- ARGV[1] now (unix ms)   ARGV[2] idempotency TTL (s)   ARGV[3] queue name
-- ARGV[4..] seven per job: id, kind, args JSON, max attempts, run at (unix ms, 0 = now), idempotency key or "", tenant or ""
-- returns: per job, the id it is stored under (the earlier job's id when its key was taken), then 1 if new or 0 if not
local now = tonumber(ARGV[1])
local result = {}
local ready = {}
for i = 4, #ARGV, 7 do
  local id, kind, args, max, run_at, idem, tenant = ARGV[i], ARGV[i+1], ARGV[i+2], ARGV[i+3], tonumber(ARGV[i+4]), ARGV[i+5], ARGV[i+6]
  local existing = false
  if idem ~= '' then
    existing = redis.call('GET', KEYS[4] .. idem)
  end
  if existing then
    result[#result+1] = existing
    result[#result+1] = 0
  else
    if idem ~= '' then
      redis.call('SET', KEYS[4] .. idem, id, 'EX', ARGV[2])
    end
    local state = 'pending'
    if run_at > now then state = 'scheduled' else run_at = now end
    redis.call('HSET', KEYS[3] .. id, 'kind', kind, 'queue', ARGV[3], 'args', args, 'attempt', 0,
      'max_attempts', max, 'enqueued_at', now, 'run_at', run_at, 'state', state,
      'idempotency_key', idem, 'tenant', tenant)
    if state == 'scheduled' then
      redis.call('ZADD', KEYS[2], run_at, id)
    else
      ready[#ready+1] = id
    end
    result[#result+1] = id
    result[#result+1] = 1
  end
end
-- Pending is FIFO: producers push on the left, fetch pops from the right.
if #ready > 0 then redis.call('LPUSH', KEYS[1], unpack(ready)) end
return result
