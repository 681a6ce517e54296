-- _lib.lua: helpers that scripts.ts prepends to every script (it is not a
-- script by itself). Redis runs each script as one function, so these locals
-- are private to each script; keeping them here means one definition of how
-- counters, events, scores, wake markers and error history work.

-- Adds `delta` to the `<state>` and `<state>|<type>` counters.
local function stat(statsKey, state, jtype, delta)
  redis.call("HINCRBY", statsKey, state, delta)
  redis.call("HINCRBY", statsKey, state .. "|" .. jtype, delta)
end

-- Appends a lifecycle entry to the capped events stream; maxlen 0 disables.
local function emit(eventsKey, maxlen, ...)
  if tonumber(maxlen) > 0 then
    redis.call("XADD", eventsKey, "MAXLEN", "~", maxlen, "*", ...)
  end
end

-- Pending score: priority band then FIFO sequence. Formatted with %.0f because
-- Lua's default number formatting keeps 14 digits and would merge neighbours.
local function pendingScore(maxPriority, priority, seq)
  return string.format("%.0f", (tonumber(maxPriority) - tonumber(priority)) * 1099511627776 + seq)
end

-- Puts a job id into pending at its priority, behind jobs already there.
local function pushPending(pendingKey, seqKey, maxPriority, priority, id)
  local seq = redis.call("INCR", seqKey)
  redis.call("ZADD", pendingKey, pendingScore(maxPriority, priority, seq), id)
end

-- Wakes one idle runner; the list stays short so markers never pile up.
local function wake(wakeKey)
  if redis.call("LPUSH", wakeKey, "1") > 16 then redis.call("LTRIM", wakeKey, 0, 15) end
end

-- Records an attempt's error: `e` = last message, `eh` = [[attempt, message, at_ms], ...].
local function pushError(jobKey, attempt, message, now, cap)
  local raw = redis.call("HGET", jobKey, "eh")
  local hist = {}
  if raw then hist = cjson.decode(raw) end
  hist[#hist + 1] = { tonumber(attempt), message, tonumber(now) }
  while #hist > tonumber(cap) do table.remove(hist, 1) end
  redis.call("HSET", jobKey, "eh", cjson.encode(hist), "e", message)
end

-- Backstop expiry of a finished job (maintain deletes it at retention); the
-- idempotency key lives as long as the job it points at.
local function expireFinished(jobKey, idemPrefix, ttl)
  redis.call("PEXPIRE", jobKey, ttl)
  local ik = redis.call("HGET", jobKey, "ik")
  if ik then redis.call("PEXPIRE", idemPrefix .. ik, ttl) end
end

-- Moves a running job (already removed from running) to a finished state.
local function finish(jobKey, finishedKey, statsKey, state, jtype, id, now, idemPrefix, ttl)
  redis.call("ZADD", finishedKey, now, id)
  redis.call("HSET", jobKey, "s", state, "ft", now)
  redis.call("HDEL", jobKey, "lt", "le")
  stat(statsKey, state, jtype, 1)
  expireFinished(jobKey, idemPrefix, ttl)
end

-- Runs `cmd key <args...>` in chunks, so a big batch never overflows Lua's C
-- stack in unpack (ZADD/ZREM with many members: one call per chunk, not per job).
local function callChunked(cmd, key, args)
  local step = 1000
  for i = 1, #args, step do
    redis.call(cmd, key, unpack(args, i, math.min(i + step - 1, #args)))
  end
end

-- Adds per-type deltas gathered over a batch: one HINCRBY per field, not per job.
local function statBatch(statsKey, state, byType, sign)
  local total = 0
  for jtype, n in pairs(byType) do
    redis.call("HINCRBY", statsKey, state .. "|" .. jtype, sign * n)
    total = total + n
  end
  if total > 0 then redis.call("HINCRBY", statsKey, state, sign * total) end
end
