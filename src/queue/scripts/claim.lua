-- claim.lua: moves up to N ready jobs from pending to running under fresh
-- leases: highest priority first (the priorities ZSET), FIFO within a
-- priority (LPOP from its list).
--
-- KEYS[1] priorities ZSET (priorities with a non-empty pending list)
-- KEYS[2] running ZSET (score = lease expiry ms)
-- KEYS[3] stats HASH
-- KEYS[4] wake LIST
-- KEYS[5] events STREAM
--
-- ARGV[1] jobPrefix (job records are jobPrefix .. id, same hash tag)
-- ARGV[2] max jobs to claim
-- ARGV[3] now, epoch ms
-- ARGV[4] lease ms
-- ARGV[5] token base (random); job i gets token base .. ":" .. i
-- ARGV[6] events MAXLEN (0 = no events)
-- ARGV[7] pendingPrefix (pending LISTs are pendingPrefix .. priority, same hash tag)
-- ARGV[8] clock offset ms, or "" to use ARGV[3]. Set when the call was sent
--         behind a blocking wait and runs whenever that wait ends: "now" is
--         then this server's TIME minus the caller's measured offset (server
--         clock - caller clock), so leases and start times stay on the
--         caller's clock instead of going stale by the length of the wait.
--
-- Returns a flat array, 2 entries per job: id, the job's packed record as
-- updated (state running, attempts, started, lease token and expiry).
-- No error codes.

local prios = redis.call("ZRANGE", KEYS[1], 0, -1, "REV")
-- Idle runners call this constantly: an empty claim costs one command, no more.
if #prios == 0 then return {} end
local now = tonumber(ARGV[3])
if ARGV[8] and ARGV[8] ~= "" then
  local t = redis.call("TIME")
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(ARGV[8])
end
local expiry = now + tonumber(ARGV[4])
local need = tonumber(ARGV[2])
local drained = {}
local out = {}
local n = 0
local runningArgs = {}
local byType = {}
local started = eventBatch("started", { "id", "t", "a", "q" })
for _, p in ipairs(prios) do
  if need <= 0 then break end
  local list = ARGV[7] .. p
  local ids = redis.call("LPOP", list, need)
  if (not ids) or #ids < need or redis.call("LLEN", list) == 0 then
    drained[#drained + 1] = p
  end
  if ids then
    need = need - #ids
    for _, id in ipairs(ids) do
      local key = ARGV[1] .. id
      local job = load(key)
      -- Only a pending record is claimed: an id whose job is gone or moved on
      -- (which the scripts never leave behind) is dropped, never run twice.
      if job and job[F_STATE] == PENDING then
        n = n + 1
        local attempt = (job[F_ATTEMPTS] or 0) + 1
        job[F_ATTEMPTS] = attempt
        job[F_STATE] = RUNNING
        job[F_STARTED] = sinceCreated(job, now)
        job[F_TOKEN] = ARGV[5] .. ":" .. n
        job[F_LEASE] = expiry
        local packed = packJob(job)
        redis.call("SET", key, packed)
        runningArgs[#runningArgs + 1] = expiry
        runningArgs[#runningArgs + 1] = id
        tally(byType, job[F_TYPE])
        addEvent(started, { id, job[F_TYPE], attempt, job[F_STARTED] })
        out[#out + 1] = id
        out[#out + 1] = packed
      end
    end
  end
end
if #drained > 0 then callChunked("ZREM", KEYS[1], drained) end
callChunked("ZADD", KEYS[2], runningArgs)
statBatch(KEYS[3], "pending", byType, -1)
statBatch(KEYS[3], "running", byType, 1)
flushEvents(KEYS[5], ARGV[6], started)
-- Chain wake: work is left, so let another idle runner take it; with nothing
-- left, drop stale markers so idle runners don't spin on empty claims.
if #prios > #drained then
  wake(KEYS[4])
else
  redis.call("DEL", KEYS[4])
end
return out
