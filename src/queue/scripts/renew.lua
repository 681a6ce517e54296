-- renew.lua: extends many leases at once (one call per runner per interval).
--
-- KEYS[1] running ZSET (score = lease expiry ms)
--
-- ARGV[1] jobPrefix
-- ARGV[2] now, epoch ms
-- ARGV[3] lease ms
-- ARGV[4..] pairs: job id, lease token
--
-- Returns one integer per pair: 1 renewed, 2 renewed but a cancel was
-- requested (backstop for a missed pub/sub message), 0 lease lost (nothing changed).

local expiry = tonumber(ARGV[2]) + tonumber(ARGV[3])
local out = {}
local runningArgs = {}
for i = 4, #ARGV, 2 do
  local id = ARGV[i]
  local key = ARGV[1] .. id
  local job = loadHeld(key, ARGV[i + 1])
  if job then
    job[F_LEASE] = expiry
    save(key, job)
    runningArgs[#runningArgs + 1] = expiry
    runningArgs[#runningArgs + 1] = id
    if job[F_CANCEL] then out[#out + 1] = 2 else out[#out + 1] = 1 end
  else
    out[#out + 1] = 0
  end
end
callChunked("ZADD", KEYS[1], runningArgs)
return out
