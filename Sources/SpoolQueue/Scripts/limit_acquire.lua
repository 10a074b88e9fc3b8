-- limit_acquire.lua: one limiter decides a batch of requests, in order, atomically. Every process
-- that shares the Redis asks here, so a limit holds across all of them.
-- KEYS[1] spool:limit:{<name>}:paused   KEYS[2] spool:limit:{<name>}:stats   then the keys of its kind:
--   rate:        KEYS[3] :tat (GCRA's theoretical arrival time)   KEYS[4] :interval (ms per unit it was booked at)
--   concurrency: KEYS[3] :holders (job id -> hold expiry)         KEYS[4] :waiting (somebody was refused)
--   quota:       KEYS[3] :window:<start> (the counter of the window that holds ARGV[1])
-- The name is the hash tag, so that a limiter lives on one Cluster shard. Every key is declared: while
-- the limiter's slot migrates, Redis refuses the call (TRYAGAIN) rather than run it against a node
-- that does not hold the limiter's state yet, which would admit too much.
-- ARGV[1] now (unix ms)   ARGV[2] kind: rate | concurrency | quota
--   rate:        ARGV[3] ms per unit (period / units)   ARGV[4] burst (units that may go at once)
--   concurrency: ARGV[3] most holders                   ARGV[4] hold (ms): a crashed worker's slot comes back after it
--   quota:       ARGV[3] units per window               ARGV[4] window (ms, aligned to the unix epoch: UTC days)
-- ARGV[5..] two per request: holder id (the job id), cost (units)
-- returns: {admitted, retry at (unix ms, 0 when all were admitted)}. Requests are admitted in order
-- until the first that does not fit; it and the ones after it are all refused, so that a batch keeps
-- its order and a costly request is not overtaken forever by cheap ones.
-- A provider's Retry-After pauses a limiter (limit_pause.lua): while paused, it refuses everything.
local now = tonumber(ARGV[1])
local kind = ARGV[2]
local a, b = tonumber(ARGV[3]), tonumber(ARGV[4])
local requests = (#ARGV - 4) / 2
local paused = tonumber(redis.call('GET', KEYS[1]) or '0')
local stats = KEYS[2]
if paused > now then
  redis.call('HINCRBY', stats, 'denied', requests)
  return {0, paused}
end
local admitted, retry_at = 0, 0
if kind == 'rate' then
  -- GCRA: the theoretical arrival time (tat) moves ahead by `cost * interval` per admission; a request
  -- fits while tat stays within `burst * interval` of now. A cost above the burst passes alone, when
  -- the limiter is idle, rather than never.
  local interval, burst = a, b
  local tat = math.max(tonumber(redis.call('GET', KEYS[3]) or '0'), now)
  -- A limit changed at run time: the units still owed are counted at the new rate, so that a rate
  -- raised from 1/s to 1,000/s does not first wait out the second the old rate had booked.
  local booked = tonumber(redis.call('GET', KEYS[4]) or '0')
  if booked > 0 and booked ~= interval and tat > now then tat = now + (tat - now) / booked * interval end
  for i = 5, #ARGV, 2 do
    local cost = tonumber(ARGV[i + 1])
    local next_tat = tat + cost * interval
    if next_tat - now <= math.max(burst, cost) * interval then
      tat = next_tat
      admitted = admitted + 1
    else
      retry_at = math.ceil(next_tat - math.max(burst, cost) * interval)
      break
    end
  end
  if admitted > 0 then
    -- The key outlives the moment it stops mattering (tat in the past) by a minute: a generous
    -- margin, since Redis counts that time on its own clock and `now` is the caller's.
    -- '%.17g': Lua's tostring keeps 14 digits, 0.1 ms of a unix-ms time, which at thousands of
    -- units per second would let each call's fraction of a millisecond round away.
    -- The expiry as '%d': Lua writes numbers of 15 digits or more as 1e+15, which PX refuses.
    local px = string.format('%d', math.ceil(tat - now) + 60000)
    redis.call('SET', KEYS[3], string.format('%.17g', tat), 'PX', px)
    redis.call('SET', KEYS[4], string.format('%.17g', interval), 'PX', px)
  end
elseif kind == 'concurrency' then
  local holders = KEYS[3]
  redis.call('ZREMRANGEBYSCORE', holders, '-inf', now)
  local held = redis.call('ZCARD', holders)
  for i = 5, #ARGV, 2 do
    local id = ARGV[i]
    -- A job that already holds a slot (fetched again after its worker died) keeps it.
    if redis.call('ZSCORE', holders, id) or held < a then
      if redis.call('ZADD', holders, now + b, id) == 1 then held = held + 1 end
      admitted = admitted + 1
    else
      -- A slot frees when a holder settles (limit_release.lua then wakes the waiters) or, at the
      -- latest, when the earliest hold expires.
      local first = redis.call('ZRANGE', holders, 0, 0, 'WITHSCORES')
      retry_at = math.min(tonumber(first[2]), now + 1000)
      redis.call('SET', KEYS[4], 1, 'PX', 60000)
      break
    end
  end
  -- Only ever lengthened: a kind with a short hold must not cut short the slots of a long one.
  if redis.call('PTTL', holders) < b + 60000 then redis.call('PEXPIRE', holders, b + 60000) end
elseif kind == 'quota' then
  -- The caller named the window's counter from the same `now` and length.
  local start = now - now % b
  local counter = KEYS[3]
  local used = tonumber(redis.call('GET', counter) or '0')
  local taken = 0
  for i = 5, #ARGV, 2 do
    local cost = tonumber(ARGV[i + 1])
    if used + taken + cost <= a then
      taken = taken + cost
      admitted = admitted + 1
    else
      retry_at = start + b
      break
    end
  end
  if taken > 0 then
    redis.call('INCRBY', counter, taken)
    redis.call('PEXPIREAT', counter, start + b + 60000)
  end
else
  return redis.error_reply('ERR limit_acquire.lua: unknown limiter kind ' .. kind)
end
if admitted > 0 then redis.call('HINCRBY', stats, 'admitted', admitted) end
if admitted < requests then redis.call('HINCRBY', stats, 'denied', requests - admitted) end
return {admitted, retry_at}
