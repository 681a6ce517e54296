-- _limits.lua: flow control inside claim.lua (scripts.ts prepends it to
-- claim.lua only, after _lib.lua). A limit ("max,per_ms,concurrency", 0 =
-- that part absent; src/limits/limit.ts) applies to a queue (field "q" of
-- the queue's limits HASH) or to a job type in it ("t:<type>"). State lives in
-- the queue's slot under limitPrefix (keys.ts), so one claim checks and
-- charges every limit atomically, on Cluster too.
--
-- Rate: a sliding log of claim batches ("<ms>:<starts>", oldest first) and
-- its total starts: a start at `now` is allowed while the starts logged after
-- now - per_ms number fewer than max, so no window of per_ms ever holds more
-- than max starts (bursts of up to max). One entry per claim call, not per
-- job: memory is at most max entries, usually far fewer.
-- Concurrency: the queue's own running counters (stats HASH `running`,
-- `running|<type>`), which every path out of running already maintains
-- (complete, fail, release, the reaper of an expired lease), so a killed
-- worker's slot comes back exactly when its lease is reaped.

-- Entries read per LRANGE while pruning a rate log.
local LOG_PAGE = 32

-- The limit of an encoded spec, or nil when it is malformed; a trailing ",g"
-- makes it per group.
local function parseLimit(text)
  local max, per, conc, g = string.match(text or "", "^(%d+),(%d+),(%d+)(,?g?)$")
  if not max then return nil end
  return { max = tonumber(max), per = tonumber(per), conc = tonumber(conc), perGroup = g == ",g" }
end

-- Groups: a type's per-group limit counts each group's running jobs in a
-- ZSET of their ids (`${limitPrefix}g:<field>`): the stats HASH has no
-- per-group counters, and the ack scripts stay unaware of groups, so the
-- count is taken here and ended jobs are dropped from it as it is read (at
-- most the cap's number of entries plus those ended since the last claim).
local GROUP_KEY_TTL_MS = 24 * 60 * 60 * 1000

-- Running jobs of group scope `field`, forgetting those no longer running.
local function groupRunning(prefix, field, jobPrefix)
  local key = prefix .. "g:" .. field
  local ids = redis.call("ZRANGE", key, 0, -1)
  local gone = {}
  for _, id in ipairs(ids) do
    local raw = redis.call("GET", jobPrefix .. id)
    local job = raw and cmsgpack.unpack(raw)
    if not job or job[F_STATE] ~= RUNNING then gone[#gone + 1] = id end
  end
  if #gone > 0 then redis.call("ZREM", key, unpack(gone)) end
  return #ids - #gone
end

-- Counts a start in its group's running set.
local function groupStarted(prefix, field, id, now)
  local key = prefix .. "g:" .. field
  redis.call("ZADD", key, now, id)
  redis.call("PEXPIRE", key, GROUP_KEY_TTL_MS)
end

-- Starts logged in (now - per, now]; drops older entries.
local function rateUsed(s, now)
  local sum = tonumber(redis.call("GET", s.sumKey) or "0") or 0
  if sum <= 0 then
    -- No total, no log: entries left without one would be subtracted twice.
    redis.call("DEL", s.logKey)
    return 0
  end
  local cutoff = now - s.limit.per
  local drop, dropped = 0, 0
  while true do
    local entries = redis.call("LRANGE", s.logKey, drop, drop + LOG_PAGE - 1)
    local older = 0
    for _, e in ipairs(entries) do
      local t, k = string.match(e, "^(%d+):(%d+)$")
      if tonumber(t) > cutoff then break end
      older = older + 1
      dropped = dropped + tonumber(k)
    end
    drop = drop + older
    if older < LOG_PAGE then break end
  end
  if drop > 0 then
    redis.call("LTRIM", s.logKey, drop, -1)
    sum = redis.call("DECRBY", s.sumKey, dropped)
  end
  return sum
end

-- When the full log of `s` lets one more start in (epoch ms): once enough of
-- its oldest entries leave the window.
local function rateFreeAt(s, used)
  local entries = redis.call("LRANGE", s.logKey, 0, LOG_PAGE - 1)
  local left = used
  local at = nil
  for _, e in ipairs(entries) do
    local t, k = string.match(e, "^(%d+):(%d+)$")
    at = tonumber(t) + s.limit.per
    left = left - tonumber(k)
    if left < s.limit.max then break end
  end
  -- Past the first page: wake then and look again (never later than allowed).
  return at
end

-- One limited scope during a claim: `room` starts left now (math.huge when
-- unbounded; `rateRoom` the rate's share of it, `used` the starts in its
-- window), `why` the first exhausted part ("rate" | "concurrency"), `taken`
-- what this claim started under it.
local function openScope(prefix, field, limit, running, now)
  local s = {
    field = field,
    limit = limit,
    room = math.huge,
    rateRoom = math.huge,
    used = 0,
    taken = 0,
    logKey = prefix .. "r:" .. field,
    sumKey = prefix .. "s:" .. field,
  }
  if limit.conc > 0 then
    s.room = math.max(0, limit.conc - running)
    if s.room == 0 then s.why = "concurrency" end
  end
  if limit.max > 0 and limit.per > 0 then
    s.used = rateUsed(s, now)
    s.rateRoom = math.max(0, limit.max - s.used)
    if s.rateRoom == 0 then s.why = s.why or "rate" end
    if s.rateRoom < s.room then s.room = s.rateRoom end
  end
  return s
end

-- Records what a claim took under `s`: a log entry for its rate.
local function chargeScope(s, now)
  if s.taken == 0 or s.limit.max == 0 or s.limit.per == 0 then return end
  redis.call("RPUSH", s.logKey, string.format("%.0f:%d", now, s.taken))
  redis.call("INCRBY", s.sumKey, s.taken)
  -- An idle scope's log is gone once its window is.
  redis.call("PEXPIRE", s.logKey, s.limit.per + 1000)
  redis.call("PEXPIRE", s.sumKey, s.limit.per + 1000)
end
