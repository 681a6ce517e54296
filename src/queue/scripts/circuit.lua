-- circuit.lua: records the outcomes of jobs whose type has a circuit breaker
-- (flow control, src/limits/limit.ts `circuit`), and moves the breaker: a
-- closed one opens when, over the last window, at least `min` calls ended
-- and the failed share reached the threshold; a half-open one (claim.lua let
-- its probes through once the cooldown ended) closes when every probe
-- succeeded, and opens again at a probe's failure. The breaker's state is a
-- field of the queue's limits HASH (`o:t:<type>`: "open:<until ms>" or
-- "half:<probes left>:<probes ok>"), which every claim there already reads;
-- the window is a HASH of per-tenth-of-window counters. Sent by the broker
-- after the acks (not atomic with them: a process dying in between loses
-- those outcomes, which only delays a transition).
--
-- KEYS[1] limits: HASH of the queue's limits (`c:t:<type>` config, `o:t:<type>` state)
-- KEYS[2] wake: LIST of wake markers idle runners block on
--
-- ARGV[1..8] the queue constants (_lib.lua)
-- ARGV[9] now: epoch ms
-- ARGV[10] limitPrefix: the queue's prefix of flow-control state (keys.ts)
-- ARGV[11..] (jobType, succeeded, failed) once per type
--
-- Returns { transitions, events }: transitions is a flat array, 3 entries
-- per change: type, from ("closed" | "open" | "half_open"), to; events is
-- empty. No error codes.

local limitsKey = KEYS[1]
local wakeKey = KEYS[2]
local now = tonumber(ARGV[9])
local limitPrefix = ARGV[10]
local restFrom = 11

local out = {}
local function moved(jtype, from, to)
  out[#out + 1] = jtype
  out[#out + 1] = from
  out[#out + 1] = to
  redis.call("HINCRBY", limitPrefix .. "n", "t:" .. jtype .. "|transitions", 1)
end

for i = restFrom, #ARGV, 3 do
  local jtype = ARGV[i]
  local ok = tonumber(ARGV[i + 1])
  local failed = tonumber(ARGV[i + 2])
  local config = redis.call("HGET", limitsKey, "c:t:" .. jtype)
  local rate, window, min, cooldown, probes = string.match(config or "", "^(%d+),(%d+),(%d+),(%d+),(%d+)$")
  if rate then
    rate, window, min, cooldown, probes = tonumber(rate), tonumber(window), tonumber(min),
      tonumber(cooldown), tonumber(probes)
    local stateField = "o:t:" .. jtype
    local state = redis.call("HGET", limitsKey, stateField) or ""
    local windowKey = limitPrefix .. "cw:" .. jtype
    if string.sub(state, 1, 5) == "half:" then
      local left, good = string.match(state, "^half:(%d+):(%d+)$")
      good = tonumber(good or "0") + ok
      if failed > 0 then
        redis.call("HSET", limitsKey, stateField, string.format("open:%.0f", now + cooldown))
        moved(jtype, "half_open", "open")
        -- Claimers waiting for the probes learn the new cooldown's end.
        wake(wakeKey)
      elseif good >= probes then
        redis.call("HDEL", limitsKey, stateField)
        redis.call("DEL", windowKey)
        moved(jtype, "half_open", "closed")
        wake(wakeKey)
      else
        redis.call("HSET", limitsKey, stateField, "half:" .. (left or "0") .. ":" .. good)
      end
    elseif state == "" then
      -- Closed: count the window (tenths of it, so old outcomes leave in steps).
      local step = math.max(1, math.floor(window / 10))
      local bucket = math.floor(now / step) * step
      if ok > 0 then redis.call("HINCRBY", windowKey, bucket .. ":ok", ok) end
      if failed > 0 then redis.call("HINCRBY", windowKey, bucket .. ":f", failed) end
      redis.call("PEXPIRE", windowKey, window + step)
      local flat = redis.call("HGETALL", windowKey)
      local goodSum, badSum, old = 0, 0, {}
      for j = 1, #flat, 2 do
        local at, kind = string.match(flat[j], "^(%d+):(%a+)$")
        if tonumber(at) <= now - window then
          old[#old + 1] = flat[j]
        elseif kind == "ok" then
          goodSum = goodSum + tonumber(flat[j + 1])
        else
          badSum = badSum + tonumber(flat[j + 1])
        end
      end
      if #old > 0 then redis.call("HDEL", windowKey, unpack(old)) end
      local total = goodSum + badSum
      if total >= min and badSum * 1000 >= rate * total then
        redis.call("HSET", limitsKey, stateField, string.format("open:%.0f", now + cooldown))
        redis.call("DEL", windowKey)
        moved(jtype, "closed", "open")
      end
    end
    -- Open: outcomes of jobs started before it opened change nothing.
  end
end
return { out, {} }
