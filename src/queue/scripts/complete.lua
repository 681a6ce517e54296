-- complete.lua: marks running jobs completed with their results, each only if
-- its lease holds. One call acks a whole batch: per job the record is
-- rewritten (with its backstop TTL in the same SET); set moves, counters and
-- the events entry are one command per batch.
--
-- KEYS[1] running ZSET
-- KEYS[2] completed ZSET (score = finish ms)
-- KEYS[3] stats HASH
-- KEYS[4] events STREAM
--
-- ARGV[1] jobPrefix (job records are jobPrefix .. id, same hash tag)
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
local completed = eventBatch("completed", { "id", "t", "a", "dur" })
for i = 6, #ARGV, 3 do
  local id = ARGV[i]
  local key = ARGV[1] .. id
  local job = loadHeld(key, ARGV[i + 1])
  if job then
    local dur = runningFor(job, now)
    job[F_RESULT] = ARGV[i + 2]
    job[F_STATE] = COMPLETED
    job[F_FINISHED] = sinceCreated(job, now)
    job[F_TOKEN] = false
    job[F_LEASE] = false
    job[F_PROGRESS] = false
    save(key, job, ttl)
    -- The idempotency key lives as long as the job it points at.
    if job[F_IDEM] then redis.call("PEXPIRE", ARGV[5] .. job[F_IDEM], ttl) end
    addEvent(completed, { id, job[F_TYPE], job[F_ATTEMPTS], dur })
    ids[#ids + 1] = id
    doneArgs[#doneArgs + 1] = now
    doneArgs[#doneArgs + 1] = id
    tally(byType, job[F_TYPE])
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
callChunked("ZREM", KEYS[1], ids)
callChunked("ZADD", KEYS[2], doneArgs)
statBatch(KEYS[3], "running", byType, -1)
statBatch(KEYS[3], "completed", byType, 1)
flushEvents(KEYS[4], ARGV[4], completed)
return out
