-- cancel.lua: cancels a job. Pending/scheduled: cancelled at once. Running:
-- flagged (cancel requested) and announced on the cancel channel; the runner
-- aborts the handler and its `fail` then lands the job in cancelled.
--
-- KEYS[1] priorities: ZSET of the priorities with a non-empty pending list
-- KEYS[2] scheduled: ZSET of job ids waiting for a time (score = due ms)
-- KEYS[3] cancelled: ZSET of cancelled job ids (score = finish ms)
-- KEYS[4] stats: HASH of counters
-- KEYS[5] events: STREAM of lifecycle events
-- KEYS[6] job: the job's record STRING
-- KEYS[7] waiting: ZSET of jobs waiting for dependencies
-- KEYS[8] outbox: ZSET, the flow outbox (the cancel reaches the job's dependents from there)
-- KEYS[9] webhookSubs: HASH, the queue's webhook subscriptions mirror (_webhooks.lua)
-- KEYS[10] webhookDeliveries: HASH of webhook deliveries (id -> MessagePack)
-- KEYS[11] webhookDue: ZSET of webhook deliveries to send (score = due ms)
-- KEYS[12] webhookWake: LIST of wake markers the webhook dispatcher blocks on
--
-- ARGV[1..8] the queue constants (_lib.lua)
-- ARGV[9] id: job id
-- ARGV[10] now: epoch ms
-- ARGV[11] cancelChannel: pub/sub channel (not a key) announcing running jobs to cancel
--
-- Returns { outcome, events }: outcome "cancelled" or "cancel_requested";
-- events as writeEvents returns them.
-- Error codes: JQ_NOT_FOUND; JQ_INVALID_STATE <state> for finished jobs.

local prioritiesKey = KEYS[1]
local scheduledKey = KEYS[2]
local cancelledKey = KEYS[3]
local statsKey = KEYS[4]
local eventsKey = KEYS[5]
local jobKey = KEYS[6]
local waitingKey = KEYS[7]
local outboxKey = KEYS[8]
local webhookSubsKey = KEYS[9]
local webhookDeliveriesKey = KEYS[10]
local webhookDueKey = KEYS[11]
local webhookWakeKey = KEYS[12]
webhookQueue(outboxKey, webhookSubsKey, webhookDeliveriesKey, webhookDueKey, webhookWakeKey)
local id = ARGV[9]
local now = tonumber(ARGV[10])
local cancelChannel = ARGV[11]

local job = load(jobKey)
if not job then return redis.error_reply("JQ_NOT_FOUND " .. id) end
local state = job[F_STATE]
if state == PENDING or state == SCHEDULED or state == WAITING then
  if state == PENDING then
    -- LREM scans the priority's list: cancelling a pending job is rare.
    removePending(prioritiesKey, job[F_PRIORITY], id)
  elseif state == WAITING then
    redis.call("ZREM", waitingKey, id)
  else
    redis.call("ZREM", scheduledKey, id)
  end
  stat(statsKey, STATE_NAMES[state], job[F_TYPE], -1)
  dropToken(job) -- a late ack of the attempt before must not take this cancel for its own
  finish(jobKey, job, cancelledKey, statsKey, CANCELLED, id, now, outboxKey)
  event("cancelled", { "id", "t", "a" }, { id, job[F_TYPE], job[F_ATTEMPTS] or 0 })
  return { "cancelled", writeEvents(eventsKey, now) }
end
if state == RUNNING then
  job[F_CANCEL] = true
  save(jobKey, job)
  redis.call("PUBLISH", cancelChannel, id)
  return { "cancel_requested", {} }
end
return redis.error_reply("JQ_INVALID_STATE " .. (STATE_NAMES[state] or "unknown"))
