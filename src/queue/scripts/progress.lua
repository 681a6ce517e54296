-- progress.lua: records a running job's progress, if the lease holds.
--
-- KEYS[1] the job HASH
--
-- ARGV[1] lease token
-- ARGV[2] percent (0..100)
--
-- Returns 1 when recorded, 0 when the lease was lost (nothing changed).

local f = redis.call("HMGET", KEYS[1], "s", "lt")
if f[1] ~= "running" or f[2] ~= ARGV[1] then return 0 end
redis.call("HSET", KEYS[1], "pg", ARGV[2])
return 1
