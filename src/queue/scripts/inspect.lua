-- inspect.lua: what a queue's summary needs besides its counters: whether it
-- is paused, and since when its oldest pending job has been ready (Sidekiq's
-- queue latency). Read-only. The oldest ready job is among the heads of the
-- pending lists (FIFO within a priority); it became ready when it was created,
-- or when it came due (a delay or a retry's backoff).
--
-- KEYS[1] meta: HASH of queue metadata (`paused`)
-- KEYS[2] priorities: ZSET of the priorities with a non-empty pending list
--
-- ARGV[1..8] the queue constants (_lib.lua)
--
-- Returns { { paused, oldest_ready_at }, events }: paused 1 or 0;
-- oldest_ready_at epoch ms, -1 when nothing is pending; events is empty. No
-- error codes.

local metaKey = KEYS[1]
local prioritiesKey = KEYS[2]

local paused = redis.call("HGET", metaKey, "paused") == "1"
local oldest = -1
for _, p in ipairs(redis.call("ZRANGE", prioritiesKey, 0, 99)) do
  local id = redis.call("LINDEX", pendingPrefix .. p, 0)
  local job = id and load(jobPrefix .. id)
  if job then
    local readyAt = tonumber(job[F_SCHEDULED_FOR]) or tonumber(job[F_CREATED_AT]) or -1
    if readyAt >= 0 and (oldest < 0 or readyAt < oldest) then oldest = readyAt end
  end
end
return { { paused and 1 or 0, string.format("%.0f", oldest) }, {} }
