-- fail.lua: records a failed attempt of a running job, if the lease holds, and
-- sends the job to scheduled (retry), failed (dead) or cancelled (cancel requested).
--
-- KEYS[1] running ZSET
-- KEYS[2] scheduled ZSET (score = due ms)
-- KEYS[3] failed ZSET (score = finish ms)
-- KEYS[4] cancelled ZSET (score = finish ms)
-- KEYS[5] stats HASH
-- KEYS[6] events STREAM
-- KEYS[7] the job record STRING
--
-- ARGV[1] job id
-- ARGV[2] lease token
-- ARGV[3] now, epoch ms
-- ARGV[4] error message
-- ARGV[5] "1" when retryable, "0" when not
-- ARGV[6] retry delay ms
-- ARGV[7] ttl ms of a finished job (retention + slack)
-- ARGV[8] events MAXLEN (0 = no events)
-- ARGV[9] error history cap
-- ARGV[10] idempotencyPrefix
--
-- Returns "scheduled", "failed" or "cancelled"; 0 when the lease was lost (nothing changed).

local job = loadHeld(KEYS[7], ARGV[2])
if not job then return 0 end
local id = ARGV[1]
local jtype = job[F_TYPE]
local now = tonumber(ARGV[3])
local attempt = tonumber(job[F_ATTEMPTS])
local dur = runningFor(job, now)
redis.call("ZREM", KEYS[1], id)
stat(KEYS[5], "running", jtype, -1)
pushError(job, attempt, ARGV[4], now, ARGV[9])

if job[F_CANCEL] then
  finish(KEYS[7], job, KEYS[4], KEYS[5], CANCELLED, id, now, ARGV[10], ARGV[7])
  emit(KEYS[6], ARGV[8], "ev", "cancelled", "id", id, "t", jtype, "a", attempt, "dur", dur)
  return "cancelled"
end
if ARGV[5] == "1" and attempt < tonumber(job[F_MAX]) then
  local due = now + tonumber(ARGV[6])
  job[F_STATE] = SCHEDULED
  job[F_SCHEDULED] = due
  job[F_TOKEN] = false
  job[F_LEASE] = false
  job[F_PROGRESS] = false
  save(KEYS[7], job)
  redis.call("ZADD", KEYS[2], due, id)
  stat(KEYS[5], "scheduled", jtype, 1)
  redis.call("HINCRBY", KEYS[5], "retried", 1)
  emit(KEYS[6], ARGV[8], "ev", "failed", "id", id, "t", jtype, "a", attempt, "dur", dur,
    "err", ARGV[4], "retry", ARGV[6])
  return "scheduled"
end
finish(KEYS[7], job, KEYS[3], KEYS[5], FAILED, id, now, ARGV[10], ARGV[7])
emit(KEYS[6], ARGV[8], "ev", "dead", "id", id, "t", jtype, "a", attempt, "dur", dur,
  "err", ARGV[4])
return "failed"
