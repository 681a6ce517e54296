-- cancel.lua: cancels a job. Pending/scheduled: cancelled at once. Running:
-- flagged (cancel requested) and announced on the cancel channel; the runner
-- aborts the handler and its `fail` then lands the job in cancelled.
--
-- KEYS[1] priorities ZSET (priorities with a non-empty pending list)
-- KEYS[2] scheduled ZSET
-- KEYS[3] cancelled ZSET (score = finish ms)
-- KEYS[4] stats HASH
-- KEYS[5] events STREAM
-- KEYS[6] the job record STRING
--
-- ARGV[1] job id
-- ARGV[2] now, epoch ms
-- ARGV[3] cancel pub/sub channel (not a key)
-- ARGV[4] ttl ms of a finished job (retention + slack)
-- ARGV[5] events MAXLEN (0 = no events)
-- ARGV[6] idempotencyPrefix
-- ARGV[7] pendingPrefix (pending LISTs are pendingPrefix .. priority, same hash tag)
--
-- Returns "cancelled" or "cancel_requested".
-- Error codes: JQ_NOT_FOUND; JQ_INVALID_STATE <state> for finished jobs.

local id = ARGV[1]
local job = load(KEYS[6])
if not job then return redis.error_reply("JQ_NOT_FOUND " .. id) end
local state = job[F_STATE]
local now = tonumber(ARGV[2])
if state == PENDING or state == SCHEDULED then
  if state == PENDING then
    -- LREM scans the priority's list: cancelling a pending job is rare.
    removePending(ARGV[7], KEYS[1], job[F_PRIORITY], id)
  else
    redis.call("ZREM", KEYS[2], id)
  end
  stat(KEYS[4], STATE_NAMES[state], job[F_TYPE], -1)
  finish(KEYS[6], job, KEYS[3], KEYS[4], CANCELLED, id, now, ARGV[6], ARGV[4])
  emit(KEYS[5], ARGV[5], "ev", "cancelled", "id", id, "t", job[F_TYPE], "a", job[F_ATTEMPTS] or 0)
  return "cancelled"
end
if state == RUNNING then
  job[F_CANCEL] = true
  save(KEYS[6], job)
  redis.call("PUBLISH", ARGV[3], id)
  return "cancel_requested"
end
return redis.error_reply("JQ_INVALID_STATE " .. (STATE_NAMES[state] or "unknown"))
