-- enqueue.lua: adds one or many jobs as pending (or scheduled when they have a
-- due time), in one atomic call. A batch costs a few commands per job (HSET,
-- XADD) plus a few per call (sequence, ZADD, counters, wake marker).
--
-- KEYS[1] pending ZSET
-- KEYS[2] scheduled ZSET
-- KEYS[3] stats HASH
-- KEYS[4] seq STRING counter
-- KEYS[5] wake LIST
-- KEYS[6] events STREAM
--
-- ARGV[1] jobPrefix (job hashes are jobPrefix .. id, same hash tag)
-- ARGV[2] idempotencyPrefix (idempotency STRING keys, same hash tag)
-- ARGV[3] now, epoch ms
-- ARGV[4] retention ms (lifetime of an idempotency key)
-- ARGV[5] events MAXLEN (0 = no events)
-- ARGV[6] maxPriority
-- ARGV[7..] 10 values per job:
--   id (UUID), type, payload JSON text, priority (0..maxPriority), max attempts,
--   timeout ms, due time epoch ms ("0" = ready now), backoff JSON or "",
--   idempotency key or "", "1" when the id was chosen by the caller (checked
--   for collisions) or "0" when freshly generated (a random UUID)
--
-- Returns a flat array, 2 entries per job: {id, 1} when created,
-- {existing id, 0} when the idempotency key matched.
-- Error codes: JQ_EXISTS <id> (a job with a caller-chosen id already exists);
-- then nothing at all was written.

local N = 10
local prefix = ARGV[1]
local idemPrefix = ARGV[2]
local now = tonumber(ARGV[3])
local first = 7

-- Caller-chosen ids must be new. Checked before any write, so a refused batch
-- leaves nothing behind; a job whose idempotency key already matched is
-- answered from the key instead (a replay of the same request).
for i = first, #ARGV, N do
  if ARGV[i + 9] == "1" then
    local ik = ARGV[i + 8]
    if ik == "" or redis.call("EXISTS", idemPrefix .. ik) == 0 then
      if redis.call("EXISTS", prefix .. ARGV[i]) == 1 then
        return redis.error_reply("JQ_EXISTS " .. ARGV[i])
      end
    end
  end
end

-- One sequence range for the whole batch: FIFO within a priority is kept
-- because numbers are handed out in batch order; gaps are harmless.
local jobs = (#ARGV - first + 1) / N
local seq = redis.call("INCRBY", KEYS[4], jobs) - jobs
local pendingArgs = {}
local scheduledArgs = {}
local pendingByType = {}
local scheduledByType = {}
local out = {}

for i = first, #ARGV, N do
  seq = seq + 1
  local id = ARGV[i]
  local jtype = ARGV[i + 1]
  local priority = ARGV[i + 3]
  local due = tonumber(ARGV[i + 6])
  local ik = ARGV[i + 8]
  local existing = nil
  if ik ~= "" then
    -- NX: the first enqueue wins; later ones get its id back.
    if not redis.call("SET", idemPrefix .. ik, id, "NX", "PX", ARGV[4]) then
      existing = redis.call("GET", idemPrefix .. ik)
    end
  end
  if existing then
    out[#out + 1] = existing
    out[#out + 1] = 0
  else
    local fields = { "t", jtype, "d", ARGV[i + 2], "p", priority, "m", ARGV[i + 4], "c",
      ARGV[3], "to", ARGV[i + 5] }
    if ARGV[i + 7] ~= "" then fields[#fields + 1] = "bo"; fields[#fields + 1] = ARGV[i + 7] end
    if ik ~= "" then fields[#fields + 1] = "ik"; fields[#fields + 1] = ik end
    if due > now then
      fields[#fields + 1] = "s"; fields[#fields + 1] = "scheduled"
      fields[#fields + 1] = "sf"; fields[#fields + 1] = ARGV[i + 6]
      redis.call("HSET", prefix .. id, unpack(fields))
      scheduledArgs[#scheduledArgs + 1] = ARGV[i + 6]
      scheduledArgs[#scheduledArgs + 1] = id
      scheduledByType[jtype] = (scheduledByType[jtype] or 0) + 1
    else
      fields[#fields + 1] = "s"; fields[#fields + 1] = "pending"
      redis.call("HSET", prefix .. id, unpack(fields))
      pendingArgs[#pendingArgs + 1] = pendingScore(ARGV[6], priority, seq)
      pendingArgs[#pendingArgs + 1] = id
      pendingByType[jtype] = (pendingByType[jtype] or 0) + 1
    end
    emit(KEYS[6], ARGV[5], "ev", "enqueued", "id", id, "t", jtype, "p", priority)
    out[#out + 1] = id
    out[#out + 1] = 1
  end
end

callChunked("ZADD", KEYS[1], pendingArgs)
callChunked("ZADD", KEYS[2], scheduledArgs)
statBatch(KEYS[3], "pending", pendingByType, 1)
statBatch(KEYS[3], "scheduled", scheduledByType, 1)
if #pendingArgs > 0 then wake(KEYS[5]) end
return out
