-- requeue.lua: moves a failed (dead) or cancelled job back to pending with its
-- attempts reset; the error history is kept for the record.
--
-- KEYS[1] priorities: ZSET of the priorities with a non-empty pending list
-- KEYS[2] failed: ZSET of dead job ids
-- KEYS[3] cancelled: ZSET of cancelled job ids
-- KEYS[4] stats: HASH of counters
-- KEYS[5] wake: LIST of wake markers idle runners block on
-- KEYS[6] events: STREAM of lifecycle events
-- KEYS[7] job: the job's record STRING
-- KEYS[8] outbox: ZSET, the flow outbox (a `v:` entry revives the job's dependents)
--
-- ARGV[1..8] the queue constants (_lib.lua)
-- ARGV[9] id: job id
-- ARGV[10] now: epoch ms
-- ARGV[11] revive: "1" to bring back the dependents this job's end took down
--          (through the outbox: _flow.lua's reviveDependent), "0" to leave them ended
--
-- Returns { 1, events }: events as writeEvents returns them.
-- Error codes: JQ_NOT_FOUND; JQ_INVALID_STATE <state> unless failed or cancelled.

local prioritiesKey = KEYS[1]
local failedKey = KEYS[2]
local cancelledKey = KEYS[3]
local statsKey = KEYS[4]
local wakeKey = KEYS[5]
local eventsKey = KEYS[6]
local jobKey = KEYS[7]
local outboxKey = KEYS[8]
local id = ARGV[9]
local now = tonumber(ARGV[10])
local revive = ARGV[11] == "1"

local job = load(jobKey)
if not job then return redis.error_reply("JQ_NOT_FOUND " .. id) end
local state = job[F_STATE]
local from
if state == FAILED then from = failedKey elseif state == CANCELLED then from = cancelledKey end
if not from then
  return redis.error_reply("JQ_INVALID_STATE " .. (STATE_NAMES[state] or "unknown"))
end
redis.call("ZREM", from, id)
-- It leaves the dead (or cancelled) set: a departure; the lifetime total stays.
stat(statsKey, STATE_NAMES[state] .. "_gone", job[F_TYPE], 1)
-- Alive again: no expiry until it finishes anew (SET without PX drops the TTL).
if job[F_IDEMPOTENCY_KEY] then
  redis.call("PERSIST", idempotencyPrefix .. job[F_IDEMPOTENCY_KEY])
end
for _, f in ipairs({ F_ATTEMPTS, F_STARTED_AT, F_FINISHED_AT, F_RESULT, F_SCHEDULED_FOR,
  F_TOKEN, F_LEASE_EXPIRES_AT, F_PROGRESS, F_CANCEL }) do
  job[f] = false
end
job[F_STATE] = PENDING
save(jobKey, job)
pushPending(prioritiesKey, job[F_PRIORITY], { id })
stat(statsKey, "pending", job[F_TYPE], 1)
wake(wakeKey)
if job[F_DEPENDENTS] then
  redis.call("PERSIST", jobPrefix .. id .. ":r")
  if revive then toOutbox(outboxKey, now, "v:" .. id) end
end
if job[F_DEPS_TOTAL] then redis.call("PERSIST", jobPrefix .. id .. ":d") end
event("requeued", { "id", "t" }, { id, job[F_TYPE] })
return { 1, writeEvents(eventsKey, now) }
