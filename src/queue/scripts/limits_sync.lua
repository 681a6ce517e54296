-- limits_sync.lua: mirrors the deployment's limits into one queue's slot
-- (flow control, src/limits/limit_store.ts), where claim.lua reads them:
-- the limits that apply here replace the queue's (pauses stay), unless a newer version was
-- mirrored already (two writers racing leave the newest). Sets meta's
-- `limited` while a limit applies or jobs are still parked, so claims of an
-- unlimited queue never read the limits; wakes the waiting claimers, which re-read them.
--
-- KEYS[1] limits: HASH of the queue's limits (field -> "max,per_ms,concurrency")
-- KEYS[2] meta: HASH of queue metadata (`limited`, `limits_v`)
-- KEYS[3] heldTypes: SET of the types with parked jobs
-- KEYS[4] wake: LIST of wake markers idle runners block on
--
-- ARGV[1..8] the queue constants (_lib.lua)
-- ARGV[9] version: the deployment's limits version mirrored
-- ARGV[10..] (field, limit) once per limit that applies to this queue
--
-- Returns { applied, events }: applied is 1, or 0 when a newer version was
-- already there; events is empty. No error codes.

local limitsKey = KEYS[1]
local metaKey = KEYS[2]
local heldTypesKey = KEYS[3]
local wakeKey = KEYS[4]
local version = tonumber(ARGV[9])
local restFrom = 10

local have = tonumber(redis.call("HGET", metaKey, "limits_v")) or -1
if version < have then return { 0, {} } end
-- Pauses a handler asked for (`p:` fields, defer.lua) and circuit breakers'
-- states (`o:`, circuit.lua) are not limits: they stay.
local old = {}
for _, field in ipairs(redis.call("HKEYS", limitsKey)) do
  local kind = string.sub(field, 1, 2)
  if kind ~= "p:" and kind ~= "o:" then old[#old + 1] = field end
end
if #old > 0 then redis.call("HDEL", limitsKey, unpack(old)) end
for i = restFrom, #ARGV, 2 do redis.call("HSET", limitsKey, ARGV[i], ARGV[i + 1]) end
redis.call("HSET", metaKey, "limits_v", version)
if redis.call("EXISTS", limitsKey) == 1 or redis.call("EXISTS", heldTypesKey) == 1 then
  redis.call("HSET", metaKey, "limited", "1")
else
  redis.call("HDEL", metaKey, "limited")
end
-- Every waiting claimer (as many as the wake list holds) looks again, so
-- each learns the new limits (and that a capped queue's job ends wake it).
redis.call("LPUSH", wakeKey, "1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1",
  "1", "1")
redis.call("LTRIM", wakeKey, 0, 15)
if PUBLISH_WAKES then redis.call("PUBLISH", wakeKey, "") end
return { 1, {} }
