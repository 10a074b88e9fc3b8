-- limit_release.lua: settled jobs give their concurrency slots back.
-- KEYS[1] spool:limit:{<name>}:holders   KEYS[2] spool:limit:{<name>}:waiting   ARGV[1..] holder ids (job ids)
-- returns: 1 when jobs were refused a slot in the last minute (the caller then hands its slot to one), else 0
redis.call('ZREM', KEYS[1], unpack(ARGV))
return redis.call('EXISTS', KEYS[2])
