-- renew.lua: extends many leases at once (one call per runner per interval).
--
-- KEYS[1] running: ZSET of running job ids (score = lease expiry ms)
--
-- ARGV[1..8] the queue constants (_lib.lua)
-- ARGV[9] now: epoch ms
-- ARGV[10] leaseMs: lease length from now
-- ARGV[11..] (id, token) repeated: job id, lease token
--
-- Returns { statuses, events }: one integer per pair, 1 renewed (or already
-- ended by this token's own ack: nothing left to renew, nothing lost), 2
-- renewed but a cancel was requested (backstop for a missed pub/sub message),
-- 0 lease lost (nothing changed); events is always empty (a renewal is no
-- transition).

local runningKey = KEYS[1]
local now = tonumber(ARGV[9])
local leaseMs = tonumber(ARGV[10])
local restFrom = 11

local expiry = now + leaseMs
local out = {}
local runningArgs = {}
for i = restFrom, #ARGV, 2 do
  local id = ARGV[i]
  local key = jobPrefix .. id
  local token = ARGV[i + 1]
  local job = load(key)
  if job and job[F_STATE] == RUNNING and job[F_TOKEN] == token then
    job[F_LEASE_EXPIRES_AT] = expiry
    save(key, job)
    runningArgs[#runningArgs + 1] = expiry
    runningArgs[#runningArgs + 1] = id
    if job[F_CANCEL] then out[#out + 1] = 2 else out[#out + 1] = 1 end
  elseif job and job[F_TOKEN] == token then
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
callChunked("ZADD", runningKey, runningArgs)
return { out, {} }
