-- schedule_due.lua: what a scheduler loop reads when it wakes: the schedules
-- due by now (definition and tick state each), or, when none is, the time the
-- earliest one will be, so the loop sleeps until then. Read-only.
--
-- KEYS[1] scheduleDue: ZSET name -> epoch ms it next needs a loop
-- KEYS[2] schedules: HASH name -> definition JSON
-- KEYS[3] scheduleState: HASH name -> tick state JSON
--
-- ARGV[1..8] the queue constants (_lib.lua; unused: no queue key is touched)
-- ARGV[9] now: epoch ms
-- ARGV[10] limit: most schedules returned; the loop reads again when it got as many
--
-- Returns { { items, earliest }, events }: items is a flat array, name,
-- definition JSON, state JSON (false when missing) per due schedule;
-- earliest is the score of the first schedule not due, or -1 when none is
-- (or when items is not empty); events is empty. No error codes.

local scheduleDueKey = KEYS[1]
local schedulesKey = KEYS[2]
local scheduleStateKey = KEYS[3]
local now = tonumber(ARGV[9])
local limit = tonumber(ARGV[10])

local names = redis.call("ZRANGEBYSCORE", scheduleDueKey, "-inf", now, "LIMIT", 0, limit)
if #names == 0 then
  local first = redis.call("ZRANGE", scheduleDueKey, 0, 0, "WITHSCORES")
  if #first == 0 then return { { {}, -1 }, {} } end
  return { { {}, first[2] }, {} }
end
local definitions = redis.call("HMGET", schedulesKey, unpack(names))
local states = redis.call("HMGET", scheduleStateKey, unpack(names))
local items = {}
for i, name in ipairs(names) do
  items[#items + 1] = name
  items[#items + 1] = definitions[i] or false
  items[#items + 1] = states[i] or false
end
return { { items, -1 }, {} }
