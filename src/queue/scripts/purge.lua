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
local byType = {}
local unknown = 0
local keys = {}
for _, id in ipairs(ids) do
  local key = ARGV[1] .. id
  local job = load(key)
  if job then
    tally(byType, job[F_TYPE])
    if job[F_IDEM] then
      local idem = ARGV[4] .. job[F_IDEM]
      if redis.call("GET", idem) == id then redis.call("DEL", idem) end
    end
  else
    unknown = unknown + 1
  end
  keys[#keys + 1] = key
end
statBatch(KEYS[2], ARGV[2], byType, -1)
if unknown > 0 then redis.call("HINCRBY", KEYS[2], ARGV[2], -unknown) end
for i = 1, #keys, 1000 do redis.call("DEL", unpack(keys, i, math.min(i + 999, #keys))) end
callChunked("ZREM", KEYS[1], ids)
return #ids
