-- complete.lua: marks running jobs completed with their results, each only if
-- its lease holds. One call acks a whole batch: per job the record is
-- rewritten (with its backstop TTL in the same SET); set moves, counters and
-- the events entry are one command per batch.
--
-- KEYS[1] running: ZSET of running job ids (score = lease expiry ms)
-- KEYS[2] completed: ZSET of completed job ids (score = finish ms)
-- KEYS[3] stats: HASH of counters
-- KEYS[4] events: STREAM of lifecycle events
-- KEYS[5] waiting: ZSET of jobs waiting for dependencies (score = since ms)
-- KEYS[6] priorities: ZSET of the priorities with a non-empty pending list
-- KEYS[7] scheduled: ZSET of job ids waiting for a time (score = due ms)
-- KEYS[8] wake: LIST of wake markers idle runners block on
-- KEYS[9] outbox: ZSET, the flow outbox (dependents in other queues)
-- KEYS[10] durations: HASH, the attempt-duration histogram (_lib.lua tallyDuration)
-- KEYS[11] webhookSubs: HASH, the queue's webhook subscriptions mirror (_webhooks.lua)
-- KEYS[12] webhookDeliveries: HASH of webhook deliveries (id -> MessagePack)
-- KEYS[13] webhookDue: ZSET of webhook deliveries to send (score = due ms)
-- KEYS[14] webhookWake: LIST of wake markers the webhook dispatcher blocks on
--
-- ARGV[1..8] the queue constants (_lib.lua)
-- ARGV[9] now: epoch ms
-- ARGV[10] historyPrefix: the queue's per-minute history HASHes (_lib.lua writeHistory)
-- ARGV[11..] (id, token, resultJson) repeated: job id, lease token, result JSON text
--
-- Returns { acked, events }: one integer per triple, 1 when completed (3
-- when completed and something went to the flow outbox: its outcome for
-- dependents in other queues, or its own end for its dependencies in
-- other queues; also
-- when this token had completed it already: a retried ack whose reply was
-- lost; its event is returned again, not written again), 0 when the lease was
-- lost (the job is not running or the token is stale; nothing changed for
-- it); events as writeEvents returns them. A completed job others depend on
-- (F_DEPENDENTS) releases its dependents of this queue here (_flow.lua).

local runningKey = KEYS[1]
local completedKey = KEYS[2]
local statsKey = KEYS[3]
local eventsKey = KEYS[4]
local waitingKey = KEYS[5]
local prioritiesKey = KEYS[6]
local scheduledKey = KEYS[7]
local wakeKey = KEYS[8]
local outboxKey = KEYS[9]
local durationsKey = KEYS[10]
local webhookSubsKey = KEYS[11]
local webhookDeliveriesKey = KEYS[12]
local webhookDueKey = KEYS[13]
local webhookWakeKey = KEYS[14]
webhookQueue(outboxKey, webhookSubsKey, webhookDeliveriesKey, webhookDueKey, webhookWakeKey)
local now = tonumber(ARGV[9])
local historyPrefix = ARGV[10]
local restFrom = 11

-- The flow keys (_flow.lua), made for the first completed job others depend on.
local flow = nil
local out = {}
local ids = {}
local doneArgs = {}
-- `now` as the string ZADD gets: converted once, not once per job.
local nowArg = string.format("%.0f", now)
local byType = {}
local durations = {}
local completed = eventGroup("completed", { "id", "t", "a", "dur" })
for i = restFrom, #ARGV, 3 do
  local id = ARGV[i]
  local token = ARGV[i + 1]
  local key = jobPrefix .. id
  local job = load(key)
  if job and job[F_STATE] == RUNNING and job[F_TOKEN] == token then
    local dur = runningFor(job, now)
    job[F_RESULT] = ARGV[i + 2]
    job[F_STATE] = COMPLETED
    job[F_FINISHED_AT] = sinceCreated(job, now)
    endLease(job)
    save(key, job, finishedTtlMs)
    webhookFinished(job, id, COMPLETED, now, outboxKey)
    -- The idempotency key lives as long as the job it points at.
    if job[F_IDEMPOTENCY_KEY] then
      redis.call("PEXPIRE", idempotencyPrefix .. job[F_IDEMPOTENCY_KEY], finishedTtlMs)
    end
    local code = 1
    if job[F_DEPS_TOTAL] or job[F_DEPENDENTS] then
      outboxTouched = false
      if job[F_DEPS_TOTAL] then finishedDependent(job, id, now, outboxKey) end
      if job[F_DEPENDENTS] then
        flow = flow or { waiting = waitingKey, priorities = prioritiesKey,
          scheduled = scheduledKey, wake = wakeKey, outbox = outboxKey, stats = statsKey }
        releaseDependents(flow, id, job, now)
      end
      if outboxTouched then code = 3 end
    end
    addEvent(completed, { id, job[F_TYPE], job[F_ATTEMPTS], dur })
    tallyDuration(durations, "completed", job[F_TYPE], dur)
    ids[#ids + 1] = id
    doneArgs[#doneArgs + 1] = nowArg
    doneArgs[#doneArgs + 1] = id
    tally(byType, job[F_TYPE])
    out[#out + 1] = code
  elseif job and job[F_STATE] == COMPLETED and job[F_TOKEN] == token then
    local started = tonumber(job[F_STARTED_AT]) or 0
    local finished = tonumber(job[F_FINISHED_AT]) or started
    replayEvent("completed", { "id", "t", "a", "dur" },
      { id, job[F_TYPE], job[F_ATTEMPTS], finished - started },
      (tonumber(job[F_CREATED_AT]) or now) + finished)
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
callChunked("ZREM", runningKey, ids)
callChunked("ZADD", completedKey, doneArgs)
statBatch(statsKey, "running", byType, -1)
statBatch(statsKey, "completed", byType, 1)
writeDurations(durationsKey, durations)
if #ids > 0 then writeHistory(historyPrefix, now, { c = #ids }) end
return { out, writeEvents(eventsKey, now) }
