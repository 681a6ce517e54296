-- worker_drain.lua: asks one registered worker process to drain (finish what
-- it runs, claim nothing more, exit 0). The request is written into the
-- worker's own presence record, keeping its expiry, so the worker reads it in
-- the reply of its next beat (a SET ... GET: no polling of its own), and a
-- worker that died meanwhile takes the request with it. The request is also
-- kept beside the record for a few minutes: a beat overwrites the record, so
-- a beat whose reply was lost would lose the request, and the worker reads it
-- there on the beat after a failed one.
--
-- KEYS[1] worker: STRING the worker's presence record JSON (expires with the process)
-- KEYS[2] workerDrain: STRING the request's epoch ms, beside the record
--
-- ARGV[1..8] the queue constants (_lib.lua; unused: no queue key is touched)
-- ARGV[9] now: epoch ms
--
-- Returns { changed, {} }: 1 when the request was written, 0 when one was
-- already there; no events. Error codes: JQ_NOT_FOUND when no such worker
-- is registered (never was, stopped, or its record expired).

local workerKey = KEYS[1]
local workerDrainKey = KEYS[2]
local now = tonumber(ARGV[9])

local raw = redis.call("GET", workerKey)
if not raw then return redis.error_reply("JQ_NOT_FOUND worker") end
local record = cjson.decode(raw)
-- JSON null decodes to cjson.null, which Lua counts as true.
local asked = record.drain_requested_at
if asked ~= nil and asked ~= cjson.null then return { 0, {} } end
record.drain_requested_at = now
redis.call("SET", workerKey, cjson.encode(record), "KEEPTTL")
redis.call("SET", workerDrainKey, now, "PX", 300000)
return { 1, {} }
