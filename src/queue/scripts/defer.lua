-- defer.lua: a handler said the service it calls is rate limiting it
-- (RateLimitedError, src/limits/rate_limited_error.ts): running -> scheduled
-- for `delayMs`, the attempt given back (the job never got a fair run), and,
-- when asked, its type or its whole queue paused for that long on every
-- worker: a `p:<field>` entry in the queue's limits HASH that claim.lua obeys
-- (meta's `limited` set so claims read it).
--
-- KEYS[1] running: ZSET of running job ids (score = lease expiry ms)
-- KEYS[2] scheduled: ZSET of job ids waiting for a time (score = due ms)
-- KEYS[3] stats: HASH of counters
-- KEYS[4] events: STREAM of lifecycle events
-- KEYS[5] job: STRING, the job's record
-- KEYS[6] limits: HASH of the queue's limits (flow control)
-- KEYS[7] meta: HASH of queue metadata (`limited`)
-- KEYS[8] dues: LIST of due times announced to idle runners (standalone Redis)
--
-- ARGV[1..8] the queue constants (_lib.lua)
-- ARGV[9] id: the job id
-- ARGV[10] token: the lease token
-- ARGV[11] now: epoch ms
-- ARGV[12] delayMs: how long until it runs again (clamped by the caller)
-- ARGV[13] pauseField: "" or the limits field to pause ("t:<type>" or "q")
--
-- Returns { deferred, events }: deferred is 1, or 0 when the lease was lost
-- (nothing changed); events as writeEvents returns them.

local runningKey = KEYS[1]
local scheduledKey = KEYS[2]
local statsKey = KEYS[3]
local eventsKey = KEYS[4]
local jobKey = KEYS[5]
local limitsKey = KEYS[6]
local metaKey = KEYS[7]
local duesKey = KEYS[8]
local id = ARGV[9]
local token = ARGV[10]
local now = tonumber(ARGV[11])
local delayMs = tonumber(ARGV[12])
local pauseField = ARGV[13]

local job = loadHeld(jobKey, token)
if not job then return { 0, {} } end
local jtype = job[F_TYPE]
local due = now + delayMs
redis.call("ZREM", runningKey, id)
stat(statsKey, "running", jtype, -1)
endLease(job)
dropToken(job)
local attempt = tonumber(job[F_ATTEMPTS]) - 1
job[F_ATTEMPTS] = attempt
job[F_STATE] = SCHEDULED
job[F_SCHEDULED_FOR] = due
save(jobKey, job)
redis.call("ZADD", scheduledKey, due, id)
stat(statsKey, "scheduled", jtype, 1)
announceDue(scheduledKey, duesKey, due)
if pauseField ~= "" then
  local field = "p:" .. pauseField
  local pausedUntil = tonumber(redis.call("HGET", limitsKey, field)) or 0
  if due > pausedUntil then redis.call("HSET", limitsKey, field, string.format("%.0f", due)) end
  redis.call("HSET", metaKey, "limited", "1")
end
local released = eventGroup("released", { "id", "t", "a", "restored", "why" })
addEvent(released, { id, jtype, attempt, 1, "rate limited: runs again in " .. delayMs .. " ms" })
return { 1, writeEvents(eventsKey, now) }
