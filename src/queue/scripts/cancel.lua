-- cancel.lua: cancels a job. Pending/scheduled: cancelled at once. Running:
-- flagged (cx = "1") and announced on the cancel channel; the runner aborts
-- the handler and its `fail` then lands the job in cancelled.
--
-- KEYS[1] pending ZSET
-- KEYS[2] scheduled ZSET
-- KEYS[3] cancelled ZSET (score = finish ms)
-- KEYS[4] stats HASH
-- KEYS[5] events STREAM
-- KEYS[6] the job HASH
--
-- ARGV[1] job id
-- ARGV[2] now, epoch ms
-- ARGV[3] cancel pub/sub channel (not a key)
-- ARGV[4] ttl ms of a finished job (retention + slack)
-- ARGV[5] events MAXLEN (0 = no events)
-- ARGV[6] idempotencyPrefix
--
-- Returns "cancelled" or "cancel_requested".
-- Error codes: JQ_NOT_FOUND; JQ_INVALID_STATE <state> for finished jobs.

local id = ARGV[1]
local f = redis.call("HMGET", KEYS[6], "s", "t", "a")
local state = f[1]
if not state then return redis.error_reply("JQ_NOT_FOUND " .. id) end
local now = tonumber(ARGV[2])
if state == "pending" or state == "scheduled" then
  local from = KEYS[1]
  if state == "scheduled" then from = KEYS[2] end
  redis.call("ZREM", from, id)
  stat(KEYS[4], state, f[2], -1)
  finish(KEYS[6], KEYS[3], KEYS[4], "cancelled", f[2], id, now, ARGV[6], ARGV[4])
  emit(KEYS[5], ARGV[5], "ev", "cancelled", "id", id, "t", f[2], "a", f[3] or "0")
  return "cancelled"
end
if state == "running" then
  redis.call("HSET", KEYS[6], "cx", "1")
  redis.call("PUBLISH", ARGV[3], id)
  return "cancel_requested"
end
return redis.error_reply("JQ_INVALID_STATE " .. state)
