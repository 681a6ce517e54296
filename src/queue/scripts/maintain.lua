-- maintain.lua: housekeeping, safe to run from many processes at once (each
-- call is atomic and does bounded work): records the caller's heartbeat,
-- promotes due scheduled jobs, reaps expired leases and the leases of owners
-- that stopped heartbeating, and deletes finished jobs past retention.
--
-- KEYS[1] priorities: ZSET of the priorities with a non-empty pending list
-- KEYS[2] scheduled: ZSET of job ids waiting for a time (score = due ms)
-- KEYS[3] running: ZSET of running job ids (score = lease expiry ms)
-- KEYS[4] completed: ZSET of completed job ids (score = finish ms)
-- KEYS[5] failed: ZSET of dead job ids (score = finish ms)
-- KEYS[6] cancelled: ZSET of cancelled job ids (score = finish ms)
-- KEYS[7] stats: HASH of counters
-- KEYS[8] wake: LIST of wake markers idle runners block on
-- KEYS[9] events: STREAM of lifecycle events
-- KEYS[10] owners: ZSET of lease owners (score = last heartbeat ms)
--
-- ARGV[1..8] the queue constants (_lib.lua)
-- ARGV[9] now: epoch ms
-- ARGV[10] limit: most jobs per step (promote, reap, and trim of each finished set)
-- ARGV[11] trim: "1" to trim finished sets this call, "0" to skip (the caller
--          knows from the last trim's reply that nothing can be due yet)
-- ARGV[12] owner: the calling process, whose heartbeat this call records; ""
--          for a caller that holds no leases (then no owner is judged either)
-- ARGV[13] streakFrom: epoch ms since when the caller's own heartbeats have
--          reached Redis without a gap (the caller keeps count: a gap means
--          it was away, a pause or an outage, and saw nothing meanwhile)
-- ARGV[14] deadAfterMs: an owner the caller has seen silent this long (within
--          its own streak) is dead: its leases are reaped
--
-- Returns { {promoted, reaped, trimmed, next_due_at, oldest_finished, recovered, running}, events }
-- where next_due_at is the earliest scheduled due time or lease expiry,
-- oldest_finished is the oldest finish time left in the finished sets (only
-- when trimming ran), -1 meaning none for both; recovered is a flat array, 4
-- entries per reaped job: id, type, attempt, outcome ("pending", "failed" or
-- "cancelled"); running is 1 when some job is running (held by any owner),
-- else 0; events as writeEvents returns them.
-- Each step first peeks at its set's head, so an idle queue costs a handful of
-- O(1) reads per call.
-- No error codes.

local prioritiesKey = KEYS[1]
local scheduledKey = KEYS[2]
local runningKey = KEYS[3]
local completedKey = KEYS[4]
local failedKey = KEYS[5]
local cancelledKey = KEYS[6]
local statsKey = KEYS[7]
local wakeKey = KEYS[8]
local eventsKey = KEYS[9]
local ownersKey = KEYS[10]
local now = tonumber(ARGV[9])
local limit = tonumber(ARGV[10])
local trim = ARGV[11] == "1"
local owner = ARGV[12]
local streakFrom = tonumber(ARGV[13])
local deadAfterMs = tonumber(ARGV[14])

-- Score of a ZSET's first member, or nil when empty.
local function head(key)
  local r = redis.call("ZRANGE", key, 0, 0, "WITHSCORES")
  if r[2] then return tonumber(r[2]) end
  return nil
end

-- The caller's heartbeat.
if owner ~= "" then redis.call("ZADD", ownersKey, now, owner) end

-- Promote due scheduled jobs (delayed enqueue and retry backoff share the set).
local schedHead = head(scheduledKey)
local due = {}
if schedHead and schedHead <= now then
  due = redis.call("ZRANGEBYSCORE", scheduledKey, "-inf", now, "LIMIT", 0, limit)
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
callChunked("ZREM", scheduledKey, due)
statBatch(statsKey, "scheduled", promotedByType, -1)
statBatch(statsKey, "pending", promotedByType, 1)
pushPendingGroups(prioritiesKey, pending)
if #due > 0 then wake(wakeKey) end

-- Groups are written in this order: each recovery comes before the end it led to.
local r = newReaper({
  priorities = prioritiesKey,
  running = runningKey,
  failed = failedKey,
  cancelled = cancelledKey,
  stats = statsKey,
  wake = wakeKey,
}, eventGroup("recovered", { "id", "t", "a", "out" }), eventGroup("failed", { "id", "t", "a", "err" }),
  eventGroup("cancelled", { "id", "t", "a" }))

-- Reap expired leases: the holder died or stalled; the claim already counted the attempt.
local runHead = head(runningKey)
local reapedExpired = false
if runHead and runHead < now then
  reap(r, redis.call("ZRANGEBYSCORE", runningKey, "-inf", "(" .. now, "LIMIT", 0, limit),
    "lease expired", now)
  reapedExpired = true
end

-- Reap the leases of owners that stopped heartbeating. What counts is the
-- silence the caller saw while beating itself (since the later of the other's
-- last heartbeat and the start of the caller's own streak): after an outage
-- every owner's last heartbeat is old, and none of them is dead for it.
-- Nothing running: nobody holds a lease to reap (and an idle queue pays nothing for this).
if owner ~= "" and runHead then
  local silent = redis.call("ZRANGEBYSCORE", ownersKey, "-inf", "(" .. (now - deadAfterMs),
    "WITHSCORES", "LIMIT", 0, 10)
  for i = 1, #silent, 2 do
    local other = silent[i]
    local lastSeen = tonumber(silent[i + 1])
    if other ~= owner and now - math.max(lastSeen, streakFrom) > deadAfterMs then
      reap(r, heldBy(runningKey, other), "worker " .. other .. " stopped heartbeating", now)
      redis.call("ZREM", ownersKey, other)
    end
  end
end
reapDone(r)

-- Retention: drop finished jobs (and their idempotency keys) past their time.
-- Counters stay: completed/failed/cancelled count every job that got there.
local cutoff = now - retentionMs
local trimmed = 0
local oldest = -1
if trim then
  for _, finishedKey in ipairs({ completedKey, failedKey, cancelledKey }) do
    local h = head(finishedKey)
    if h and h <= cutoff then
      local old = redis.call("ZRANGEBYSCORE", finishedKey, "-inf", cutoff, "LIMIT", 0, limit)
      forget(old)
      callChunked("ZREM", finishedKey, old)
      trimmed = trimmed + #old
      h = head(finishedKey)
    end
    if h and (oldest < 0 or h < oldest) then oldest = h end
  end
end

if #due > 0 then schedHead = head(scheduledKey) end
if reapedExpired or r.count > 0 then runHead = head(runningKey) end
local nextDue = -1
if schedHead then nextDue = schedHead end
if runHead and (nextDue < 0 or runHead < nextDue) then nextDue = runHead end
return { { #due, r.count, trimmed, string.format("%.0f", nextDue), string.format("%.0f", oldest),
  r.recovered, runHead and 1 or 0 }, writeEvents(eventsKey, now) }
