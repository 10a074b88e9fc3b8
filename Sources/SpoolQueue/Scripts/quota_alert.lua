-- quota_alert.lua: a provider's quota is spent (insufficient_quota): pause the queue so that it does
-- not burn through jobs that cannot succeed, and leave an alert that stats, /metrics and the API show
-- until an operator resumes the queue.
-- KEYS[1] spool:{q}:paused   KEYS[2] spool:{q}:alert
-- ARGV[1] now (unix ms)   ARGV[2] kind   ARGV[3] reason
-- returns: 1 when this call raised the alert, 0 when it was already raised
redis.call('SET', KEYS[1], 'quota_exhausted')
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('HSET', KEYS[2], 'kind', ARGV[2], 'reason', ARGV[3], 'since', ARGV[1])
return 1
