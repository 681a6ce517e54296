-- maintain.lua: housekeeping, safe to run from many processes at once (each
-- call is atomic and does bounded work): promotes due scheduled jobs, reaps
-- expired leases, and deletes finished jobs past retention.
--
-- KEYS[1]  priorities ZSET (priorities with a non-empty pending list)
-- KEYS[2]  scheduled ZSET
-- KEYS[3]  running ZSET
-- KEYS[4]  completed ZSET
-- KEYS[5]  failed ZSET
-- KEYS[6]  cancelled ZSET
-- KEYS[7]  stats HASH
-- KEYS[8]  wake LIST
-- KEYS[9]  events STREAM
--
-- ARGV[1] jobPrefix
-- ARGV[2] now, epoch ms
-- ARGV[3] max jobs per step (promote, reap, and trim of each finished set)
-- ARGV[4] retention ms
-- ARGV[5] pendingPrefix (pending LISTs are pendingPrefix .. priority, same hash tag)
-- ARGV[6] error history cap
-- ARGV[7] events MAXLEN (0 = no events)
-- ARGV[8] idempotencyPrefix
-- ARGV[9] ttl ms of a finished job (retention + slack)
-- ARGV[10] "1" to trim finished sets this call, "0" to skip (the caller knows
--          from the last trim's reply that nothing can be due yet)
--
-- Returns {promoted, reaped, trimmed, next_due_at, oldest_finished, recovered}
-- where next_due_at is the earliest scheduled due time or lease expiry,
-- oldest_finished is the oldest finish time left in the finished sets (only
-- when trimming ran), -1 meaning none for both; recovered is a flat array, 4
-- entries per reaped job: id, type, attempt, outcome ("pending", "failed" or
-- "cancelled").
-- Each step first peeks at its set's head, so an idle queue costs a handful of
-- O(1) reads per call (runners call this in their idle loop).
-- No error codes.

local now = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local prefix = ARGV[1]
local ttl = ARGV[9]

-- Score of a ZSET's first member, or nil when empty.
local function head(key)
  local r = redis.call("ZRANGE", key, 0, 0, "WITHSCORES")
  if r[2] then return tonumber(r[2]) end
  return nil
end

local pending = {}
local pendingByType = {}

-- Promote due scheduled jobs (delayed enqueue and retry backoff share the set).
local schedHead = head(KEYS[2])
local due = {}
if schedHead and schedHead <= now then
  due = redis.call("ZRANGEBYSCORE", KEYS[2], "-inf", now, "LIMIT", 0, limit)
end
local promotedByType = {}
for _, id in ipairs(due) do
  local key = prefix .. id
  local job = load(key)
  if job then
    job[F_STATE] = PENDING
    save(key, job)
    group(pending, job[F_PRIORITY], id)
    tally(promotedByType, job[F_TYPE])
  end
end
callChunked("ZREM", KEYS[2], due)
statBatch(KEYS[7], "scheduled", promotedByType, -1)
statBatch(KEYS[7], "pending", promotedByType, 1)

-- Reap expired leases: the holder died or stalled; the claim already counted the attempt.
local runHead = head(KEYS[3])
local expired = {}
if runHead and runHead < now then
  expired = redis.call("ZRANGEBYSCORE", KEYS[3], "-inf", "(" .. now, "LIMIT", 0, limit)
end
local requeued = 0
local recovered = {}
local reapedByType = {}
for _, id in ipairs(expired) do
  local key = prefix .. id
  local job = load(key)
  if job then
    local jtype = job[F_TYPE]
    local attempt = tonumber(job[F_ATTEMPTS]) or 0
    local outcome
    tally(reapedByType, jtype)
    pushError(job, attempt, "lease expired", now, ARGV[6])
    job[F_TOKEN] = false
    job[F_LEASE] = false
    job[F_PROGRESS] = false
    if job[F_CANCEL] then
      outcome = "cancelled"
      finish(key, job, KEYS[6], KEYS[7], CANCELLED, id, now, ARGV[8], ttl)
      emit(KEYS[9], ARGV[7], "ev", "cancelled", "id", id, "t", jtype, "a", attempt)
    elseif attempt >= tonumber(job[F_MAX]) then
      outcome = "failed"
      finish(key, job, KEYS[5], KEYS[7], FAILED, id, now, ARGV[8], ttl)
      emit(KEYS[9], ARGV[7], "ev", "dead", "id", id, "t", jtype, "a", attempt,
        "err", "lease expired")
    else
      outcome = "pending"
      job[F_STATE] = PENDING
      save(key, job)
      group(pending, job[F_PRIORITY], id)
      tally(pendingByType, jtype)
      emit(KEYS[9], ARGV[7], "ev", "recovered", "id", id, "t", jtype, "a", attempt)
      requeued = requeued + 1
    end
    recovered[#recovered + 1] = id
    recovered[#recovered + 1] = jtype
    recovered[#recovered + 1] = attempt
    recovered[#recovered + 1] = outcome
  end
end
callChunked("ZREM", KEYS[3], expired)
statBatch(KEYS[7], "running", reapedByType, -1)
statBatch(KEYS[7], "pending", pendingByType, 1)
if requeued > 0 then redis.call("HINCRBY", KEYS[7], "retried", requeued) end
pushPendingGroups(ARGV[5], KEYS[1], pending)
if #due > 0 or requeued > 0 then wake(KEYS[8]) end

-- Retention: drop finished jobs (and their idempotency keys) past their time.
-- Counters stay: completed/failed/cancelled count every job that got there.
local cutoff = now - tonumber(ARGV[4])
local trimmed = 0
local oldest = -1
if ARGV[10] == "1" then
  for k = 4, 6 do
    local h = head(KEYS[k])
    if h and h <= cutoff then
      local old = redis.call("ZRANGEBYSCORE", KEYS[k], "-inf", cutoff, "LIMIT", 0, limit)
      local keys = {}
      for _, id in ipairs(old) do
        local key = prefix .. id
        local job = load(key)
        if job and job[F_IDEM] then
          local idem = ARGV[8] .. job[F_IDEM]
          if redis.call("GET", idem) == id then redis.call("DEL", idem) end
        end
        keys[#keys + 1] = key
      end
      for i = 1, #keys, 1000 do redis.call("DEL", unpack(keys, i, math.min(i + 999, #keys))) end
      callChunked("ZREM", KEYS[k], old)
      trimmed = trimmed + #old
      h = head(KEYS[k])
    end
    if h and (oldest < 0 or h < oldest) then oldest = h end
  end
end

if #due > 0 then schedHead = head(KEYS[2]) end
if #expired > 0 then runHead = head(KEYS[3]) end
local nextDue = -1
if schedHead then nextDue = schedHead end
if runHead and (nextDue < 0 or runHead < nextDue) then nextDue = runHead end
return { #due, #expired, trimmed, string.format("%.0f", nextDue), string.format("%.0f", oldest),
  recovered }
