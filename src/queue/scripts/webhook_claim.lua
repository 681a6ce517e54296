-- webhook_claim.lua: claims due webhook deliveries for one attempt each. A
-- claim pushes the delivery's due time a lease ahead (a dispatcher that dies
-- mid-send leaves it due again then) and gives the attempt a fresh token, so
-- two dispatchers never send the same attempt and a late outcome of an
-- expired attempt is refused (webhook_done.lua).
--
-- KEYS[1] webhookDeliveries: HASH of webhook deliveries (id -> MessagePack, see _webhooks.lua)
-- KEYS[2] webhookDue: ZSET of webhook deliveries to send (score = due ms)
--
-- ARGV[1..8] the queue constants (_lib.lua)
-- ARGV[9] now: epoch ms
-- ARGV[10] max: most deliveries to claim
-- ARGV[11] leaseMs: how long the claim holds
-- ARGV[12] token: the claim's token (unique per call; the delivery id is added)
--
-- Returns { { claimed, next_due }, {} }: claimed is a flat array (delivery id, its
-- MessagePack record with the attempt counted and the token set) per
-- delivery; next_due is the earliest due time left (after the claim), or -1.

local webhookDeliveriesKey = KEYS[1]
local webhookDueKey = KEYS[2]
local now = tonumber(ARGV[9])
local max = tonumber(ARGV[10])
local leaseMs = tonumber(ARGV[11])
local token = ARGV[12]

local out = {}
local lease = {}
for _, did in ipairs(redis.call("ZRANGEBYSCORE", webhookDueKey, "-inf", now, "LIMIT", 0, max)) do
  local raw = redis.call("HGET", webhookDeliveriesKey, did)
  if raw then
    local d = cmsgpack.unpack(raw)
    d[6] = (tonumber(d[6]) or 0) + 1
    d[7] = token
    raw = cmsgpack.pack(d)
    redis.call("HSET", webhookDeliveriesKey, did, raw)
    lease[#lease + 1] = now + leaseMs
    lease[#lease + 1] = did
    out[#out + 1] = did
    out[#out + 1] = raw
  else
    redis.call("ZREM", webhookDueKey, did)
  end
end
callChunked("ZADD", webhookDueKey, lease)
local first = redis.call("ZRANGE", webhookDueKey, 0, 0, "WITHSCORES")
return { { out, first[2] or "-1" }, {} }
