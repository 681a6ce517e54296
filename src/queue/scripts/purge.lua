-- purge.lua: deletes up to N jobs of one finished state (e.g. empty the dead set).
-- The state's arrivals counter (its lifetime total) stays; its departures
-- counter (`<state>_gone`, per type too) goes up, so the state holds fewer now.
--
-- KEYS[1] finished: the finished state's ZSET (completed, failed or cancelled)
-- KEYS[2] stats: HASH of counters
-- KEYS[3] outbox: ZSET, the flow outbox (jobs whose outcome is undelivered are kept)
--
-- ARGV[1..8] the queue constants (_lib.lua)
-- ARGV[9] state: the state's name ("completed", "failed" or "cancelled")
-- ARGV[10] limit: most jobs to delete in this call
--
-- Returns { { deleted, examined }, events }: how many were deleted and how
-- many were looked at (the caller repeats while examined reaches limit and
-- some were deleted); a job a waiting job still needs is kept, with a fresh
-- retention (_lib.lua's pinned); events is always empty. No error codes.

local finishedKey = KEYS[1]
local statsKey = KEYS[2]
local outboxKey = KEYS[3]
local state = ARGV[9]
local limit = tonumber(ARGV[10])

local ids = redis.call("ZRANGE", finishedKey, 0, limit - 1)
local byType = {}
local unknown = 0
local types, gone = forget(ids, finishedKey, outboxKey, tonumber(redis.call("TIME")[1]) * 1000)
for _, jtype in ipairs(types) do
  if jtype then tally(byType, jtype) else unknown = unknown + 1 end
end
departed(statsKey, state, byType, unknown)
callChunked("ZREM", finishedKey, gone)
return { { #gone, #ids }, {} }
