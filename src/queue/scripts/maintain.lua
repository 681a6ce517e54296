-- maintain.lua: housekeeping, safe to run from many processes at once (each
-- call is atomic and does bounded work): records the caller's heartbeat,
-- then, in each queue given, promotes due scheduled jobs, reaps expired
-- leases and the leases of owners that stopped heartbeating, and deletes
-- finished jobs past retention. One call serves several queues only where
-- their keys share a slot (standalone Redis: all of them; Cluster: one).
--
-- KEYS[1] owners: ZSET of lease owners (score = last heartbeat ms)
-- KEYS[2..] (priorities, scheduled, running, completed, failed, cancelled, stats, wake, events, outbox, webhookSubs, webhookDeliveries, webhookDue, webhookWake) once per queue:
--   priorities: ZSET of the priorities with a non-empty pending list;
--   scheduled: ZSET of job ids waiting for a time (score = due ms); running:
--   ZSET of running job ids (score = lease expiry ms); completed, failed,
--   cancelled: ZSETs of finished job ids (score = finish ms); stats: HASH of
--   counters; wake: LIST of wake markers idle runners block on; events:
--   STREAM of lifecycle events; outbox: ZSET, the flow outbox (reaped jobs
--   others depend on go there; its jobs are kept past retention);
--   webhookSubs, webhookDeliveries, webhookDue, webhookWake: the queue's
--   webhook keys (a reaped job's end records its deliveries: _webhooks.lua)
--
-- ARGV[1..8] the queue constants (_lib.lua); their prefixes are unused here:
--          each queue's own follow at the end
-- ARGV[9] now: epoch ms
-- ARGV[10] limit: most jobs per step (promote, reap, and trim of each finished set)
-- ARGV[11] owner: the calling process, whose heartbeat this call records; ""
--          for a caller that holds no leases or beats elsewhere (then this
--          call judges nobody from the owners key either)
-- ARGV[12] streakFrom: epoch ms since when the caller's own heartbeats have
--          reached Redis without a gap (the caller keeps count: a gap means
--          it was away, a pause or an outage, and saw nothing meanwhile)
-- ARGV[13] deadAfterMs: an owner the caller has seen silent this long (within
--          its own streak) is dead: its leases are reaped
-- ARGV[14] judged: owners the caller judged dead itself, comma-separated, or ""
--          (on Cluster heartbeats live in the deployment's owners key, which a
--          queue's script cannot read: the caller reads it and names the dead;
--          it also forgets them there)
-- ARGV[15..] (jobPrefix, pendingPrefix, idempotencyPrefix, trim, historyPrefix) once per queue, in the
--          order of KEYS; trim is "1" to trim that queue's finished sets this
--          call, "0" to skip (the caller knows from the last trim's reply that
--          nothing can be due yet); historyPrefix: the queue's per-minute
--          history HASHes, where reaped jobs count as retried or failed
--
-- Returns { results, events }: one result per queue, in order,
-- {promoted, reaped, trimmed, next_due_at, oldest_finished, recovered, running, outbox}
-- where next_due_at is the earliest scheduled due time or lease expiry,
-- oldest_finished is the oldest finish time left in the finished sets (only
-- when trimming ran), -1 meaning none for both; recovered is a flat array, 4
-- entries per reaped job: id, type, attempt, outcome ("pending", "failed" or
-- "cancelled"); running is 1 when some job is running (held by any owner),
-- else 0; outbox is 1 when the queue's flow outbox holds entries (the caller
-- drains it: flow_outbox.ts), else 0; events as writeEvents returns them,
-- every queue's in turn.
-- Each step first peeks at its set's head, so an idle queue costs a handful of
-- O(1) reads per call.
-- No error codes.

local ownersKey = KEYS[1]
local keysFrom = 2
local now = tonumber(ARGV[9])
local limit = tonumber(ARGV[10])
local owner = ARGV[11]
local streakFrom = tonumber(ARGV[12])
local deadAfterMs = tonumber(ARGV[13])
local judged = ARGV[14]
local restFrom = 15

