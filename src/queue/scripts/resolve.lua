-- resolve.lua: delivers one finished dependency's outcome to its dependents
-- in this queue (the flow outbox's drain, flow_outbox.ts, for a dependency
-- in another queue or one that failed). Each dependent counts it once
-- (_flow.lua's resolveDependency); a dependent it ends (policy fail or
-- cancel) goes to this queue's outbox in turn when others depend on it.
--
-- KEYS[1] waiting: ZSET of jobs waiting for dependencies (score = since ms)
-- KEYS[2] priorities: ZSET of the priorities with a non-empty pending list
-- KEYS[3] scheduled: ZSET of job ids waiting for a time (score = due ms)
-- KEYS[4] failed: ZSET of dead job ids (score = finish ms)
-- KEYS[5] cancelled: ZSET of cancelled job ids (score = finish ms)
-- KEYS[6] stats: HASH of counters
-- KEYS[7] wake: LIST of wake markers idle runners block on
-- KEYS[8] events: STREAM of lifecycle events
-- KEYS[9] outbox: ZSET, the flow outbox
-- KEYS[10] webhookSubs: HASH, the queue's webhook subscriptions mirror (_webhooks.lua)
-- KEYS[11] webhookDeliveries: HASH of webhook deliveries (id -> MessagePack)
-- KEYS[12] webhookDue: ZSET of webhook deliveries to send (score = due ms)
-- KEYS[13] webhookWake: LIST of wake markers the webhook dispatcher blocks on
--
-- ARGV[1..8] the queue constants (_lib.lua)
-- ARGV[9] now: epoch ms
-- ARGV[10] dependency: the finished dependency's id (any queue)
-- ARGV[11] outcome: "c" completed, "f" failed, "x" cancelled (or gone), or
--          "r": it was requeued reviving its dependents (_flow.lua's reviveDependent)
-- ARGV[12] dependencyType: the dependency's type ("" when unknown)
-- ARGV[13] value: its result JSON text (completed) or error message, or ""
-- ARGV[14..] (dependent) repeated: ids of its dependents in this queue
--
-- Returns { delivered, events }: how many dependents were given the outcome
-- (also those that had it already); events as writeEvents returns them.
-- No error codes.

local waitingKey = KEYS[1]
local prioritiesKey = KEYS[2]
local scheduledKey = KEYS[3]
local failedKey = KEYS[4]
local cancelledKey = KEYS[5]
local statsKey = KEYS[6]
local wakeKey = KEYS[7]
local eventsKey = KEYS[8]
local outboxKey = KEYS[9]
local webhookSubsKey = KEYS[10]
local webhookDeliveriesKey = KEYS[11]
local webhookDueKey = KEYS[12]
local webhookWakeKey = KEYS[13]
webhookQueue(outboxKey, webhookSubsKey, webhookDeliveriesKey, webhookDueKey, webhookWakeKey)
local now = tonumber(ARGV[9])
local dependency = ARGV[10]
local outcome = ARGV[11]
local dependencyType = ARGV[12]
local value = ARGV[13]
local restFrom = 14

local flow = {
  waiting = waitingKey,
  priorities = prioritiesKey,
  scheduled = scheduledKey,
  failed = failedKey,
  cancelled = cancelledKey,
  stats = statsKey,
  wake = wakeKey,
  outbox = outboxKey,
  failedEvents = eventGroup("failed", { "id", "t", "a", "err" }),
  cancelledEvents = eventGroup("cancelled", { "id", "t", "a" }),
}
local n = 0
for i = restFrom, #ARGV do
  if outcome == "r" then
    reviveDependent(flow, ARGV[i], dependency, now)
  else
    resolveDependency(flow, ARGV[i], dependency, outcome,
      dependencyType ~= "" and dependencyType or false, value ~= "" and value or false, now)
  end
  n = n + 1
end
return { n, writeEvents(eventsKey, now) }
