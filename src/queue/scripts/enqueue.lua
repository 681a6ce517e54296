-- enqueue.lua: adds one or many jobs as pending (or scheduled when they have a
-- due time), in one atomic call. The caller packs each job's record (record.ts)
-- and the whole batch into one argument, so a job costs one SET here; list
-- pushes, the scheduled ZADD, counters, the events entry and the wake marker
-- are a few commands per call.
--
-- KEYS[1] priorities: ZSET of the priorities with a non-empty pending list
-- KEYS[2] scheduled: ZSET of job ids waiting for a time (score = due ms)
-- KEYS[3] stats: HASH of counters
-- KEYS[4] wake: LIST of wake markers idle runners block on
-- KEYS[5] events: STREAM of lifecycle events
-- KEYS[6] meta: HASH of queue metadata (`paused`: no wake marker while paused)
-- KEYS[7] waiting: ZSET of jobs waiting for dependencies (score = since ms)
-- KEYS[8] failed: ZSET of dead job ids (a dependency already failed)
-- KEYS[9] cancelled: ZSET of cancelled job ids (a dependency already failed, policy cancel)
-- KEYS[10] outbox: ZSET, the flow outbox (links into other queues' dependencies)
-- KEYS[11] dues: LIST of due times announced to idle runners (standalone Redis)
-- KEYS[12] webhookSubs: HASH, the queue's webhook subscriptions mirror (_webhooks.lua)
-- KEYS[13] webhookDeliveries: HASH of webhook deliveries (id -> MessagePack)
-- KEYS[14] webhookDue: ZSET of webhook deliveries to send (score = due ms)
-- KEYS[15] webhookWake: LIST of wake markers the webhook dispatcher blocks on
--
-- ARGV[1..8] the queue constants (_lib.lua)
-- ARGV[9] now: epoch ms (the events' time)
-- ARGV[10] strict: "1": a taken caller-chosen id refuses the whole call
--          (JQ_EXISTS, nothing written); "0": only that job is refused (code 2),
--          the others are written (independent single enqueues sharing one call)
-- ARGV[11] jobs: MessagePack, an array with one array per job:
--   [id (UUID), type, priority (0..100), due time epoch ms (0 = ready now),
--   idempotency key or "", true when the id was chosen by the caller (checked
--   for collisions) or false when freshly generated (a random UUID), the packed
--   record (state pending, or scheduled with its due time), for a job with
--   dependencies their ids (else absent, or false when a waiting limit
--   follows; _flow.lua: the job waits, or is ready or ended at once by what
--   they are), and optionally a waiting limit: the job is refused (outcome 3,
--   nothing written) when the queue already holds that many jobs pending,
--   scheduled or waiting (a tenant's quota, src/tenants/quota.ts)]
--
-- Returns { outcomes, events }: one outcome per job, 1 when created, the
-- existing job's id when the idempotency key matched, 2 when a caller-chosen
-- id is taken (non-strict only), 3 when its waiting limit was reached;
-- events as writeEvents returns them.
-- Error codes: JQ_EXISTS <id> (strict: a job with a caller-chosen id already
-- exists); JQ_UNKNOWN_DEPENDENCY <id,...> (a dependency of this queue that
-- no job has; jobs with dependencies are always sent strict); then nothing
-- at all was written.

local prioritiesKey = KEYS[1]
local scheduledKey = KEYS[2]
local statsKey = KEYS[3]
local wakeKey = KEYS[4]
local eventsKey = KEYS[5]
local metaKey = KEYS[6]
local waitingKey = KEYS[7]
local failedKey = KEYS[8]
local cancelledKey = KEYS[9]
local outboxKey = KEYS[10]
local duesKey = KEYS[11]
local webhookSubsKey = KEYS[12]
local webhookDeliveriesKey = KEYS[13]
local webhookDueKey = KEYS[14]
local webhookWakeKey = KEYS[15]
webhookQueue(outboxKey, webhookSubsKey, webhookDeliveriesKey, webhookDueKey, webhookWakeKey)
local now = tonumber(ARGV[9])
local strict = ARGV[10] == "1"
local jobs = cmsgpack.unpack(ARGV[11])

-- Strict: caller-chosen ids must be new, checked before any write so a refused
-- batch leaves nothing behind; a job whose idempotency key already matched is
-- answered from the key instead (a replay of the same request).
if strict then
  for _, j in ipairs(jobs) do
    if j[6] then
      if j[5] == "" or redis.call("EXISTS", idempotencyPrefix .. j[5]) == 0 then
        if redis.call("EXISTS", jobPrefix .. j[1]) == 1 then
          return redis.error_reply("JQ_EXISTS " .. j[1])
        end
      end
    end
  end
end

local unknown = unknownDependencies(jobs)
if unknown then return redis.error_reply("JQ_UNKNOWN_DEPENDENCY " .. unknown) end

local pending = {}
local scheduledArgs = {}
local pendingByType = {}
local scheduledByType = {}
local out = {}
local any = false
local enqueued = eventGroup("enqueued", { "id", "t", "p" })
-- Jobs pending, scheduled or waiting, read only when a job carries a waiting
-- limit (then kept up to date as this call adds jobs).
local held = nil
local function atLimit(limit)
  if not held then
    local counts = redis.call("HMGET", statsKey, "pending", "scheduled", "waiting")
    held = (tonumber(counts[1]) or 0) + (tonumber(counts[2]) or 0) + (tonumber(counts[3]) or 0)
  end
  return held >= limit
end
-- The flow keys and event groups (_flow.lua), made for the first job with dependencies.
local flow = nil
local function flowKeys()
  flow = flow or { waiting = waitingKey, failed = failedKey, cancelled = cancelledKey,
    stats = statsKey, outbox = outboxKey,
    failedEvents = eventGroup("failed", { "id", "t", "a", "err" }),
    cancelledEvents = eventGroup("cancelled", { "id", "t", "a" }) }
  return flow
end

for n, j in ipairs(jobs) do
  local id = j[1]
  local jtype = j[2]
  local priority = j[3]
  local due = j[4]
  local ik = j[5]
  local existing = nil
  if ik ~= "" then existing = redis.call("GET", idempotencyPrefix .. ik) end
  if existing then
    out[n] = existing
  elseif (not strict) and j[6] and redis.call("EXISTS", jobPrefix .. id) == 1 then
    out[n] = 2
  elseif j[9] and atLimit(j[9]) then
    out[n] = 3
  else
    if held then held = held + 1 end
    -- The first enqueue with a key wins; later ones get its id back. The key
    -- lives as long as its job: no expiry until the job finishes, when
    -- finish() gives it the job's retention (a job delayed or retried past
    -- RETENTION_MS keeps answering with its id).
    if ik ~= "" then redis.call("SET", idempotencyPrefix .. ik, id) end
    local record = j[7]
    if j[8] then record = holdForDependencies(flowKeys(), j, now) end
    if record then redis.call("SET", jobPrefix .. id, record) end
    if not record then
      -- Waiting for its dependencies, or ended by one (_flow.lua).
    elseif due > 0 then
      scheduledArgs[#scheduledArgs + 1] = due
      scheduledArgs[#scheduledArgs + 1] = id
      tally(scheduledByType, jtype)
    else
      group(pending, priority, id)
      tally(pendingByType, jtype)
      any = true
    end
    addEvent(enqueued, { id, jtype, priority })
    out[n] = 1
  end
end

pushPendingGroups(prioritiesKey, pending)
callChunked("ZADD", scheduledKey, scheduledArgs)
if #scheduledArgs > 0 then
  local earliest = scheduledArgs[1]
  for i = 3, #scheduledArgs, 2 do earliest = math.min(earliest, scheduledArgs[i]) end
  announceDue(scheduledKey, duesKey, earliest)
end
statBatch(statsKey, "pending", pendingByType, 1)
statBatch(statsKey, "scheduled", scheduledByType, 1)
-- A paused queue wakes nobody: its runners could claim nothing (resume wakes them).
if any and redis.call("HGET", metaKey, "paused") ~= "1" then wake(wakeKey) end
return { out, writeEvents(eventsKey, now) }
