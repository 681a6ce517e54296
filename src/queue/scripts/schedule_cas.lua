-- schedule_cas.lua: writes new tick states of any number of schedules, each
-- only if its state is still the version the caller read (compare and set).
-- Deciding a tick and confirming its job both go through here, so of all the
-- loops that read the same state exactly one moves it on: the one whose
-- write wins decides the tick; the others find their write refused and read
-- again. A confirmed job is also added to the schedule's index of jobs,
-- trimmed to the newest `kept` and to the retention time.
--
-- KEYS[1] scheduleState: HASH name -> tick state JSON
-- KEYS[2] scheduleDue: ZSET name -> epoch ms it next needs a loop
-- KEYS[3] scheduleJobs: HASH job id -> JSON [schedule, tick]
--
-- ARGV[1..8] the queue constants (_lib.lua; retentionMs bounds the job index)
-- ARGV[9] now: epoch ms
-- ARGV[10] kept: most job ids indexed per schedule
-- ARGV[11] jobsPrefix: each schedule's job index ZSET is jobsPrefix .. name (same hash tag)
-- ARGV[12..] (name, version, state, due, jobs) per schedule: the version read,
--   the new state JSON (whose own version is version + 1), the due score to
--   set (-1: take it out of the due set), and a JSON array of [job id, tick ms] to
--   index, or ""
--
-- Returns { outcomes, events }: per schedule 1 written, 0 refused (the state
-- changed or is gone); events is empty. No error codes.

local scheduleStateKey = KEYS[1]
local scheduleDueKey = KEYS[2]
local scheduleJobsKey = KEYS[3]
local now = tonumber(ARGV[9])
local kept = tonumber(ARGV[10])
local jobsPrefix = ARGV[11]
local restFrom = 12

local out = {}
for i = restFrom, #ARGV, 5 do
  local name = ARGV[i]
  local version = tonumber(ARGV[i + 1])
  local raw = redis.call("HGET", scheduleStateKey, name)
  if raw and tonumber(cjson.decode(raw).v) == version then
    redis.call("HSET", scheduleStateKey, name, ARGV[i + 2])
    local due = tonumber(ARGV[i + 3])
    if due < 0 then
      redis.call("ZREM", scheduleDueKey, name)
    else
      redis.call("ZADD", scheduleDueKey, due, name)
    end
    if ARGV[i + 4] ~= "" then
      local index = jobsPrefix .. name
      for _, job in ipairs(cjson.decode(ARGV[i + 4])) do
        redis.call("ZADD", index, job[2], job[1])
        redis.call("HSET", scheduleJobsKey, job[1], cjson.encode({ name, job[2] }))
      end
      local old = redis.call("ZRANGEBYSCORE", index, "-inf", now - retentionMs)
      local extra = redis.call("ZCARD", index) - #old - kept
      if extra > 0 then
        for _, id in ipairs(redis.call("ZRANGE", index, #old, #old + extra - 1)) do
          old[#old + 1] = id
        end
      end
      if #old > 0 then
        callChunked("ZREM", index, old)
        callChunked("HDEL", scheduleJobsKey, old)
      end
    end
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return { out, {} }
