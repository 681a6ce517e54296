-- release.lua: gives leases back without finishing the jobs: running -> pending
-- at the job's own priority (shutdown drain, a co-running job's hard timeout).
--
-- KEYS[1] running ZSET
-- KEYS[2] pending ZSET
-- KEYS[3] failed ZSET (when the attempt is kept and it was the last one)
-- KEYS[4] stats HASH
-- KEYS[5] seq STRING counter
-- KEYS[6] wake LIST
-- KEYS[7] events STREAM
--
-- ARGV[1] jobPrefix
-- ARGV[2] now, epoch ms
-- ARGV[3] "1" to give the attempt back, "0" to keep it counted
-- ARGV[4] reason, recorded in the error history when the attempt is kept
-- ARGV[5] maxPriority
-- ARGV[6] error history cap
-- ARGV[7] events MAXLEN (0 = no events)
-- ARGV[8] ttl ms of a finished job (retention + slack)
-- ARGV[9] idempotencyPrefix
-- ARGV[10..] pairs: job id, lease token
--
-- Returns one integer per pair: 1 released, 0 lease lost (nothing changed).

local now = tonumber(ARGV[2])
local restore = ARGV[3] == "1"
local out = {}
local woke = false
for i = 10, #ARGV, 2 do
  local id = ARGV[i]
  local key = ARGV[1] .. id
  local f = redis.call("HMGET", key, "s", "lt", "t", "p", "a", "m")
  if f[1] == "running" and f[2] == ARGV[i + 1] then
    redis.call("ZREM", KEYS[1], id)
    stat(KEYS[4], "running", f[3], -1)
    redis.call("HDEL", key, "lt", "le", "pg")
    local attempt = tonumber(f[5])
    if restore then
      attempt = attempt - 1
      redis.call("HSET", key, "a", attempt)
    else
      pushError(key, attempt, ARGV[4], now, ARGV[6])
    end
    if (not restore) and attempt >= tonumber(f[6]) then
      -- The kept attempt was the last one: a pending job could never run again.
      finish(key, KEYS[3], KEYS[4], "failed", f[3], id, now, ARGV[9], ARGV[8])
      emit(KEYS[7], ARGV[7], "ev", "dead", "id", id, "t", f[3], "a", attempt, "err", ARGV[4])
    else
      redis.call("HSET", key, "s", "pending")
      pushPending(KEYS[2], KEYS[5], ARGV[5], f[4], id)
      stat(KEYS[4], "pending", f[3], 1)
      emit(KEYS[7], ARGV[7], "ev", "released", "id", id, "t", f[3], "a", attempt)
      woke = true
    end
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
if woke then wake(KEYS[6]) end
return out
