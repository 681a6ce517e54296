-- claim.lua: moves up to N ready jobs from pending to running under fresh
-- leases: highest priority first (the priorities ZSET), FIFO within a
-- priority (LPOP from its list).
--
-- KEYS[1] priorities: ZSET of the priorities with a non-empty pending list
-- KEYS[2] running: ZSET of running job ids (score = lease expiry ms)
-- KEYS[3] stats: HASH of counters
-- KEYS[4] wake: LIST of wake markers idle runners block on
-- KEYS[5] events: STREAM of lifecycle events
-- KEYS[6] owners: ZSET of lease owners (score = last heartbeat ms)
--
-- ARGV[1..8] the queue constants (_lib.lua)
-- ARGV[9] max: most jobs to claim
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
--
-- Returns { { claimed, alive }, events }: claimed is a flat array, 2 entries
-- per job: id, the job's packed record as updated (state running, attempts,
-- started, lease token and expiry); alive is 0 when the liveness check
-- refused the claim, else 1; events as writeEvents returns them. No error codes.

local prioritiesKey = KEYS[1]
local runningKey = KEYS[2]
local statsKey = KEYS[3]
local wakeKey = KEYS[4]
local eventsKey = KEYS[5]
local ownersKey = KEYS[6]
local max = tonumber(ARGV[9])
local now = tonumber(ARGV[10])
local leaseMs = tonumber(ARGV[11])
local tokenBase = ARGV[12]
local clockOffsetMs = ARGV[13]
local owner = ARGV[14]
local freshMs = tonumber(ARGV[15])

local prios = redis.call("ZRANGE", prioritiesKey, 0, -1, "REV")
-- Idle runners call this constantly: an empty claim costs one command, no more.
if #prios == 0 then return { { {}, 1 }, {} } end
if clockOffsetMs ~= "" then
  local t = redis.call("TIME")
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(clockOffsetMs)
end
if freshMs > 0 then
  local seen = tonumber(redis.call("ZSCORE", ownersKey, owner))
  if not seen or now - seen > freshMs then
    -- Work is ready and this claimer cannot be trusted to run it: another may.
    wake(wakeKey)
    return { { {}, 0 }, {} }
  end
end
local expiry = now + leaseMs
local need = max
local drained = {}
local out = {}
local n = 0
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
if #drained > 0 then callChunked("ZREM", prioritiesKey, drained) end
callChunked("ZADD", runningKey, runningArgs)
statBatch(statsKey, "pending", byType, -1)
statBatch(statsKey, "running", byType, 1)
-- Chain wake: work is left, so let another idle runner take it; with nothing
-- left, drop stale markers so idle runners don't spin on empty claims.
if #prios > #drained then
  wake(wakeKey)
else
  redis.call("DEL", wakeKey)
end
return { { out, 1 }, writeEvents(eventsKey, now) }
