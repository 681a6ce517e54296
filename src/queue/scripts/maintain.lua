-- maintain.lua: housekeeping, safe to run from many processes at once (each
-- call is atomic and does bounded work): promotes due scheduled jobs, reaps
-- expired leases, and deletes finished jobs past retention.
--
-- KEYS[1]  pending ZSET
-- KEYS[2]  scheduled ZSET
-- KEYS[3]  running ZSET
-- KEYS[4]  completed ZSET
-- KEYS[5]  failed ZSET
-- KEYS[6]  cancelled ZSET
-- KEYS[7]  stats HASH
-- KEYS[8]  seq STRING counter
-- KEYS[9]  wake LIST
-- KEYS[10] events STREAM
--
-- ARGV[1] jobPrefix
-- ARGV[2] now, epoch ms
-- ARGV[3] max jobs per step (promote, reap, and trim of each finished set)
-- ARGV[4] retention ms
-- ARGV[5] maxPriority
-- ARGV[6] error history cap
-- ARGV[7] events MAXLEN (0 = no events)
-- ARGV[8] idempotencyPrefix
-- ARGV[9] ttl ms of a finished job (retention + slack)
-- ARGV[10] "1" to trim finished sets this call, "0" to skip (the caller knows
--          from the last trim's reply that nothing can be due yet)
--
-- Returns {promoted, reaped, trimmed, next_due_at, oldest_finished} where
-- next_due_at is the earliest scheduled due time or lease expiry, and
-- oldest_finished is the oldest finish time left in the finished sets (only
-- when trimming ran); -1 means none.
-- Each step first peeks at its set's head, so an idle queue costs a handful of
-- O(1) reads per call (runners call this in their idle loop).
-- No error codes.

local now = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local prefix = ARGV[1]

-- Score of a ZSET's first member, or nil when empty.
local function head(key)
  local r = redis.call("ZRANGE", key, 0, 0, "WITHSCORES")
  if r[2] then return tonumber(r[2]) end
  return nil
end

-- Promote due scheduled jobs (delayed enqueue and retry backoff share the set).
local schedHead = head(KEYS[2])
local due = {}
if schedHead and schedHead <= now then
  due = redis.call("ZRANGEBYSCORE", KEYS[2], "-inf", now, "LIMIT", 0, limit)
end
for _, id in ipairs(due) do
  local key = prefix .. id
  redis.call("ZREM", KEYS[2], id)
  local f = redis.call("HMGET", key, "t", "p")
  if f[1] then
    redis.call("HSET", key, "s", "pending")
    pushPending(KEYS[1], KEYS[8], ARGV[5], f[2], id)
    stat(KEYS[7], "scheduled", f[1], -1)
    stat(KEYS[7], "pending", f[1], 1)
  end
end

-- Reap expired leases: the holder died or stalled; the claim already counted the attempt.
local runHead = head(KEYS[3])
local expired = {}
if runHead and runHead < now then
  expired = redis.call("ZRANGEBYSCORE", KEYS[3], "-inf", "(" .. now, "LIMIT", 0, limit)
end
local requeued = 0
for _, id in ipairs(expired) do
  local key = prefix .. id
  redis.call("ZREM", KEYS[3], id)
  local f = redis.call("HMGET", key, "t", "p", "a", "m", "cx")
  if f[1] then
    local attempt = tonumber(f[3])
    stat(KEYS[7], "running", f[1], -1)
    pushError(key, attempt, "lease expired", now, ARGV[6])
    redis.call("HDEL", key, "lt", "le", "pg")
    if f[5] == "1" then
      finish(key, KEYS[6], KEYS[7], "cancelled", f[1], id, now, ARGV[8], ARGV[9])
      emit(KEYS[10], ARGV[7], "ev", "cancelled", "id", id, "t", f[1], "a", attempt)
    elseif attempt >= tonumber(f[4]) then
      finish(key, KEYS[5], KEYS[7], "failed", f[1], id, now, ARGV[8], ARGV[9])
      emit(KEYS[10], ARGV[7], "ev", "dead", "id", id, "t", f[1], "a", attempt,
        "err", "lease expired")
    else
      redis.call("HSET", key, "s", "pending")
      pushPending(KEYS[1], KEYS[8], ARGV[5], f[2], id)
      stat(KEYS[7], "pending", f[1], 1)
      redis.call("HINCRBY", KEYS[7], "retried", 1)
      emit(KEYS[10], ARGV[7], "ev", "recovered", "id", id, "t", f[1], "a", attempt)
      requeued = requeued + 1
    end
  end
end
if #due > 0 or requeued > 0 then wake(KEYS[9]) end

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
      for _, id in ipairs(old) do
        local key = prefix .. id
        local ik = redis.call("HGET", key, "ik")
        if ik then
          local idem = ARGV[8] .. ik
          if redis.call("GET", idem) == id then redis.call("DEL", idem) end
        end
        redis.call("DEL", key)
        redis.call("ZREM", KEYS[k], id)
        trimmed = trimmed + 1
      end
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
return { #due, #expired, trimmed, string.format("%.0f", nextDue), string.format("%.0f", oldest) }
