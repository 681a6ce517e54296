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

local webhookDeliveriesKey = KEYS[1]
local webhookDueKey = KEYS[2]
local webhookFailedKey = KEYS[3]
local webhookWakeKey = KEYS[4]
local now = tonumber(ARGV[9])
local delivery = ARGV[10]

local raw = redis.call("HGET", webhookDeliveriesKey, delivery)
if not raw or not redis.call("ZSCORE", webhookFailedKey, delivery) then
  return redis.error_reply("JQ_NOT_FOUND " .. delivery)
end
local d = cmsgpack.unpack(raw)
d[6] = 0
d[7] = false
d[11] = false
redis.call("HSET", webhookDeliveriesKey, delivery, cmsgpack.pack(d))
redis.call("ZREM", webhookFailedKey, delivery)
redis.call("ZADD", webhookDueKey, now, delivery)
wake(webhookWakeKey)
return { 1, {} }
