-- complete.lua: marks a running job completed with its result, if the lease holds.
--
-- KEYS[1] running ZSET
-- KEYS[2] completed ZSET (score = finish ms)
-- KEYS[3] stats HASH
-- KEYS[4] events STREAM
-- KEYS[5] the job HASH
--
-- ARGV[1] job id
-- ARGV[2] lease token
-- ARGV[3] now, epoch ms
-- ARGV[4] result JSON text
-- ARGV[5] ttl ms of the finished job (retention + slack; backstop expiry)
-- ARGV[6] events MAXLEN (0 = no events)
-- ARGV[7] idempotencyPrefix
--
-- Returns 1 when completed, 0 when the lease was lost (the job is not running
-- or the token is stale); on 0 nothing changed.

local f = redis.call("HMGET", KEYS[5], "s", "lt", "t", "a", "st")
if f[1] ~= "running" or f[2] ~= ARGV[2] then return 0 end
local now = tonumber(ARGV[3])
redis.call("ZREM", KEYS[1], ARGV[1])
stat(KEYS[3], "running", f[3], -1)
redis.call("HSET", KEYS[5], "r", ARGV[4])
redis.call("HDEL", KEYS[5], "pg")
finish(KEYS[5], KEYS[2], KEYS[3], "completed", f[3], ARGV[1], now, ARGV[7], ARGV[5])
emit(KEYS[4], ARGV[6], "ev", "completed", "id", ARGV[1], "t", f[3], "a", f[4],
  "dur", now - tonumber(f[5]))
return 1
