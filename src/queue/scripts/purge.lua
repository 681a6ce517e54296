-- purge.lua: deletes up to N jobs of one finished state (e.g. empty the dead set).
-- Unlike retention, purging forgets the jobs: their counters go down too.
--
-- KEYS[1] the finished state's ZSET (completed, failed or cancelled)
-- KEYS[2] stats HASH
--
-- ARGV[1] jobPrefix
-- ARGV[2] state name ("completed", "failed" or "cancelled")
-- ARGV[3] max jobs to delete in this call
-- ARGV[4] idempotencyPrefix
--
-- Returns the number deleted (the caller repeats until 0). No error codes.

local ids = redis.call("ZRANGE", KEYS[1], 0, tonumber(ARGV[3]) - 1)
for _, id in ipairs(ids) do
  local key = ARGV[1] .. id
  local f = redis.call("HMGET", key, "t", "ik")
  if f[1] then stat(KEYS[2], ARGV[2], f[1], -1) else redis.call("HINCRBY", KEYS[2], ARGV[2], -1) end
  if f[2] then
    local idem = ARGV[4] .. f[2]
    if redis.call("GET", idem) == id then redis.call("DEL", idem) end
  end
  redis.call("DEL", key)
  redis.call("ZREM", KEYS[1], id)
end
return #ids
