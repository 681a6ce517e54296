-- requeue.lua: moves a failed (dead) or cancelled job back to pending with its
-- attempts reset; the error history is kept for the record.
--
-- KEYS[1] pending ZSET
-- KEYS[2] failed ZSET
-- KEYS[3] cancelled ZSET
-- KEYS[4] stats HASH
-- KEYS[5] seq STRING counter
-- KEYS[6] wake LIST
-- KEYS[7] events STREAM
-- KEYS[8] the job HASH
--
-- ARGV[1] job id
-- ARGV[2] maxPriority
-- ARGV[3] events MAXLEN (0 = no events)
-- ARGV[4] idempotencyPrefix
--
-- Returns 1.
-- Error codes: JQ_NOT_FOUND; JQ_INVALID_STATE <state> unless failed or cancelled.

local id = ARGV[1]
local f = redis.call("HMGET", KEYS[8], "s", "t", "p", "ik")
local state = f[1]
if not state then return redis.error_reply("JQ_NOT_FOUND " .. id) end
local from
if state == "failed" then from = KEYS[2] elseif state == "cancelled" then from = KEYS[3] end
if not from then return redis.error_reply("JQ_INVALID_STATE " .. state) end
redis.call("ZREM", from, id)
stat(KEYS[4], state, f[2], -1)
-- Alive again: no expiry until it finishes anew.
redis.call("PERSIST", KEYS[8])
if f[4] then redis.call("PERSIST", ARGV[4] .. f[4]) end
redis.call("HDEL", KEYS[8], "a", "ft", "r", "cx", "st", "lt", "le", "pg", "sf")
redis.call("HSET", KEYS[8], "s", "pending")
pushPending(KEYS[1], KEYS[5], ARGV[2], f[3], id)
stat(KEYS[4], "pending", f[2], 1)
wake(KEYS[6])
emit(KEYS[7], ARGV[3], "ev", "requeued", "id", id, "t", f[2])
return 1
