-- delete.lua: deletes one finished job (completed, dead or cancelled) at an
-- operator's request, in one step: its record, its flow keys, the
-- idempotency key still pointing at it, and its finished state's ZSET entry,
-- with the state's departures counter moved as retention and purge move it.
-- A crash leaves the job either whole or gone, never half-deleted. A job a
-- worker may hold (pending, scheduled, running, waiting) is refused: it is
-- cancelled first, not pulled from under its holder.
--
-- KEYS[1] completed: ZSET of completed job ids
-- KEYS[2] failed: ZSET of dead job ids
-- KEYS[3] cancelled: ZSET of cancelled job ids
-- KEYS[4] stats: HASH of counters
-- KEYS[5] outbox: ZSET, the flow outbox (a job whose outcome is undelivered is kept)
-- KEYS[6] job: the job's record STRING
--
-- ARGV[1..8] the queue constants (_lib.lua)
-- ARGV[9] id: job id
-- ARGV[10] now: epoch ms
--
-- Returns { state, events }: the finished state it was deleted from; events is always empty.
-- Error codes: JQ_NOT_FOUND; JQ_INVALID_STATE <state> unless finished; JQ_PINNED <state>
-- while a waiting job still depends on it (its outcome is not delivered yet).

local completedKey = KEYS[1]
local failedKey = KEYS[2]
local cancelledKey = KEYS[3]
local statsKey = KEYS[4]
local outboxKey = KEYS[5]
local jobKey = KEYS[6]
local id = ARGV[9]
local now = tonumber(ARGV[10])

local job = load(jobKey)
if not job then return redis.error_reply("JQ_NOT_FOUND " .. id) end
local state = job[F_STATE]
local finishedKey = ({ [COMPLETED] = completedKey, [FAILED] = failedKey,
  [CANCELLED] = cancelledKey })[state]
if not finishedKey then
  return redis.error_reply("JQ_INVALID_STATE " .. (STATE_NAMES[state] or "unknown"))
end
if pinned(job, id, outboxKey) then
  return redis.error_reply("JQ_PINNED " .. STATE_NAMES[state])
end
local types = forget({ id }, finishedKey, outboxKey, now)
local byType = {}
tally(byType, types[1])
departed(statsKey, STATE_NAMES[state], byType, 0)
redis.call("ZREM", finishedKey, id)
return { STATE_NAMES[state], {} }
