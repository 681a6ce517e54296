-- claim.lua: moves up to N ready jobs from pending to running under fresh
-- leases, from one or more queues tried in the order given (the caller's
-- weighted or strict order): a paused queue is skipped; within a queue the
-- highest priority first (the priorities ZSET), FIFO within a priority (LPOP
-- from its list). One call serves several queues only where their keys share
-- a slot (standalone Redis: all of them; Cluster: one queue per call).
--
-- KEYS[1] owners: ZSET of lease owners (score = last heartbeat ms)
-- KEYS[2..] (priorities, running, stats, wake, events, meta) once per queue, in claim order:
--   priorities: ZSET of the priorities with a non-empty pending list;
--   running: ZSET of running job ids (score = lease expiry ms); stats: HASH of
--   counters; wake: LIST of wake markers idle runners block on; events: STREAM
--   of lifecycle events; meta: HASH of queue metadata (`paused`)
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
-- ARGV[16..] (jobPrefix, pendingPrefix) once per queue, in the order of KEYS
--
-- Returns { { claimed, alive }, events }: claimed is a flat array, 2 entries
-- per job: id, the job's packed record as updated (state running, attempts,
-- started, lease token and expiry); alive is 0 when the liveness check
-- refused the claim, else 1; events as writeEvents returns them, every
-- queue's in turn. No error codes.

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

local QUEUE_KEYS = 6
local queueCount = (#KEYS - keysFrom + 1) / QUEUE_KEYS

-- The keys and prefixes of the i-th queue.
local function queueAt(i)
  local k = keysFrom + (i - 1) * QUEUE_KEYS
  local a = restFrom + (i - 1) * 2
  return {
    priorities = KEYS[k],
    running = KEYS[k + 1],
    stats = KEYS[k + 2],
    wake = KEYS[k + 3],
    events = KEYS[k + 4],
    meta = KEYS[k + 5],
    jobPrefix = ARGV[a],
    pendingPrefix = ARGV[a + 1],
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

-- Claims up to `need` jobs from queue q (its prefixes already set).
local function claimFrom(q, prios)
  local expiry = now + leaseMs
  local drained = {}
  local runningArgs = {}
  local byType = {}
  local started = eventGroup("started", { "id", "t", "a", "q" })
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
        local key = jobPrefix .. id
        local job = load(key)
        -- Only a pending record is claimed: an id whose job is gone or moved on
        -- (which the scripts never leave behind) is dropped, never run twice.
        if job and job[F_STATE] == PENDING then
          n = n + 1
          local attempt = (job[F_ATTEMPTS] or 0) + 1
          job[F_ATTEMPTS] = attempt
          job[F_STATE] = RUNNING
          job[F_STARTED_AT] = sinceCreated(job, now)
          job[F_TOKEN] = tokenBase .. ":" .. n
          job[F_LEASE_EXPIRES_AT] = expiry
          local packed = packJob(job)
          redis.call("SET", key, packed)
          runningArgs[#runningArgs + 1] = expiry
          runningArgs[#runningArgs + 1] = id
          tally(byType, job[F_TYPE])
          addEvent(started, { id, job[F_TYPE], attempt, job[F_STARTED_AT] })
          out[#out + 1] = id
          out[#out + 1] = packed
        end
      end
    end
  end
  if #drained > 0 then callChunked("ZREM", q.priorities, drained) end
  -- On Cluster, the first lease in a queue with none is published (its
  -- expiry, on the channel named like the running key): idle workers there
  -- look at the owners key often only while they know jobs run somewhere.
  if PUBLISH_WAKES and #runningArgs > 0 and redis.call("EXISTS", q.running) == 0 then
    redis.call("PUBLISH", q.running, runningArgs[1])
  end
  callChunked("ZADD", q.running, runningArgs)
  statBatch(q.stats, "pending", byType, -1)
  statBatch(q.stats, "running", byType, 1)
  -- Chain wake: work is left, so let another idle runner take it; with nothing
  -- left, drop stale markers so idle runners don't spin on empty claims.
  if #prios > #drained then
    wake(q.wake)
  else
    redis.call("DEL", q.wake)
  end
end

-- Idle runners call this constantly: when no queue has work (an empty
-- priorities ZSET does not exist), one EXISTS over all of them answers,
-- however many queues are served.
local prioritiesKeys = {}
for i = 1, queueCount do prioritiesKeys[i] = KEYS[keysFrom + (i - 1) * QUEUE_KEYS] end
if queueCount == 0 or redis.call("EXISTS", unpack(prioritiesKeys)) == 0 then
  return { { {}, 1 }, {} }
end

for i = 1, queueCount do
  if need <= 0 then break end
  local q = queueAt(i)
  local prios = redis.call("ZRANGE", q.priorities, 0, -1, "REV")
  if #prios > 0 then
    if redis.call("HGET", q.meta, "paused") == "1" then
      -- Nobody claims here until resume (which wakes runners again): a marker
      -- left in the list would only wake them for nothing.
      redis.call("DEL", q.wake)
    else
      if not checkClaimer(q) then break end
      jobPrefix = q.jobPrefix
      pendingPrefix = q.pendingPrefix
      eventGroups = {}
      claimFrom(q, prios)
      for _, entry in ipairs(writeEvents(q.events, now)) do events[#events + 1] = entry end
    end
  end
end
return { { out, alive and 1 or 0 }, events }
