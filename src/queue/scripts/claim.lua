-- claim.lua: moves up to N ready jobs from pending to running under fresh
-- leases, from one or more queues tried in the order given (the caller's
-- weighted or strict order): a paused queue is skipped; within a queue the
-- highest priority first (the priorities ZSET), FIFO within a priority (LPOP
-- from its list). One call serves several queues only where their keys share
-- a slot (standalone Redis: all of them; Cluster: one queue per call).
--
-- KEYS[1] owners: ZSET of lease owners (score = last heartbeat ms)
-- KEYS[2..] (priorities, running, stats, wake, events, meta, heldTypes, limits) once per queue, in claim order:
--   priorities: ZSET of the priorities with a non-empty pending list;
--   running: ZSET of running job ids (score = lease expiry ms); stats: HASH of
--   counters; wake: LIST of wake markers idle runners block on; events: STREAM
--   of lifecycle events; meta: HASH of queue metadata (`paused`, `limited`);
--   heldTypes: SET of types with parked jobs; limits: HASH of the queue's
--   limits (flow control, _limits.lua; read only while meta's `limited` is "1")
--
-- ARGV[1..8] the queue constants (_lib.lua); their prefixes are unused here:
--          each queue's own follow at the end
-- ARGV[9] max: most jobs to claim, over all the queues
-- ARGV[10] now: epoch ms
-- ARGV[11] leaseMs: lease length
-- ARGV[12] tokenBase: random; job i gets tokenBase .. ":" .. i
-- ARGV[13] clockOffsetMs: or "" to use now. Set when the call was sent
--          behind a blocking wait and runs whenever that wait ends: "now" is
--          then this server's TIME minus the caller's measured offset (server
--          clock - caller clock), so leases and start times stay on the
--          caller's clock instead of going stale by the length of the wait.
-- ARGV[14] owner: the claiming process (tokenBase starts with it)
-- ARGV[15] freshMs: when > 0, claim only if the owner's last heartbeat is at
--          most this old: a claim that waited behind a blocking pop runs
--          whenever the wait ends, also in a process that has since frozen
--          (SIGSTOP, a GC pause, a partition) and could not run the jobs. Such
--          a claim takes nothing and passes the wake marker on. 0 = no check
--          (a claim sent there and then is its own proof of life).
-- ARGV[16..] (jobPrefix, pendingPrefix, limitPrefix, historyPrefix) once per queue, in the order of KEYS;
--          historyPrefix: the queue's per-minute history HASHes (_lib.lua
--          writeHistory), where each batch's enqueue-to-start latencies go
--
-- Returns { { claimed, alive, retryAt, capped, circuits }, events }: claimed is a flat
-- array, 2 entries per job: id, the job's packed record as updated (state
-- running, attempts, started, lease token and expiry); alive is 0 when the
-- liveness check refused the claim, else 1; retryAt is "" or, when ready work
-- was held back by a rate, the epoch ms the earliest such limit lets a start
-- in (the caller sleeps until then); capped lists the wake keys of the queues
-- claimed from where a concurrency limit applies (the end of any job there
-- should wake a claimer that may be waiting for the slot); circuits, pairs
-- (wake key, type) of the types with a circuit breaker there; events as
-- writeEvents returns them, every queue's in turn. No error codes.

local ownersKey = KEYS[1]
local keysFrom = 2
local max = tonumber(ARGV[9])
local now = tonumber(ARGV[10])
local leaseMs = tonumber(ARGV[11])
local tokenBase = ARGV[12]
local clockOffsetMs = ARGV[13]
local owner = ARGV[14]
local freshMs = tonumber(ARGV[15])
local restFrom = 16

