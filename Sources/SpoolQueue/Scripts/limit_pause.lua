-- limit_pause.lua: a provider said "not before then" (429 with Retry-After, a spent x-ratelimit
-- window): the limiter refuses everything until then, in every process. A later pause wins.
-- KEYS[1] spool:limit:{<name>}:paused   KEYS[2] spool:limit:{<name>}:stats
-- ARGV[1] now (unix ms)   ARGV[2] paused until (unix ms)
-- returns: the pause in force (unix ms)
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local until_ms = tonumber(ARGV[2])
if until_ms <= current then return current end
redis.call('SET', KEYS[1], ARGV[2], 'PXAT', until_ms)
redis.call('HINCRBY', KEYS[2], 'provider_pauses', 1)
return until_ms
