-- limit_pause.lua: a provider said "not before then" (429 with Retry-After, a spent x-ratelimit
-- window): the limiter refuses everything until then, in every process. A later pause wins.
-- KEYS[1] spool:limit:{<name>}   ARGV[1] now (unix ms)   ARGV[2] paused until (unix ms)
-- returns: the pause in force (unix ms)
local key = KEYS[1] .. ':paused'
local current = tonumber(redis.call('GET', key) or '0')
local until_ms = tonumber(ARGV[2])
if until_ms <= current then return current end
redis.call('SET', key, ARGV[2], 'PXAT', until_ms)
redis.call('HINCRBY', KEYS[1] .. ':stats', 'provider_pauses', 1)
return until_ms
