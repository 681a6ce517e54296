-- progress.lua: records a running job's progress, if the lease holds.
--
-- KEYS[1] job: the job's record STRING
-- KEYS[2] events: STREAM of lifecycle events
--
-- ARGV[1..8] the queue constants (_lib.lua)
-- ARGV[9] id: job id
-- ARGV[10] token: lease token
-- ARGV[11] now: epoch ms
-- ARGV[12] percent: 0..100
--
-- Returns { recorded, events }: recorded 1, or 0 when the lease was lost
-- (nothing changed); events as writeEvents returns them.

local jobKey = KEYS[1]
local eventsKey = KEYS[2]
local id = ARGV[9]
local token = ARGV[10]
local now = tonumber(ARGV[11])
-- Kept as text for the event: a Lua number in a reply would be truncated to an integer.
local percent = ARGV[12]

local job = loadHeld(jobKey, token)
if not job then return { 0, {} } end
job[F_PROGRESS] = tonumber(percent)
save(jobKey, job)
event("progress", { "id", "t", "a", "pct" }, { id, job[F_TYPE], job[F_ATTEMPTS], percent })
return { 1, writeEvents(eventsKey, now) }
