-- claim.lua: moves up to N ready jobs from pending to running under fresh leases.
--
-- KEYS[1] pending ZSET
-- KEYS[2] running ZSET (score = lease expiry ms)
-- KEYS[3] stats HASH
-- KEYS[4] wake LIST
-- KEYS[5] events STREAM
--
-- ARGV[1] jobPrefix (job hashes are jobPrefix .. id, same hash tag)
-- ARGV[2] max jobs to claim
-- ARGV[3] now, epoch ms
-- ARGV[4] lease ms
-- ARGV[5] token base (random); job i gets token base .. ":" .. i
-- ARGV[6] events MAXLEN (0 = no events)
--
-- Returns a flat array, 11 entries per job:
--   id, type, payload, priority, attempt, max_attempts, timeout_ms, token,
--   lease_expires_at, backoff JSON ("" if none), created_at
-- No error codes.

local now = tonumber(ARGV[3])
local expiry = now + tonumber(ARGV[4])
local popped = redis.call("ZPOPMIN", KEYS[1], ARGV[2])
-- Idle runners call this constantly: an empty claim costs one command, no more.
if #popped == 0 then return {} end
local out = {}
local n = 0
local runningArgs = {}
local byType = {}
for i = 1, #popped, 2 do
  local id = popped[i]
  local key = ARGV[1] .. id
  local f = redis.call("HMGET", key, "t", "d", "p", "m", "to", "bo", "c", "a")
  -- A hash can only be missing if something deleted it behind our back; skip it.
  if f[1] then
    n = n + 1
    local token = ARGV[5] .. ":" .. n
    local attempt = (tonumber(f[8]) or 0) + 1
    redis.call("HSET", key, "a", attempt, "s", "running", "st", now, "lt", token, "le", expiry)
    runningArgs[#runningArgs + 1] = expiry
    runningArgs[#runningArgs + 1] = id
    byType[f[1]] = (byType[f[1]] or 0) + 1
    emit(KEYS[5], ARGV[6], "ev", "started", "id", id, "t", f[1], "a", attempt,
      "q", now - tonumber(f[7]))
    local base = #out
    out[base + 1] = id
    out[base + 2] = f[1]
    out[base + 3] = f[2]
    out[base + 4] = f[3]
    out[base + 5] = attempt
    out[base + 6] = f[4]
    out[base + 7] = f[5]
    out[base + 8] = token
    out[base + 9] = expiry
    out[base + 10] = f[6] or ""
    out[base + 11] = f[7]
  end
end
callChunked("ZADD", KEYS[2], runningArgs)
statBatch(KEYS[3], "pending", byType, -1)
statBatch(KEYS[3], "running", byType, 1)
-- Chain wake: work is left, so let another idle runner take it; with nothing
-- left, drop stale markers so idle runners don't spin on empty claims.
if redis.call("ZCARD", KEYS[1]) > 0 then
  wake(KEYS[4])
else
  redis.call("DEL", KEYS[4])
end
return out
