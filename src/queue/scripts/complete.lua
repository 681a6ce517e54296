-- complete.lua: marks running jobs completed with their results, each only if
-- its lease holds. One call acks a whole batch: per job the hash is updated
-- and an event written; set moves and counters are one command per batch.
--
-- KEYS[1] running ZSET
-- KEYS[2] completed ZSET (score = finish ms)
-- KEYS[3] stats HASH
-- KEYS[4] events STREAM
--
-- ARGV[1] jobPrefix (job hashes are jobPrefix .. id, same hash tag)
-- ARGV[2] now, epoch ms
-- ARGV[3] ttl ms of a finished job (retention + slack; backstop expiry)
-- ARGV[4] events MAXLEN (0 = no events)
-- ARGV[5] idempotencyPrefix
-- ARGV[6..] triples: job id, lease token, result JSON text
--
-- Returns one integer per triple: 1 when completed, 0 when the lease was lost
-- (the job is not running or the token is stale); on 0 nothing changed for it.

local now = tonumber(ARGV[2])
local ttl = ARGV[3]
local out = {}
local ids = {}
local doneArgs = {}
local byType = {}
for i = 6, #ARGV, 3 do
  local id = ARGV[i]
  local key = ARGV[1] .. id
  local f = redis.call("HMGET", key, "s", "lt", "t", "a", "st", "ik")
  if f[1] == "running" and f[2] == ARGV[i + 1] then
    redis.call("HSET", key, "r", ARGV[i + 2], "s", "completed", "ft", now)
    redis.call("HDEL", key, "lt", "le", "pg")
    -- Backstop expiry (maintain deletes it at retention); the idempotency key
    -- lives as long as the job it points at.
    redis.call("PEXPIRE", key, ttl)
    if f[6] then redis.call("PEXPIRE", ARGV[5] .. f[6], ttl) end
    emit(KEYS[4], ARGV[4], "ev", "completed", "id", id, "t", f[3], "a", f[4],
      "dur", now - tonumber(f[5]))
    ids[#ids + 1] = id
    doneArgs[#doneArgs + 1] = now
    doneArgs[#doneArgs + 1] = id
    byType[f[3]] = (byType[f[3]] or 0) + 1
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
callChunked("ZREM", KEYS[1], ids)
callChunked("ZADD", KEYS[2], doneArgs)
statBatch(KEYS[3], "running", byType, -1)
statBatch(KEYS[3], "completed", byType, 1)
return out
