-- maintain.lua: housekeeping, safe to run from many processes at once (each
-- call is atomic and does bounded work): promotes due scheduled jobs, reaps
-- expired leases, and deletes finished jobs past retention.
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
--
-- ARGV[1..8] the queue constants (_lib.lua)
-- ARGV[9] now: epoch ms
-- ARGV[10] limit: most jobs per step (promote, reap, and trim of each finished set)
-- ARGV[11] trim: "1" to trim finished sets this call, "0" to skip (the caller
--          knows from the last trim's reply that nothing can be due yet)
--
-- Returns { {promoted, reaped, trimmed, next_due_at, oldest_finished, recovered}, events }
-- where next_due_at is the earliest scheduled due time or lease expiry,
-- oldest_finished is the oldest finish time left in the finished sets (only
-- when trimming ran), -1 meaning none for both; recovered is a flat array, 4
-- entries per reaped job: id, type, attempt, outcome ("pending", "failed" or
-- "cancelled"); events as writeEvents returns them.
-- Each step first peeks at its set's head, so an idle queue costs a handful of
-- O(1) reads per call (runners call this in their idle loop).
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
local now = tonumber(ARGV[9])
local limit = tonumber(ARGV[10])
local trim = ARGV[11] == "1"

-- Score of a ZSET's first member, or nil when empty.
local function head(key)
  local r = redis.call("ZRANGE", key, 0, 0, "WITHSCORES")
  if r[2] then return tonumber(r[2]) end
  return nil
end

local pending = {}
local pendingByType = {}

-- Promote due scheduled jobs (delayed enqueue and retry backoff share the set).
local schedHead = head(scheduledKey)
local due = {}
if schedHead and schedHead <= now then
  due = redis.call("ZRANGEBYSCORE", scheduledKey, "-inf", now, "LIMIT", 0, limit)
end
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

-- Reap expired leases: the holder died or stalled; the claim already counted the attempt.
local runHead = head(runningKey)
local expired = {}
if runHead and runHead < now then
  expired = redis.call("ZRANGEBYSCORE", runningKey, "-inf", "(" .. now, "LIMIT", 0, limit)
end
local requeued = 0
local recovered = {}
local reapedByType = {}
-- Groups are written in this order: each recovery comes before the end it led to.
local recoveredEvents = eventGroup("recovered", { "id", "t", "a", "out" })
local deadEvents = eventGroup("failed", { "id", "t", "a", "err" })
local cancelledEvents = eventGroup("cancelled", { "id", "t", "a" })
for _, id in ipairs(expired) do
  local key = jobPrefix .. id
  local job = load(key)
  if job then
    local jtype = job[F_TYPE]
    local attempt = tonumber(job[F_ATTEMPTS]) or 0
    local outcome
    tally(reapedByType, jtype)
    pushError(job, attempt, "lease expired", now)
    clearLease(job)
    if job[F_CANCEL] then
      outcome = "cancelled"
      finish(key, job, cancelledKey, statsKey, CANCELLED, id, now)
      addEvent(cancelledEvents, { id, jtype, attempt })
    elseif attempt >= tonumber(job[F_MAX_ATTEMPTS]) then
      outcome = "failed"
      finish(key, job, failedKey, statsKey, FAILED, id, now)
      addEvent(deadEvents, { id, jtype, attempt, "lease expired" })
    else
      outcome = "pending"
      job[F_STATE] = PENDING
      save(key, job)
      group(pending, job[F_PRIORITY], id)
      tally(pendingByType, jtype)
      requeued = requeued + 1
    end
    addEvent(recoveredEvents, { id, jtype, attempt, outcome })
    recovered[#recovered + 1] = id
    recovered[#recovered + 1] = jtype
    recovered[#recovered + 1] = attempt
    recovered[#recovered + 1] = outcome
  end
end
callChunked("ZREM", runningKey, expired)
statBatch(statsKey, "running", reapedByType, -1)
statBatch(statsKey, "pending", pendingByType, 1)
if requeued > 0 then redis.call("HINCRBY", statsKey, "retried", requeued) end
pushPendingGroups(prioritiesKey, pending)
if #due > 0 or requeued > 0 then wake(wakeKey) end

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
if #expired > 0 then runHead = head(runningKey) end
local nextDue = -1
if schedHead then nextDue = schedHead end
if runHead and (nextDue < 0 or runHead < nextDue) then nextDue = runHead end
return { { #due, #expired, trimmed, string.format("%.0f", nextDue), string.format("%.0f", oldest),
  recovered }, writeEvents(eventsKey, now) }