local QUEUE_KEYS = 8
local QUEUE_ARGS = 4
local queueCount = (#KEYS - keysFrom + 1) / QUEUE_KEYS

-- The keys and prefixes of the i-th queue.
local function queueAt(i)
  local k = keysFrom + (i - 1) * QUEUE_KEYS
  local a = restFrom + (i - 1) * QUEUE_ARGS
  return {
    priorities = KEYS[k],
    running = KEYS[k + 1],
    stats = KEYS[k + 2],
    wake = KEYS[k + 3],
    events = KEYS[k + 4],
    meta = KEYS[k + 5],
    heldTypes = KEYS[k + 6],
    limits = KEYS[k + 7],
    jobPrefix = ARGV[a],
    pendingPrefix = ARGV[a + 1],
    limitPrefix = ARGV[a + 2],
    historyPrefix = ARGV[a + 3],
  }
end

-- Decided once, at the first queue with work: the time, and whether the
-- claimer may take jobs at all.
local timeKnown = false
local alive = true

local function checkClaimer(q)
  if timeKnown then return alive end
  timeKnown = true
  if clockOffsetMs ~= "" then
    local t = redis.call("TIME")
    now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(clockOffsetMs)
  end
  if freshMs > 0 then
    local seen = tonumber(redis.call("ZSCORE", ownersKey, owner))
    if not seen or now - seen > freshMs then
      -- Work is ready and this claimer cannot be trusted to run it: another may.
      wake(q.wake)
      alive = false
    end
  end
  return alive
end

local out = {}
local events = {}
local n = 0
local need = max

-- A claim's writes in one queue, gathered and done once (finishBatch).
local function newBatch()
  return {
    expiry = now + leaseMs,
    -- The expiry as the string ZADD gets: converted once, not once per job.
    expiryArg = string.format("%.0f", now + leaseMs),
    runningArgs = {},
    byType = {},
    history = {},
    started = eventGroup("started", { "id", "t", "a", "q" }),
  }
end

-- Starts a pending job: running under a fresh lease, in the batch's writes.
local function start(b, id, job)
  n = n + 1
  local attempt = (job[F_ATTEMPTS] or 0) + 1
  local ready = readySince(job, now)
  if ready then tallyLatency(b.history, now - ready) end
  job[F_ATTEMPTS] = attempt
  job[F_STATE] = RUNNING
  job[F_STARTED_AT] = sinceCreated(job, now)
  job[F_TOKEN] = tokenBase .. ":" .. n
  job[F_LEASE_EXPIRES_AT] = b.expiry
  local packed = packJob(job)
  redis.call("SET", jobPrefix .. id, packed)
  b.runningArgs[#b.runningArgs + 1] = b.expiryArg
  b.runningArgs[#b.runningArgs + 1] = id
  tally(b.byType, job[F_TYPE])
  addEvent(b.started, { id, job[F_TYPE], attempt, job[F_STARTED_AT] })
  out[#out + 1] = id
  out[#out + 1] = packed
end

-- The batch's set and counter writes.
local function finishBatch(q, b)
  -- On Cluster, the first lease in a queue with none is published (its
  -- expiry, on the channel named like the running key): idle workers there
  -- look at the owners key often only while they know jobs run somewhere.
  if PUBLISH_WAKES and #b.runningArgs > 0 and redis.call("EXISTS", q.running) == 0 then
    redis.call("PUBLISH", q.running, b.runningArgs[1])
  end
  callChunked("ZADD", q.running, b.runningArgs)
  statBatch(q.stats, "pending", b.byType, -1)
  statBatch(q.stats, "running", b.byType, 1)
  -- Attempts started, ever (`started_total`): a count of starts, not of states.
  statBatch(q.stats, "started", b.byType, 1)
  writeHistory(q.historyPrefix, now, b.history)
end

-- Claims up to `need` jobs from queue q (its prefixes already set).
local function claimFrom(q, prios)
  local drained = {}
  local b = newBatch()
  for _, p in ipairs(prios) do
    if need <= 0 then break end
    local list = pendingPrefix .. p
    local ids = redis.call("LPOP", list, need)
    if (not ids) or #ids < need or redis.call("LLEN", list) == 0 then
      drained[#drained + 1] = p
    end
    if ids then
      need = need - #ids
      for _, id in ipairs(ids) do
        local job = load(jobPrefix .. id)
        -- Only a pending record is claimed: an id whose job is gone or moved on
        -- (which the scripts never leave behind) is dropped, never run twice.
        if job and job[F_STATE] == PENDING then start(b, id, job) end
      end
    end
  end
  if #drained > 0 then callChunked("ZREM", q.priorities, drained) end
  finishBatch(q, b)
  -- Chain wake: work is left, so let another idle runner take it; with nothing
  -- left, drop stale markers so idle runners don't spin on empty claims.
  if #prios > #drained then
    wake(q.wake)
  else
    redis.call("DEL", q.wake)
  end
end

-- Most jobs one claim parks (moves from the pending lists to their type's
-- held list): a queue holding a million limited jobs is sorted out over many
-- claims, each of bounded cost.
local PARK_MAX = 256
-- Most groups of one per-group type one claim looks at (its ring rotates on).
local RING_VISITS = 64

-- Flow control's answers: the earliest time a rate lets held-back work in,
-- and the queues with a concurrency limit.
local retryAt = nil
local capped = {}
local circuits = {}

-- Claims from a queue with limits (meta `limited`, _limits.lua). A job is
-- claimed only when its queue's and its type's limits have room; a job of a
-- type without room is parked in the type's held list (still pending, never
-- handed to a worker) and the claim goes on with the jobs behind it; held
-- lists are served first, so each type keeps its order. Nothing is claimed
-- to be put back.
local function claimLimited(q, prios)
  local b = newBatch()
  local prefix = q.limitPrefix
  local specs = {}
  local live = 0
  local expired = {}
  local flat = redis.call("HGETALL", q.limits)
  for i = 1, #flat, 2 do
    local field, value = flat[i], flat[i + 1]
    if string.sub(field, 1, 2) == "p:" and (tonumber(value) or 0) <= now then
      expired[#expired + 1] = field -- a handler's pause that ran out
    else
      specs[field] = value
      live = live + 1
    end
  end
  if #expired > 0 then redis.call("HDEL", q.limits, unpack(expired)) end
  for field, value in pairs(specs) do
    local l = string.sub(field, 1, 2) ~= "p:" and parseLimit(value)
    if l and l.conc > 0 then
      capped[#capped + 1] = q.wake
      break
    end
  end
  for field in pairs(specs) do
    if string.sub(field, 1, 4) == "c:t:" then
      circuits[#circuits + 1] = q.wake
      circuits[#circuits + 1] = string.sub(field, 5)
    end
  end
  local function running(field)
    return tonumber(redis.call("HGET", q.stats, field)) or 0
  end
  -- The scope of `field` ("q" or "t:<type>"), or nil when nothing limits it.
  local function open(field, runningField)
    local l = parseLimit(specs[field])
    local pausedUntil = tonumber(specs["p:" .. field])
    if not l and not pausedUntil then return nil end
    local s = openScope(prefix, field, l or parseLimit("0,0,0"), l and running(runningField) or 0, now)
    if pausedUntil then
      s.room = 0
      s.why = "paused"
      s.pausedUntil = pausedUntil
    end
    return s
  end
  local qs = open("q", "running")
  -- A type's circuit breaker (circuit.lua moves it; here it only lets jobs
  -- through): open, none until the cooldown ends, then half-open, `probes` of
  -- them, and no more until they report.
  local probing = {}
  local function circuitOf(jtype, s)
    local state = specs["o:t:" .. jtype]
    if not state then return s end
    local config = specs["c:t:" .. jtype]
    if not config then
      -- The breaker was removed: its last state goes with it.
      redis.call("HDEL", q.limits, "o:t:" .. jtype)
      return s
    end
    local probes = tonumber(string.match(config, ",(%d+)$")) or 1
    s = s or openScope(prefix, "t:" .. jtype, parseLimit("0,0,0"), 0, now)
    local openUntil = tonumber(string.match(state, "^open:(%d+)$"))
    if openUntil and openUntil > now then
      s.room = 0
      s.why = "circuit"
      s.pausedUntil = openUntil
      return s
    end
    local left, good = probes, 0
    if openUntil then
      redis.call("HINCRBY", prefix .. "n", "t:" .. jtype .. "|transitions", 1)
    else
      left, good = string.match(state, "^half:(%d+):(%d+)$")
      left, good = tonumber(left) or 0, tonumber(good) or 0
    end
    if left < s.room then s.room = left end
    if s.room <= 0 then s.why = "circuit" end
    probing[jtype] = { s = s, left = left, good = good, field = "o:t:" .. jtype }
    return s
  end
  -- Each type's scope, opened on first sight; false: nothing limits the type;
  -- for a per-group limit, a marker (`perGroup`) whose groups have scopes.
  local scopes = {}
  local function scopeOf(jtype)
    local s = scopes[jtype]
    if s == nil then
      local l = parseLimit(specs["t:" .. jtype])
      if l and l.perGroup then
        s = { perGroup = true, limit = l, pausedUntil = tonumber(specs["p:t:" .. jtype]) }
      else
        s = circuitOf(jtype, open("t:" .. jtype, "running|" .. jtype)) or false
      end
      scopes[jtype] = s
    end
    return s
  end
  -- A group's scope under its type's per-group marker `m` (opened once per claim).
  local function groupScope(jtype, m, g)
    local field = "t:" .. jtype .. "|" .. g
    local s = scopes[field]
    if not s then
      s = openScope(prefix, field, m.limit, groupRunning(prefix, field, jobPrefix), now)
      s.group = true
      -- The type paused, or this group alone (RateLimitedError's scope "group").
      local pausedUntil = m.pausedUntil or tonumber(specs["p:" .. field])
      if pausedUntil then
        s.room = 0
        s.why = "paused"
        s.pausedUntil = pausedUntil
      end
      scopes[field] = s
    end
    return s
  end
  -- The scope a job starts under, and the held list it waits in ("<type>" or
  -- "<type>|<group>"), with its group for the type's ring.
  local function scopeFor(jtype, job)
    local s = scopeOf(jtype)
    local g = job[F_GROUP]
    if s and s.perGroup then
      g = g or ""
      return groupScope(jtype, s, g), jtype .. "|" .. g, g
    end
    -- Its group alone paused (RateLimitedError's scope "group"): it waits in the group's list.
    local field = g and ("t:" .. jtype .. "|" .. g)
    if field and specs["p:" .. field] then
      local ps = scopes[field]
      if not ps then
        ps = openScope(prefix, field, parseLimit("0,0,0"), 0, now)
        ps.room = 0
        ps.why = "paused"
        ps.pausedUntil = tonumber(specs["p:" .. field])
        scopes[field] = ps
      end
      return ps, jtype .. "|" .. g, g
    end
    return s, jtype, nil
  end
  local function roomOf(s)
    if not s then return math.huge end
    return s.room - s.taken
  end
  local budget = math.min(need, roomOf(qs))
  local function take(s, id, job)
    start(b, id, job)
    budget = budget - 1
    need = need - 1
    if qs then qs.taken = qs.taken + 1 end
    if s then
      s.taken = s.taken + 1
      if s.group then groupStarted(prefix, s.field, id, now) end
    end
  end

  local blocked = {}
  local parked = 0
  local parkedByList = {}
  local ringOf = {}
  -- Takes a pending job when its scopes have room, else parks it.
  local function place(id, job)
    local jtype = job[F_TYPE]
    local s, listKey, g = scopeFor(jtype, job)
    if roomOf(s) > 0 then
      take(s, id, job)
    else
      group(parkedByList, listKey, id)
      if g then ringOf[listKey] = { jtype, g } end
      parked = parked + 1
      blocked[s.field] = s
    end
  end

  -- Held jobs first: they were ahead in line. A per-group type's groups
  -- take turns (its ring rotates one group per visit, at most RING_VISITS
  -- per claim), so a group with a million jobs cannot starve one with ten.
  local heldReady = false
  for _, member in ipairs(redis.call("SMEMBERS", q.heldTypes)) do
    if string.sub(member, 1, 2) == "g:" then
      local jtype = string.sub(member, 3)
      local ring = prefix .. "ring:" .. jtype
      local m = scopeOf(jtype)
      local visits = math.min(redis.call("LLEN", ring), RING_VISITS)
      for _ = 1, visits do
        if budget <= 0 then
          heldReady = true
          break
        end
        local g = redis.call("LMOVE", ring, ring, "LEFT", "RIGHT")
        local s = (m and m.perGroup) and groupScope(jtype, m, g) or m
        local list = prefix .. "h:" .. jtype .. "|" .. g
        local want = math.min(budget, roomOf(s))
        if want > 0 then
          for _, id in ipairs(redis.call("LPOP", list, want) or {}) do
            local job = load(jobPrefix .. id)
            if job and job[F_STATE] == PENDING then take(s, id, job) end
          end
        end
        if redis.call("LLEN", list) == 0 then
          redis.call("RPOP", ring) -- g, just rotated to the tail
        elseif roomOf(s) > 0 then
          heldReady = true
        else
          blocked[s.field] = s
        end
      end
      if redis.call("LLEN", ring) == 0 then redis.call("SREM", q.heldTypes, member) end
    else
      local jtype = member
      local s = scopeOf(jtype)
      local list = prefix .. "h:" .. jtype
      if s and s.perGroup then
        -- Parked before its limit became per group: sorted into the groups.
        local count = math.min(budget, PARK_MAX - parked)
        for _, id in ipairs(count > 0 and redis.call("LPOP", list, count) or {}) do
          local job = load(jobPrefix .. id)
          if job and job[F_STATE] == PENDING then place(id, job) end
        end
      else
        local want = math.min(budget, roomOf(s))
        if want > 0 then
          for _, id in ipairs(redis.call("LPOP", list, want) or {}) do
            local job = load(jobPrefix .. id)
            if job and job[F_STATE] == PENDING then take(s, id, job) end
          end
        end
      end
      if redis.call("LLEN", list) == 0 then
        redis.call("SREM", q.heldTypes, jtype)
      elseif s and not s.perGroup and roomOf(s) <= 0 then
        blocked[s.field] = s
      else
        heldReady = true
      end
    end
  end

  -- Then the pending lists, parking what may not start.
  local drained = {}
  for _, p in ipairs(prios) do
    if budget <= 0 or parked >= PARK_MAX then break end
    local list = pendingPrefix .. p
    local empty = false
    while budget > 0 and parked < PARK_MAX do
      local count = math.min(budget, PARK_MAX - parked)
      local ids = redis.call("LPOP", list, count)
      if not ids then empty = true; break end
      for _, id in ipairs(ids) do
        local job = load(jobPrefix .. id)
        if job and job[F_STATE] == PENDING then place(id, job) end
      end
      if #ids < count then empty = true; break end
    end
    if empty or redis.call("LLEN", list) == 0 then drained[#drained + 1] = p end
  end
  for listKey, ids in pairs(parkedByList) do
    local len = callChunked("RPUSH", prefix .. "h:" .. listKey, ids)
    local ring = ringOf[listKey]
    if ring then
      -- A group with nothing parked before joins its type's ring.
      if len == #ids then redis.call("RPUSH", prefix .. "ring:" .. ring[1], ring[2]) end
      redis.call("SADD", q.heldTypes, "g:" .. ring[1])
    else
      redis.call("SADD", q.heldTypes, listKey)
    end
  end
  if #drained > 0 then callChunked("ZREM", q.priorities, drained) end
  finishBatch(q, b)
  if qs then chargeScope(qs, now) end
  for _, p in pairs(probing) do
    redis.call("HSET", q.limits, p.field, "half:" .. math.max(0, p.left - p.s.taken) .. ":" .. p.good)
  end
  for _, s in pairs(scopes) do
    if s and not s.perGroup then chargeScope(s, now) end
  end

  -- Wake another claimer only for work it could take now; otherwise sleep
  -- until a rate lets a start in (retryAt) or a slot is freed (the ack of a
  -- capped queue's job wakes it).
  local left = #prios > #drained or heldReady
  local readyLeft = false
  if left and qs and roomOf(qs) <= 0 then
    blocked[qs.field] = qs
  elseif parked >= PARK_MAX or (left and need <= 0) then
    readyLeft = true
  end
  local counts = prefix .. "n"
  for field, s in pairs(blocked) do
    local why = s.why
    local at = s.pausedUntil
    if not at and s.limit.max > 0 and s.limit.per > 0 and s.rateRoom - s.taken <= 0 then
      why = why or "rate"
      at = rateFreeAt(s, s.used + s.taken)
    end
    if at and (not retryAt or at < retryAt) then retryAt = at end
    redis.call("HINCRBY", counts, field .. "|" .. (why or "concurrency"), 1)
  end
  if readyLeft then wake(q.wake) else redis.call("DEL", q.wake) end
  -- No limit left and nothing parked: claims here take the plain path again.
  if live == 0 and redis.call("EXISTS", q.heldTypes) == 0 then
    redis.call("HDEL", q.meta, "limited")
  end
end

-- Idle runners call this constantly: when no queue has work (an empty
-- priorities ZSET or held SET does not exist), one EXISTS over all of them
-- answers, however many queues are served.
local readyKeys = {}
for i = 1, queueCount do
  local k = keysFrom + (i - 1) * QUEUE_KEYS
  readyKeys[#readyKeys + 1] = KEYS[k]
  readyKeys[#readyKeys + 1] = KEYS[k + 6]
end
if queueCount == 0 or redis.call("EXISTS", unpack(readyKeys)) == 0 then
  return { { {}, 1, "", {} }, {} }
end

for i = 1, queueCount do
  if need <= 0 then break end
  local q = queueAt(i)
  local prios = redis.call("ZRANGE", q.priorities, 0, -1, "REV")
  -- Parked jobs alone (no pending list) are ready work too; one queue served
  -- passed the EXISTS above, so it holds some.
  if #prios > 0 or queueCount == 1 or redis.call("EXISTS", q.heldTypes) == 1 then
    local meta = redis.call("HMGET", q.meta, "paused", "limited")
    if meta[1] == "1" then
      -- Nobody claims here until resume (which wakes runners again): a marker
      -- left in the list would only wake them for nothing.
      redis.call("DEL", q.wake)
    elseif #prios > 0 or meta[2] == "1" then
      if not checkClaimer(q) then break end
      jobPrefix = q.jobPrefix
      pendingPrefix = q.pendingPrefix
      eventGroups = {}
      if meta[2] == "1" then claimLimited(q, prios) else claimFrom(q, prios) end
      for _, entry in ipairs(writeEvents(q.events, now)) do events[#events + 1] = entry end
    end
  end
end
local retry = retryAt and string.format("%.0f", retryAt) or ""
return { { out, alive and 1 or 0, retry, capped, circuits }, events }
