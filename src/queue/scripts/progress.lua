-- progress.lua: records a running job's progress, if the lease holds.
--
-- KEYS[1] the job record STRING
--
-- ARGV[1] lease token
-- ARGV[2] percent (0..100)
--
-- Returns 1 when recorded, 0 when the lease was lost (nothing changed).

local job = loadHeld(KEYS[1], ARGV[1])
if not job then return 0 end
job[F_PROGRESS] = tonumber(ARGV[2])
save(KEYS[1], job)
return 1
