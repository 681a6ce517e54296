-- run_now.lua: makes a scheduled job (a delayed submit, or a retry waiting
-- out its backoff) runnable now: out of the scheduled set and onto its
-- priority's pending list in one step, as maintenance's promotion does at
-- its due time, so a crash leaves it either still scheduled or pending.
--
-- KEYS[1] priorities: ZSET of the priorities with a non-empty pending list
-- KEYS[2] scheduled: ZSET of job ids waiting for a time
-- KEYS[3] stats: HASH of counters
-- KEYS[4] wake: LIST of wake markers idle runners block on
-- KEYS[5] job: the job's record STRING
--
-- ARGV[1..8] the queue constants (_lib.lua)
-- ARGV[9] id: job id
--
-- Returns 1.
-- Error codes: JQ_NOT_FOUND; JQ_INVALID_STATE <state> unless scheduled.

local prioritiesKey = KEYS[1]
local scheduledKey = KEYS[2]
local statsKey = KEYS[3]
local wakeKey = KEYS[4]
local jobKey = KEYS[5]
local id = ARGV[9]

local job = load(jobKey)
if not job then return redis.error_reply("JQ_NOT_FOUND " .. id) end
local state = job[F_STATE]
if state ~= SCHEDULED or redis.call("ZREM", scheduledKey, id) == 0 then
  return redis.error_reply("JQ_INVALID_STATE " .. (STATE_NAMES[state] or "unknown"))
end
job[F_STATE] = PENDING
save(jobKey, job)
pushPending(prioritiesKey, job[F_PRIORITY], { id })
stat(statsKey, "scheduled", job[F_TYPE], -1)
stat(statsKey, "pending", job[F_TYPE], 1)
wake(wakeKey)
return 1
