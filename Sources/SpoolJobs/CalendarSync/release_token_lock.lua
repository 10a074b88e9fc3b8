-- release_token_lock.lua: lets go of a connection's token-refresh lock, only for the process that holds it.
-- A refresher that ran past the lock's expiry must not delete the lock another process has taken since.
-- KEYS[1] spool:oauth:{cal:<id>}:lock
-- ARGV[1] the owner token the holder wrote with SET NX PX
-- returns: 1 when released, 0 when the lock had expired or belongs to another owner
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
