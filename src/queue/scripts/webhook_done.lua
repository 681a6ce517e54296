-- webhook_done.lua: records the outcome of one claimed webhook attempt, if
-- its claim still holds: delivered (the record is dropped; counted, with its
-- latency from the job's end), retry (due again at retryAt), failed (given
-- up: kept in the failed set, bounded by age and count) or dropped (its
-- subscription is gone, or the delivery unreadable: forgotten, and counted
-- apart, so no delivery leaves without a trace in the counters).
--
-- KEYS[1] webhookDeliveries: HASH of webhook deliveries (id -> MessagePack, see _webhooks.lua)
-- KEYS[2] webhookDue: ZSET of webhook deliveries to send (score = due ms)
-- KEYS[3] webhookFailed: ZSET of given-up deliveries (score = given-up ms)
-- KEYS[4] webhookStats: HASH of delivery counters and the latency histogram
--
-- ARGV[1..8] the queue constants (_lib.lua)
-- ARGV[9] now: epoch ms
-- ARGV[10] delivery: the delivery id
-- ARGV[11] token: the claim's token
-- ARGV[12] outcome: "delivered", "retry", "failed" or "dropped"
-- ARGV[13] retryAt: epoch ms of the next attempt (outcome retry)
-- ARGV[14] lastError: what went wrong ("" when delivered)
-- ARGV[15] status: the receiver's HTTP status, or 0 for none
-- ARGV[16] keepFailedMs: how long given-up deliveries are kept
-- ARGV[17] maxFailed: most given-up deliveries kept in this queue
-- ARGV[18] buckets: the latency histogram's upper bounds in seconds, comma-separated
--
-- Returns { 1, {} } when recorded, { 0, {} } when the claim no longer holds (nothing changed).

local webhookDeliveriesKey = KEYS[1]
local webhookDueKey = KEYS[2]
local webhookFailedKey = KEYS[3]
local webhookStatsKey = KEYS[4]
local now = tonumber(ARGV[9])
local delivery = ARGV[10]
local token = ARGV[11]
local outcome = ARGV[12]
local retryAt = tonumber(ARGV[13])
local lastError = ARGV[14]
local status = tonumber(ARGV[15])
local keepFailedMs = tonumber(ARGV[16])
local maxFailed = tonumber(ARGV[17])
local buckets = ARGV[18]

local raw = redis.call("HGET", webhookDeliveriesKey, delivery)
if not raw then return { 0, {} } end
local d = cmsgpack.unpack(raw)
if d[7] ~= token then return { 0, {} } end

if outcome == "delivered" or outcome == "dropped" then
  redis.call("HDEL", webhookDeliveriesKey, delivery)
  redis.call("ZREM", webhookDueKey, delivery)
  if outcome == "delivered" then
    redis.call("HINCRBY", webhookStatsKey, "delivered", 1)
    local seconds = math.max(0, now - (tonumber(d[5]) or now)) / 1000
    local le = "+Inf"
    for bound in string.gmatch(buckets, "[^,]+") do
      if seconds <= tonumber(bound) then le = bound; break end
    end
    redis.call("HINCRBY", webhookStatsKey, "lat:" .. le, 1)
    redis.call("HINCRBY", webhookStatsKey, "lat:count", 1)
    redis.call("HINCRBYFLOAT", webhookStatsKey, "lat:sum", seconds)
  else
    redis.call("HINCRBY", webhookStatsKey, "dropped", 1)
  end
  return { 1, {} }
end

d[7] = false
d[9] = lastError
d[10] = status
if outcome == "retry" then
  redis.call("HSET", webhookDeliveriesKey, delivery, cmsgpack.pack(d))
  redis.call("ZADD", webhookDueKey, retryAt, delivery)
  redis.call("HINCRBY", webhookStatsKey, "retried", 1)
  return { 1, {} }
end

d[11] = now
redis.call("HSET", webhookDeliveriesKey, delivery, cmsgpack.pack(d))
redis.call("ZREM", webhookDueKey, delivery)
redis.call("ZADD", webhookFailedKey, now, delivery)
redis.call("HINCRBY", webhookStatsKey, "failed", 1)
-- Bounded retention: the oldest go first, by age and then by count.
local gone = redis.call("ZRANGEBYSCORE", webhookFailedKey, "-inf", now - keepFailedMs, "LIMIT", 0, 100)
local excess = redis.call("ZCARD", webhookFailedKey) - #gone - maxFailed
if excess > 0 then
  for _, id in ipairs(redis.call("ZRANGE", webhookFailedKey, #gone, #gone + math.min(excess, 100) - 1)) do
    gone[#gone + 1] = id
  end
end
if #gone > 0 then
  callChunked("ZREM", webhookFailedKey, gone)
  callChunked("HDEL", webhookDeliveriesKey, gone)
end
return { 1, {} }
