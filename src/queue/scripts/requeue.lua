-- requeue.lua: moves a failed (dead) or cancelled job back to pending with its
-- attempts reset; the error history is kept for the record.
--
-- KEYS[1] priorities ZSET (priorities with a non-empty pending list)
-- KEYS[2] failed ZSET
-- KEYS[3] cancelled ZSET
-- KEYS[4] stats HASH
-- KEYS[5] wake LIST
-- KEYS[6] events STREAM
-- KEYS[7] the job record STRING
--
-- ARGV[1] job id
-- ARGV[2] pendingPrefix (pending LISTs are pendingPrefix .. priority, same hash tag)
-- ARGV[3] events MAXLEN (0 = no events)
-- ARGV[4] idempotencyPrefix
--
-- Returns 1.
-- Error codes: JQ_NOT_FOUND; JQ_INVALID_STATE <state> unless failed or cancelled.

local id = ARGV[1]
local job = load(KEYS[7])
if not job then return redis.error_reply("JQ_NOT_FOUND " .. id) end
local state = job[F_STATE]
local from
if state == FAILED then from = KEYS[2] elseif state == CANCELLED then from = KEYS[3] end
if not from then
  return redis.error_reply("JQ_INVALID_STATE " .. (STATE_NAMES[state] or "unknown"))
end
redis.call("ZREM", from, id)
stat(KEYS[4], STATE_NAMES[state], job[F_TYPE], -1)
-- Alive again: no expiry until it finishes anew (SET without PX drops the TTL).
if job[F_IDEM] then redis.call("PERSIST", ARGV[4] .. job[F_IDEM]) end
for _, f in ipairs({ F_ATTEMPTS, F_STARTED, F_FINISHED, F_RESULT, F_SCHEDULED, F_TOKEN,
  F_LEASE, F_PROGRESS, F_CANCEL }) do
  job[f] = false
end
job[F_STATE] = PENDING
save(KEYS[7], job)
pushPending(ARGV[2], KEYS[1], job[F_PRIORITY], { id })
stat(KEYS[4], "pending", job[F_TYPE], 1)
wake(KEYS[5])
emit(KEYS[6], ARGV[3], "ev", "requeued", "id", id, "t", job[F_TYPE])
return 1
