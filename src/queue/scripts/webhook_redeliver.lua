-- webhook_redeliver.lua: sends a given-up webhook delivery again: out of the
-- failed set, its attempts counted from zero, due now, a dispatcher woken.
-- It keeps its id, so the receiver sees the same webhook-id.
--
-- KEYS[1] webhookDeliveries: HASH of webhook deliveries (id -> MessagePack, see _webhooks.lua)
-- KEYS[2] webhookDue: ZSET of webhook deliveries to send (score = due ms)
-- KEYS[3] webhookFailed: ZSET of given-up deliveries (score = given-up ms)
-- KEYS[4] webhookWake: LIST of wake markers the webhook dispatcher blocks on
--
-- ARGV[1..8] the queue constants (_lib.lua)
-- ARGV[9] now: epoch ms
-- ARGV[10] delivery: the delivery id
--
-- Returns { 1, {} }. Error codes: JQ_NOT_FOUND when it is not a given-up delivery.

local deliveriesKey = KEYS[1]
local dueKey = KEYS[2]
local failedKey = KEYS[3]
local wakeKey = KEYS[4]
local now = tonumber(ARGV[9])
local delivery = ARGV[10]

local raw = redis.call("HGET", deliveriesKey, delivery)
if not raw or not redis.call("ZSCORE", failedKey, delivery) then
  return redis.error_reply("JQ_NOT_FOUND " .. delivery)
end
local d = cmsgpack.unpack(raw)
d[6] = 0
d[7] = false
d[11] = false
redis.call("HSET", deliveriesKey, delivery, cmsgpack.pack(d))
redis.call("ZREM", failedKey, delivery)
redis.call("ZADD", dueKey, now, delivery)
wake(wakeKey)
return { 1, {} }
