-- schedule_save.lua: creates or replaces one recurring schedule (its
-- definition and its tick state) and tells every scheduler loop. A
-- definition equal to the stored one changes nothing, so a process that
-- upserts the schedules of its code at every start never moves a tick. A
-- changed cadence restarts the ticks at `firstTick`; any other change keeps
-- the next tick (and a decided tick still to be enqueued), and a pause holds.
-- The schedule's keys are the deployment's (`{#}`), never a queue's: the tick's
-- job is enqueued by the broker afterwards, with an idempotency key.
--
-- KEYS[1] schedules: HASH name -> definition JSON
-- KEYS[2] scheduleState: HASH name -> tick state JSON
-- KEYS[3] scheduleDue: ZSET name -> epoch ms it next needs a loop
--
-- ARGV[1..8] the queue constants (_lib.lua; unused: no queue key is touched)
-- ARGV[9] now: epoch ms
-- ARGV[10] name: the schedule's name
-- ARGV[11] definition: its definition JSON
-- ARGV[12] cadence: the cadence part of the definition (cron, timezone,
--          every_ms, start_at, end_at) as text; the ticks restart when it differs
-- ARGV[13] firstTick: epoch ms of the first tick after now; 0 when none is left
-- ARGV[14] create: "1": refuse an existing name (JQ_EXISTS); "0": create or replace
-- ARGV[15] channel: the pub/sub channel the loops listen on
--
-- Returns { outcome, events }: 1 created, 2 replaced, 0 unchanged; events is
-- empty (a schedule is no job). Error codes: JQ_EXISTS <name> (create only;
-- nothing written).

local schedulesKey = KEYS[1]
local scheduleStateKey = KEYS[2]
local scheduleDueKey = KEYS[3]
local now = tonumber(ARGV[9])
local name = ARGV[10]
local definition = ARGV[11]
local cadence = ARGV[12]
local firstTick = tonumber(ARGV[13])
local create = ARGV[14] == "1"
local channel = ARGV[15]

local stored = redis.call("HGET", schedulesKey, name)
if stored and create then return redis.error_reply("JQ_EXISTS " .. name) end
local raw = redis.call("HGET", scheduleStateKey, name)
if stored == definition and raw then return { 0, {} } end

local state
if raw then
  state = cjson.decode(raw)
  state.v = (tonumber(state.v) or 0) + 1
else
  state = { v = 1, created_at = now }
end
if state.cadence ~= cadence then
  state.cadence = cadence
  state.next = firstTick
end
redis.call("HSET", schedulesKey, name, definition)
redis.call("HSET", scheduleStateKey, name, cjson.encode(state))
if state.paused then
  redis.call("ZREM", scheduleDueKey, name)
elseif state.pend then
  redis.call("ZADD", scheduleDueKey, now, name)
elseif tonumber(state.next) > 0 then
  redis.call("ZADD", scheduleDueKey, state.next, name)
else
  redis.call("ZREM", scheduleDueKey, name)
end
redis.call("PUBLISH", channel, name)
if stored then return { 2, {} } end
return { 1, {} }
