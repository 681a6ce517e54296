-- fail.lua: records a failed attempt of a running job, if the lease holds, and
-- sends the job to scheduled (retry), failed (dead) or cancelled (cancel requested).
--
-- KEYS[1] running: ZSET of running job ids (score = lease expiry ms)
-- KEYS[2] scheduled: ZSET of job ids waiting for a time (score = due ms)
-- KEYS[3] failed: ZSET of dead job ids (score = finish ms)
-- KEYS[4] cancelled: ZSET of cancelled job ids (score = finish ms)
-- KEYS[5] stats: HASH of counters
-- KEYS[6] events: STREAM of lifecycle events
-- KEYS[7] job: the job's record STRING
-- KEYS[8] outbox: ZSET, the flow outbox (a job others depend on goes there when it ends)
-- KEYS[9] durations: HASH, the attempt-duration histogram (_lib.lua tallyDuration)
-- KEYS[10] dues: LIST of due times announced to idle runners (standalone Redis)
-- KEYS[11] webhookSubs: HASH, the queue's webhook subscriptions mirror (_webhooks.lua)
-- KEYS[12] webhookDeliveries: HASH of webhook deliveries (id -> MessagePack)
-- KEYS[13] webhookDue: ZSET of webhook deliveries to send (score = due ms)
-- KEYS[14] webhookWake: LIST of wake markers the webhook dispatcher blocks on
--
-- ARGV[1..8] the queue constants (_lib.lua)
-- ARGV[9] id: job id
-- ARGV[10] token: lease token
-- ARGV[11] now: epoch ms
-- ARGV[12] message: the error message
-- ARGV[13] retryable: "1" when the error may be retried, "0" when not
-- ARGV[14] retryDelayMs: delay before the retry
-- ARGV[15] timedOut: "soft" or "hard" when the attempt passed its deadline
--          (a timed_out event comes first), else ""
-- ARGV[16] historyPrefix: the queue's per-minute history HASHes (_lib.lua writeHistory)
--
-- Returns { outcome, events }: outcome "scheduled", "failed" or "cancelled",
-- or 0 when the lease was lost (nothing changed); events as writeEvents
-- returns them. When this token's own fail already ran (a retried ack whose
-- reply was lost), the outcome it reached is returned, with its events again
-- (returned, not written twice), and nothing changes. An end that went to
-- the flow outbox (a job others depend on, or with dependencies elsewhere)
-- returns { { outcome, 1 }, events }: the caller drains the outbox.

local runningKey = KEYS[1]
local scheduledKey = KEYS[2]
local failedKey = KEYS[3]
local cancelledKey = KEYS[4]
local statsKey = KEYS[5]
local eventsKey = KEYS[6]
local jobKey = KEYS[7]
local outboxKey = KEYS[8]
local durationsKey = KEYS[9]
local duesKey = KEYS[10]
local webhookSubsKey = KEYS[11]
local webhookDeliveriesKey = KEYS[12]
local webhookDueKey = KEYS[13]
local webhookWakeKey = KEYS[14]
webhookQueue(outboxKey, webhookSubsKey, webhookDeliveriesKey, webhookDueKey, webhookWakeKey)
local id = ARGV[9]
local token = ARGV[10]
local now = tonumber(ARGV[11])
local message = ARGV[12]
local retryable = ARGV[13] == "1"
local retryDelayMs = tonumber(ARGV[14])
local timedOut = ARGV[15]
local historyPrefix = ARGV[16]

local job = load(jobKey)
if not job or job[F_TOKEN] ~= token then return { 0, {} } end
local jtype = job[F_TYPE]
local attempt = tonumber(job[F_ATTEMPTS])
local state = job[F_STATE]

if state ~= RUNNING then
  -- The token is kept until the job moves on (claimed again, cancelled
  -- while waiting, released, reaped, requeued), so the state is the one this
  -- token's fail left, or a promotion of it (scheduled -> pending).
  local outcome = (state == SCHEDULED or state == PENDING) and "scheduled"
    or state == FAILED and "failed" or state == CANCELLED and "cancelled" or nil
  if not outcome then return { 0, {} } end
  local created = tonumber(job[F_CREATED_AT]) or now
  local hist = job[F_HISTORY]
  local last = type(hist) == "table" and hist[#hist] or nil
  local at = last and tonumber(last[3]) or now
  local dur = at - created - (tonumber(job[F_STARTED_AT]) or (at - created))
  if timedOut ~= "" then
    replayEvent("timed_out", { "id", "t", "a", "dur", "hard" },
      { id, jtype, attempt, dur, timedOut == "hard" and 1 or 0 }, at)
  end
  if outcome == "scheduled" then
    replayEvent("retry_scheduled", { "id", "t", "a", "dur", "err", "retry" },
      { id, jtype, attempt, dur, job[F_ERROR] or message,
        (tonumber(job[F_SCHEDULED_FOR]) or at) - at }, at)
  elseif outcome == "failed" then
    replayEvent("failed", { "id", "t", "a", "dur", "err" },
      { id, jtype, attempt, dur, job[F_ERROR] or message }, at)
  else
    replayEvent("cancelled", { "id", "t", "a", "dur" }, { id, jtype, attempt, dur }, at)
  end
  return { outcome, writeEvents(eventsKey, now) }
end

local dur = runningFor(job, now)
local durations = {}
redis.call("ZREM", runningKey, id)
stat(statsKey, "running", jtype, -1)
pushError(job, attempt, message, now)
if timedOut ~= "" then
  event("timed_out", { "id", "t", "a", "dur", "hard" },
    { id, jtype, attempt, dur, timedOut == "hard" and 1 or 0 })
end

local outcome
if job[F_CANCEL] then
  finish(jobKey, job, cancelledKey, statsKey, CANCELLED, id, now, outboxKey)
  event("cancelled", { "id", "t", "a", "dur" }, { id, jtype, attempt, dur })
  outcome = "cancelled"
  tallyDuration(durations, "cancelled", jtype, dur)
elseif retryable and attempt < tonumber(job[F_MAX_ATTEMPTS]) then
  local due = now + retryDelayMs
  job[F_STATE] = SCHEDULED
  job[F_SCHEDULED_FOR] = due
  endLease(job)
  save(jobKey, job)
  redis.call("ZADD", scheduledKey, due, id)
  announceDue(scheduledKey, duesKey, due)
  stat(statsKey, "scheduled", jtype, 1)
  redis.call("HINCRBY", statsKey, "retried", 1)
  event("retry_scheduled", { "id", "t", "a", "dur", "err", "retry" },
    { id, jtype, attempt, dur, message, retryDelayMs })
  outcome = "scheduled"
  tallyDuration(durations, "retry_scheduled", jtype, dur)
  writeHistory(historyPrefix, now, { r = 1 })
else
  finish(jobKey, job, failedKey, statsKey, FAILED, id, now, outboxKey)
  event("failed", { "id", "t", "a", "dur", "err" }, { id, jtype, attempt, dur, message })
  outcome = "failed"
  tallyDuration(durations, "failed", jtype, dur)
  writeHistory(historyPrefix, now, { f = 1 })
end
writeDurations(durationsKey, durations)
if outboxTouched then return { { outcome, 1 }, writeEvents(eventsKey, now) } end
return { outcome, writeEvents(eventsKey, now) }
