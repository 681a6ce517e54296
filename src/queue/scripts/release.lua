-- release.lua: gives leases back without finishing the jobs: running -> pending
-- at the job's own priority (shutdown drain, a co-running job's hard timeout).
--
-- KEYS[1] running ZSET
-- KEYS[2] priorities ZSET (priorities with a non-empty pending list)
-- KEYS[3] failed ZSET (when the attempt is kept and it was the last one)
-- KEYS[4] stats HASH
-- KEYS[5] wake LIST
-- KEYS[6] events STREAM
--
-- ARGV[1] jobPrefix
-- ARGV[2] now, epoch ms
-- ARGV[3] "1" to give the attempt back, "0" to keep it counted
-- ARGV[4] reason, recorded in the error history when the attempt is kept
-- ARGV[5] pendingPrefix (pending LISTs are pendingPrefix .. priority, same hash tag)
-- ARGV[6] error history cap
-- ARGV[7] events MAXLEN (0 = no events)
-- ARGV[8] ttl ms of a finished job (retention + slack)
-- ARGV[9] idempotencyPrefix
-- ARGV[10..] pairs: job id, lease token
--
-- Returns one integer per pair: 1 released, 0 lease lost (nothing changed).

local now = tonumber(ARGV[2])
local restore = ARGV[3] == "1"
local out = {}
local pending = {}
local woke = false
for i = 10, #ARGV, 2 do
  local id = ARGV[i]
  local key = ARGV[1] .. id
  local job = loadHeld(key, ARGV[i + 1])
  if job then
    local jtype = job[F_TYPE]
    redis.call("ZREM", KEYS[1], id)
    stat(KEYS[4], "running", jtype, -1)
    job[F_TOKEN] = false
    job[F_LEASE] = false
    job[F_PROGRESS] = false
    local attempt = tonumber(job[F_ATTEMPTS])
    if restore then
      attempt = attempt - 1
      job[F_ATTEMPTS] = attempt
    else
      pushError(job, attempt, ARGV[4], now, ARGV[6])
    end
    if (not restore) and attempt >= tonumber(job[F_MAX]) then
      -- The kept attempt was the last one: a pending job could never run again.
      finish(key, job, KEYS[3], KEYS[4], FAILED, id, now, ARGV[9], ARGV[8])
      emit(KEYS[6], ARGV[7], "ev", "dead", "id", id, "t", jtype, "a", attempt, "err", ARGV[4])
    else
      job[F_STATE] = PENDING
      save(key, job)
      group(pending, job[F_PRIORITY], id)
      stat(KEYS[4], "pending", jtype, 1)
      emit(KEYS[6], ARGV[7], "ev", "released", "id", id, "t", jtype, "a", attempt)
      woke = true
    end
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
pushPendingGroups(ARGV[5], KEYS[2], pending)
if woke then wake(KEYS[5]) end
return out
