-- wake.lua: wakes one idle claimer of the queue (flow control: a job holding
-- a concurrency slot ended, so a claimer sleeping on that limit may start
-- another). A LPUSH, and on Cluster the published wake, as _lib.lua's wake.
--
-- KEYS[1] wake: LIST of wake markers idle runners block on
--
-- ARGV[1..8] the queue constants (_lib.lua)
--
-- Returns { 1, events }: events is empty. No error codes.

local wakeKey = KEYS[1]

wake(wakeKey)
return { 1, {} }
