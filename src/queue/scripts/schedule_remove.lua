-- schedule_remove.lua: deletes one schedule: its definition, its tick state,
-- its place in the due set and the index of the jobs it produced (the jobs
-- themselves stay, and expire as any job does). Tells every scheduler loop.
--
-- KEYS[1] schedules: HASH name -> definition JSON
-- KEYS[2] scheduleState: HASH name -> tick state JSON
-- KEYS[3] scheduleDue: ZSET name -> epoch ms it next needs a loop
-- KEYS[4] scheduleJobs: HASH job id -> JSON [schedule, tick]
-- KEYS[5] jobsOfSchedule: ZSET of this schedule's job ids (score = tick ms)
--
-- ARGV[1..8] the queue constants (_lib.lua; unused: no queue key is touched)
-- ARGV[9] name: the schedule's name
-- ARGV[10] channel: the pub/sub channel the loops listen on
--
-- Returns { removed, events }: 1 when it existed, 0 when not; events is
-- empty. No error codes.

local schedulesKey = KEYS[1]
local scheduleStateKey = KEYS[2]
local scheduleDueKey = KEYS[3]
local scheduleJobsKey = KEYS[4]
local jobsOfScheduleKey = KEYS[5]
local name = ARGV[9]
local channel = ARGV[10]

if redis.call("HDEL", schedulesKey, name) == 0 then return { 0, {} } end
redis.call("HDEL", scheduleStateKey, name)
redis.call("ZREM", scheduleDueKey, name)
local ids = redis.call("ZRANGE", jobsOfScheduleKey, 0, -1)
callChunked("HDEL", scheduleJobsKey, ids)
redis.call("DEL", jobsOfScheduleKey)
redis.call("PUBLISH", channel, name)
return { 1, {} }
