-- worker_prune.lua: drops one worker from the index once its presence record
-- is gone (it died and the record expired). Checked here, atomically: a
-- worker that registers again in between (its record expired in an outage)
-- writes its record before it re-adds itself, so it is never dropped alive.
--
-- KEYS[1] workers: ZSET the index of registered workers (owner id -> registered ms)
-- KEYS[2] worker: STRING the worker's presence record JSON
--
-- ARGV[1..8] the queue constants (_lib.lua; unused: no queue key is touched)
-- ARGV[9] owner: the worker's owner id (its member in the index)
--
-- Returns { dropped, {} }: 1 when the index entry was removed, 0 when the
-- record exists (or the entry was already gone); no events. No error codes.

local workersKey = KEYS[1]
local workerKey = KEYS[2]
local owner = ARGV[9]

if redis.call("EXISTS", workerKey) == 1 then return { 0, {} } end
return { redis.call("ZREM", workersKey, owner), {} }
