-- unpark.lua: a resumed tenant's lane goes back into the ring, at its head, so that its jobs, which
-- waited longest, are served next.
-- KEYS[1] spool:{q}:pending:<tenant> (the tenant's lane)   KEYS[2] spool:{q}:lanes   KEYS[3] spool:{q}:parked_tenants
-- ARGV[1] tenant
-- returns: how many jobs the lane holds
-- Every key is declared, so the call is refused whole while the queue's slot migrates: a lane is never
-- left out of both the ring and the parked set.
redis.call('SREM', KEYS[3], ARGV[1])
local waiting = redis.call('LLEN', KEYS[1])
if waiting > 0 and not redis.call('LPOS', KEYS[2], ARGV[1]) then redis.call('LPUSH', KEYS[2], ARGV[1]) end
return waiting