local QUEUE_KEYS = 14
local QUEUE_ARGS = 5
local queueCount = (#KEYS - keysFrom + 1) / QUEUE_KEYS

-- Score of a ZSET's first member, or nil when empty.
local function head(key)
  local r = redis.call("ZRANGE", key, 0, 0, "WITHSCORES")
  if r[2] then return tonumber(r[2]) end
  return nil
end

-- The caller's heartbeat.
if owner ~= "" then redis.call("ZADD", ownersKey, now, owner) end

-- Owners the caller has seen silent too long. What counts is the silence the
-- caller saw while beating itself (since the later of the other's last
-- heartbeat and the start of the caller's own streak): after an outage every
-- owner's last heartbeat is old, and none of them is dead for it. Read once,
-- and only when some queue has a job running (an idle queue pays nothing).
local deadOwners = nil
local function silentOwners()
  if deadOwners then return deadOwners end
  deadOwners = {}
  if judged ~= "" then
    for other in string.gmatch(judged, "[^,]+") do deadOwners[#deadOwners + 1] = other end
  end
  if owner == "" then return deadOwners end
  local silent = redis.call("ZRANGEBYSCORE", ownersKey, "-inf", "(" .. (now - deadAfterMs),
    "WITHSCORES", "LIMIT", 0, 10)
  for i = 1, #silent, 2 do
    local other = silent[i]
    local lastSeen = tonumber(silent[i + 1])
    if other ~= owner and now - math.max(lastSeen, streakFrom) > deadAfterMs then
      deadOwners[#deadOwners + 1] = other
    end
  end
  return deadOwners
end

-- One queue's housekeeping (its prefixes already set); returns its result.
local function maintainQueue(q)
  -- Promote due scheduled jobs (delayed enqueue and retry backoff share the set).
  local schedHead = q.busy and head(q.scheduled) or nil
  local due = {}
  if schedHead and schedHead <= now then
    due = redis.call("ZRANGEBYSCORE", q.scheduled, "-inf", now, "LIMIT", 0, limit)
  end
  local pending = {}
  local promotedByType = {}
  for _, id in ipairs(due) do
    local key = jobPrefix .. id
    local job = load(key)
    if job then
      job[F_STATE] = PENDING
      save(key, job)
      group(pending, job[F_PRIORITY], id)
      tally(promotedByType, job[F_TYPE])
    end
  end
  callChunked("ZREM", q.scheduled, due)
  statBatch(q.stats, "scheduled", promotedByType, -1)
  statBatch(q.stats, "pending", promotedByType, 1)
  pushPendingGroups(q.priorities, pending)
  if #due > 0 then wake(q.wake) end

  -- Groups are written in this order: each recovery comes before the end it led to.
  local r = newReaper({
    priorities = q.priorities,
    running = q.running,
    failed = q.failed,
    cancelled = q.cancelled,
    stats = q.stats,
    wake = q.wake,
    outbox = q.outbox,
    history = q.history,
  }, eventGroup("recovered", { "id", "t", "a", "out" }), eventGroup("failed", { "id", "t", "a", "err" }),
    eventGroup("cancelled", { "id", "t", "a" }))

  -- Reap expired leases: the holder died or stalled; the claim already counted the attempt.
  local runHead = q.busy and head(q.running) or nil
  local reapedExpired = false
  if runHead and runHead < now then
    reap(r, redis.call("ZRANGEBYSCORE", q.running, "-inf", "(" .. now, "LIMIT", 0, limit),
      "lease expired", now)
    reapedExpired = true
  end

  -- Reap the leases of owners that stopped heartbeating (the first queue
  -- with a running job reads who they are).
  if runHead then
    for _, other in ipairs(silentOwners()) do
      reap(r, heldBy(q.running, other), "worker " .. other .. " stopped heartbeating", now)
    end
  end
  reapDone(r, now)

  -- Retention: drop finished jobs (and their idempotency keys) past their time.
  -- Their states' lifetime totals stay; the departures counters go up.
  local cutoff = now - retentionMs
  local trimmed = 0
  local oldest = -1
  if q.trim then
    for s, finishedKey in ipairs({ q.completed, q.failed, q.cancelled }) do
      local h = head(finishedKey)
      if h and h <= cutoff then
        local old = redis.call("ZRANGEBYSCORE", finishedKey, "-inf", cutoff, "LIMIT", 0, limit)
        local types, gone = forget(old, finishedKey, q.outbox, now)
        local byType, unknown = {}, 0
        for _, jtype in ipairs(types) do
          if jtype then tally(byType, jtype) else unknown = unknown + 1 end
        end
        departed(q.stats, ({ "completed", "failed", "cancelled" })[s], byType, unknown)
        callChunked("ZREM", finishedKey, gone)
        trimmed = trimmed + #gone
        h = head(finishedKey)
      end
      if h and (oldest < 0 or h < oldest) then oldest = h end
    end
  end

  if #due > 0 then schedHead = head(q.scheduled) end
  if reapedExpired or r.count > 0 then runHead = head(q.running) end
  local nextDue = -1
  if schedHead then nextDue = schedHead end
  if runHead and (nextDue < 0 or runHead < nextDue) then nextDue = runHead end
  return { #due, r.count, trimmed, string.format("%.0f", nextDue), string.format("%.0f", oldest),
    r.recovered, runHead and 1 or 0, q.outboxed and redis.call("EXISTS", q.outbox) or 0 }
end

-- An idle deployment pays O(1) however many queues it has: when no queue
-- has a scheduled or running job or an outbox entry (an empty ZSET does not exist), one EXISTS
-- says so and promotion and reaping are skipped everywhere; likewise one
-- EXISTS over the finished sets of the queues whose trim is due.
local busyKeys = {}
local finishedKeys = {}
local outboxKeys = {}
for i = 1, queueCount do
  local k = keysFrom + (i - 1) * QUEUE_KEYS
  busyKeys[#busyKeys + 1] = KEYS[k + 1]
  busyKeys[#busyKeys + 1] = KEYS[k + 2]
  busyKeys[#busyKeys + 1] = KEYS[k + 9]
  outboxKeys[#outboxKeys + 1] = KEYS[k + 9]
  if ARGV[restFrom + (i - 1) * QUEUE_ARGS + 3] == "1" then
    for f = 3, 5 do finishedKeys[#finishedKeys + 1] = KEYS[k + f] end
  end
end
local anyBusy = #busyKeys > 0 and redis.call("EXISTS", unpack(busyKeys)) > 0
local anyFinished = #finishedKeys > 0 and redis.call("EXISTS", unpack(finishedKeys)) > 0
-- Outbox entries are rare (a writer delivers its own at once): one EXISTS
-- over every queue's outbox, and a queue's own only when some has one.
local anyOutbox = anyBusy and redis.call("EXISTS", unpack(outboxKeys)) > 0

local results = {}
local events = {}
for i = 1, queueCount do
  local k = keysFrom + (i - 1) * QUEUE_KEYS
  local a = restFrom + (i - 1) * QUEUE_ARGS
  local q = {
    priorities = KEYS[k],
    scheduled = KEYS[k + 1],
    running = KEYS[k + 2],
    completed = KEYS[k + 3],
    failed = KEYS[k + 4],
    cancelled = KEYS[k + 5],
    stats = KEYS[k + 6],
    wake = KEYS[k + 7],
    events = KEYS[k + 8],
    outbox = KEYS[k + 9],
    busy = anyBusy,
    trim = anyFinished and ARGV[a + 3] == "1",
    outboxed = anyOutbox,
    history = ARGV[a + 4],
  }
  webhookQueue(q.outbox, KEYS[k + 10], KEYS[k + 11], KEYS[k + 12], KEYS[k + 13])
  if q.busy or q.trim then
    jobPrefix = ARGV[a]
    pendingPrefix = ARGV[a + 1]
    idempotencyPrefix = ARGV[a + 2]
    eventGroups = {}
    results[i] = maintainQueue(q)
    for _, entry in ipairs(writeEvents(q.events, now)) do events[#events + 1] = entry end
  else
    results[i] = { 0, 0, 0, "-1", "-1", {}, 0, 0 }
  end
end
-- The dead are forgotten once their leases here are taken back (elsewhere
-- their leases expire, or their own maintainers saw them first).
if owner ~= "" and deadOwners and #deadOwners > 0 then callChunked("ZREM", ownersKey, deadOwners) end
return { results, events }
