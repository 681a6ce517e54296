-- pause.lua: pauses or resumes a queue. A paused queue keeps accepting jobs
-- and its running jobs finish; claims skip it (claim.lua reads the flag, so
-- every worker stops claiming from it at once, also one blocked waiting).
-- Resuming wakes an idle runner when jobs are pending.
--
-- KEYS[1] meta: HASH of queue metadata (`paused`)
-- KEYS[2] priorities: ZSET of the priorities with a non-empty pending list
-- KEYS[3] wake: LIST of wake markers idle runners block on
--
-- ARGV[1..8] the queue constants (_lib.lua)
-- ARGV[9] paused: "1" to pause, "0" to resume
--
-- Returns { changed, events }: changed is 1 when the flag changed, 0 when it
-- already was so; events is empty (pausing is no job's transition). No error codes.

local metaKey = KEYS[1]
local prioritiesKey = KEYS[2]
local wakeKey = KEYS[3]
local paused = ARGV[9] == "1"

local was = redis.call("HGET", metaKey, "paused") == "1"
if paused == was then return { 0, {} } end
if paused then
  redis.call("HSET", metaKey, "paused", "1")
else
  redis.call("HDEL", metaKey, "paused")
  if redis.call("ZCARD", prioritiesKey) > 0 then wake(wakeKey) end
end
return { 1, {} }
