-- limit_refund.lua: gives back what limit_acquire.lua granted to jobs that another of their limits
-- then refused, so that a job waiting on one limit does not also spend another.
-- KEYS[1] the key its kind changes: spool:limit:{<name>}:tat (rate), :holders (concurrency) or
--         :window:<start> (quota: the window that holds ARGV[1])
-- ARGV[1] now (unix ms)   ARGV[2] kind   ARGV[3] ms per unit (rate) or 0   ARGV[4..] two per request: holder id, cost
-- returns: how many requests were refunded
-- A refund to a key that is missing does nothing, so a lone KEY is enough even while the slot migrates.
local now = tonumber(ARGV[1])
local kind = ARGV[2]
local refunded = 0
for i = 4, #ARGV, 2 do
  local id, cost = ARGV[i], tonumber(ARGV[i + 1])
  if kind == 'rate' then
    local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
    if tat > now then
      redis.call('SET', KEYS[1], string.format('%.17g', math.max(tat - cost * tonumber(ARGV[3]), now)), 'PX', math.ceil(tat - now) + 60000)
    end
  elseif kind == 'concurrency' then
    redis.call('ZREM', KEYS[1], id)
  elseif kind == 'quota' then
    if tonumber(redis.call('GET', KEYS[1]) or '0') >= cost then redis.call('DECRBY', KEYS[1], cost) end
  end
  refunded = refunded + 1
end
return refunded
