-- release.lua: gives leases back without finishing the jobs: running -> pending
-- at the job's own priority (shutdown drain, a co-running job's hard timeout).
--
-- KEYS[1] running: ZSET of running job ids (score = lease expiry ms)
-- KEYS[2] priorities: ZSET of the priorities with a non-empty pending list
-- KEYS[3] failed: ZSET of dead job ids (when the attempt is kept and it was the last one)
-- KEYS[4] stats: HASH of counters
-- KEYS[5] wake: LIST of wake markers idle runners block on
-- KEYS[6] events: STREAM of lifecycle events
-- KEYS[7] outbox: ZSET, the flow outbox (a job others depend on goes there when it ends)
-- KEYS[8] webhookSubs: HASH, the queue's webhook subscriptions mirror (_webhooks.lua)
-- KEYS[9] webhookDeliveries: HASH of webhook deliveries (id -> MessagePack)
-- KEYS[10] webhookDue: ZSET of webhook deliveries to send (score = due ms)
-- KEYS[11] webhookWake: LIST of wake markers the webhook dispatcher blocks on
--
-- ARGV[1..8] the queue constants (_lib.lua)
-- ARGV[9] now: epoch ms
-- ARGV[10] restoreAttempt: "1" to give the attempt back, "0" to keep it counted
-- ARGV[11] reason: why; recorded in the error history when the attempt is kept
-- ARGV[12..] (id, token) repeated: job id, lease token
--
-- Returns { released, events }: one integer per pair, 1 released, 0 lease
-- lost (nothing changed); events as writeEvents returns them.

local runningKey = KEYS[1]
local prioritiesKey = KEYS[2]
local failedKey = KEYS[3]
local statsKey = KEYS[4]
local wakeKey = KEYS[5]
local eventsKey = KEYS[6]
local outboxKey = KEYS[7]
local webhookSubsKey = KEYS[8]
local webhookDeliveriesKey = KEYS[9]
local webhookDueKey = KEYS[10]
local webhookWakeKey = KEYS[11]
webhookQueue(outboxKey, webhookSubsKey, webhookDeliveriesKey, webhookDueKey, webhookWakeKey)
local now = tonumber(ARGV[9])
local restoreAttempt = ARGV[10] == "1"
local reason = ARGV[11]
local restFrom = 12

local out = {}
local pending = {}
local woke = false
local released = eventGroup("released", { "id", "t", "a", "restored", "why" })
local dead = eventGroup("failed", { "id", "t", "a", "err" })
for i = restFrom, #ARGV, 2 do
  local id = ARGV[i]
  local key = jobPrefix .. id
  local job = loadHeld(key, ARGV[i + 1])
  if job then
    local jtype = job[F_TYPE]
    redis.call("ZREM", runningKey, id)
    stat(statsKey, "running", jtype, -1)
    endLease(job)
    dropToken(job)
    local attempt = tonumber(job[F_ATTEMPTS])
    if restoreAttempt then
      attempt = attempt - 1
      job[F_ATTEMPTS] = attempt
    else
      pushError(job, attempt, reason, now)
    end
    if (not restoreAttempt) and attempt >= tonumber(job[F_MAX_ATTEMPTS]) then
      -- The kept attempt was the last one: a pending job could never run again.
      finish(key, job, failedKey, statsKey, FAILED, id, now, outboxKey)
      addEvent(dead, { id, jtype, attempt, reason })
    else
      job[F_STATE] = PENDING
      save(key, job)
      group(pending, job[F_PRIORITY], id)
      stat(statsKey, "pending", jtype, 1)
      addEvent(released, { id, jtype, attempt, restoreAttempt and 1 or 0, reason })
      woke = true
    end
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
pushPendingGroups(prioritiesKey, pending)
if woke then wake(wakeKey) end
return { out, writeEvents(eventsKey, now) }
