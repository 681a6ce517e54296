-- reap_owner.lua: takes back every lease one owner (a worker process) holds,
-- at once: its supervisor saw it die, or it is leaving. The jobs are reaped
-- as an expired lease would be (the attempt stays charged, as for any crash),
-- and the owner is forgotten.
--
-- KEYS[1] priorities: ZSET of the priorities with a non-empty pending list
-- KEYS[2] running: ZSET of running job ids (score = lease expiry ms)
-- KEYS[3] failed: ZSET of dead job ids (score = finish ms)
-- KEYS[4] cancelled: ZSET of cancelled job ids (score = finish ms)
-- KEYS[5] stats: HASH of counters
-- KEYS[6] wake: LIST of wake markers idle runners block on
-- KEYS[7] events: STREAM of lifecycle events
-- KEYS[8] owners: ZSET of lease owners (score = last heartbeat ms)
-- KEYS[9] outbox: ZSET, the flow outbox (a job others depend on goes there when it ends)
-- KEYS[10] webhookSubs: HASH, the queue's webhook subscriptions mirror (_webhooks.lua)
-- KEYS[11] webhookDeliveries: HASH of webhook deliveries (id -> MessagePack)
-- KEYS[12] webhookDue: ZSET of webhook deliveries to send (score = due ms)
-- KEYS[13] webhookWake: LIST of wake markers the webhook dispatcher blocks on
--
-- ARGV[1..8] the queue constants (_lib.lua)
-- ARGV[9] now: epoch ms
-- ARGV[10] owner: the owner whose leases to take back
-- ARGV[11] reason: recorded in each job's error history
-- ARGV[12] historyPrefix: the queue's per-minute history HASHes (reaped jobs count as retried or failed)
--
-- Returns { reaped, events }: how many jobs were taken back; events as
-- writeEvents returns them. No error codes.

local prioritiesKey = KEYS[1]
local runningKey = KEYS[2]
local failedKey = KEYS[3]
local cancelledKey = KEYS[4]
local statsKey = KEYS[5]
local wakeKey = KEYS[6]
local eventsKey = KEYS[7]
local ownersKey = KEYS[8]
local outboxKey = KEYS[9]
local webhookSubsKey = KEYS[10]
local webhookDeliveriesKey = KEYS[11]
local webhookDueKey = KEYS[12]
local webhookWakeKey = KEYS[13]
webhookQueue(outboxKey, webhookSubsKey, webhookDeliveriesKey, webhookDueKey, webhookWakeKey)
local now = tonumber(ARGV[9])
local owner = ARGV[10]
local reason = ARGV[11]
local historyPrefix = ARGV[12]

local r = newReaper({
  priorities = prioritiesKey,
  running = runningKey,
  failed = failedKey,
  cancelled = cancelledKey,
  stats = statsKey,
  wake = wakeKey,
  outbox = outboxKey,
  history = historyPrefix,
}, eventGroup("recovered", { "id", "t", "a", "out" }), eventGroup("failed", { "id", "t", "a", "err" }),
  eventGroup("cancelled", { "id", "t", "a" }))
reap(r, heldBy(runningKey, owner), reason, now)
reapDone(r, now)
redis.call("ZREM", ownersKey, owner)
return { r.count, writeEvents(eventsKey, now) }
