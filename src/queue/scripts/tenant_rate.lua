-- tenant_rate.lua: charges `cost` submits to one tenant's submit rate, a GCRA
-- (generic cell rate algorithm: the token bucket kept as one time). The key
-- holds the theoretical arrival time (TAT): when the bucket would be empty.
-- A rate of `max` per `window` ms admits bursts of up to `max` and, sustained,
-- one submit per `interval` = window / max ms.
--
-- KEYS[1] rate: STRING the tenant's TAT, epoch ms (expires when the bucket is full again)
--
-- ARGV[1..8] the queue constants (_lib.lua; unused)
-- ARGV[9] now: epoch ms
-- ARGV[10] interval: ms per submit (window / max, may be fractional)
-- ARGV[11] window: ms (the burst: `max` submits)
-- ARGV[12] cost: submits to charge
--
-- Returns { outcome, {} }: 0 when charged; else the ms to wait before this
-- cost would pass (nothing charged), or -1 when it never can (cost above
-- `max`); no events. No error codes.

local rateKey = KEYS[1]
local now = tonumber(ARGV[9])
local interval = tonumber(ARGV[10])
local window = tonumber(ARGV[11])
local cost = tonumber(ARGV[12])

if interval * cost > window + 0.001 then return { -1, {} } end
local tat = tonumber(redis.call("GET", rateKey)) or now
if tat < now then tat = now end
local nextTat = tat + interval * cost
local excess = nextTat - now - window
if excess > 0 then return { math.ceil(excess), {} } end
redis.call("SET", rateKey, string.format("%.3f", nextTat), "PX", math.ceil(nextTat - now) + 1)
return { 0, {} }
