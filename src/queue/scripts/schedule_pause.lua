-- schedule_pause.lua: pauses or resumes one schedule. Pausing takes it out of
-- the due set and bumps its state's version, so a tick a loop decided from the
-- state read before the pause is refused (schedule_cas.lua): no tick is
-- enqueued after the pause returns, on any process. Resuming puts it back at
-- its next tick, which the loops then handle by its catch-up policy (the
-- ticks missed while paused are missed ticks). Tells every scheduler loop.
--
-- KEYS[1] schedules: HASH name -> definition JSON
-- KEYS[2] scheduleState: HASH name -> tick state JSON
-- KEYS[3] scheduleDue: ZSET name -> epoch ms it next needs a loop
--
-- ARGV[1..8] the queue constants (_lib.lua; unused: no queue key is touched)
-- ARGV[9] now: epoch ms
-- ARGV[10] name: the schedule's name
-- ARGV[11] paused: "1" to pause, "0" to resume
-- ARGV[12] channel: the pub/sub channel the loops listen on
--
-- Returns { changed, events }: 1 when the flag changed, 0 when it already
-- was so; events is empty. Error codes: JQ_NOT_FOUND <name>.

local schedulesKey = KEYS[1]
local scheduleStateKey = KEYS[2]
local scheduleDueKey = KEYS[3]
local now = tonumber(ARGV[9])
local name = ARGV[10]
local paused = ARGV[11] == "1"
local channel = ARGV[12]

local raw = redis.call("HGET", scheduleStateKey, name)
if not raw or redis.call("HEXISTS", schedulesKey, name) == 0 then
  return redis.error_reply("JQ_NOT_FOUND " .. name)
end
local state = cjson.decode(raw)
if (state.paused == true) == paused then return { 0, {} } end
state.v = (tonumber(state.v) or 0) + 1
if paused then
  state.paused = true
  redis.call("ZREM", scheduleDueKey, name)
else
  state.paused = nil
  -- Ticks before this instant fell in the pause: missed, however recent (state.ts).
  state.resumed_at = now
  -- A decided tick not yet confirmed is rescued at once.
  if state.pend then
    redis.call("ZADD", scheduleDueKey, now, name)
  elseif tonumber(state.next) > 0 then
    redis.call("ZADD", scheduleDueKey, state.next, name)
  end
end
redis.call("HSET", scheduleStateKey, name, cjson.encode(state))
redis.call("PUBLISH", channel, name)
return { 1, {} }
