-- enqueue.lua: adds one job as pending (or scheduled when it has a due time).
--
-- KEYS[1] pending ZSET
-- KEYS[2] scheduled ZSET
-- KEYS[3] stats HASH
-- KEYS[4] seq STRING counter
-- KEYS[5] wake LIST
-- KEYS[6] events STREAM
-- KEYS[7] the job HASH (jobPrefix .. id)
-- KEYS[8] idempotency STRING (idempotencyPrefix .. key; unused when ARGV[10] is "")
--
-- ARGV[1]  job id (UUID)
-- ARGV[2]  type
-- ARGV[3]  payload JSON text
-- ARGV[4]  priority (0..maxPriority)
-- ARGV[5]  max attempts
-- ARGV[6]  timeout ms
-- ARGV[7]  now, epoch ms
-- ARGV[8]  due time, epoch ms; "0" = ready now
-- ARGV[9]  backoff policy JSON, or "" for the type's default
-- ARGV[10] idempotency key, or ""
-- ARGV[11] retention ms (lifetime of the idempotency key)
-- ARGV[12] events MAXLEN (0 = no events)
-- ARGV[13] maxPriority
--
-- Returns {id, 1} when created, {existing id, 0} when the idempotency key matched.
-- Error codes: JQ_EXISTS (a job with this id already exists).

local id = ARGV[1]
local jtype = ARGV[2]
local now = tonumber(ARGV[7])
local due = tonumber(ARGV[8])

if ARGV[10] ~= "" then
  -- NX: the first enqueue wins; later ones get its id back.
  local ok = redis.call("SET", KEYS[8], id, "NX", "PX", ARGV[11])
  if not ok then
    return { redis.call("GET", KEYS[8]), 0 }
  end
end
if redis.call("EXISTS", KEYS[7]) == 1 then
  if ARGV[10] ~= "" then redis.call("DEL", KEYS[8]) end
  return redis.error_reply("JQ_EXISTS " .. id)
end

local fields = { "t", jtype, "d", ARGV[3], "p", ARGV[4], "m", ARGV[5], "c", ARGV[7], "to", ARGV[6] }
if ARGV[9] ~= "" then fields[#fields + 1] = "bo"; fields[#fields + 1] = ARGV[9] end
if ARGV[10] ~= "" then fields[#fields + 1] = "ik"; fields[#fields + 1] = ARGV[10] end

if due > now then
  fields[#fields + 1] = "s"; fields[#fields + 1] = "scheduled"
  fields[#fields + 1] = "sf"; fields[#fields + 1] = ARGV[8]
  redis.call("HSET", KEYS[7], unpack(fields))
  redis.call("ZADD", KEYS[2], due, id)
  stat(KEYS[3], "scheduled", jtype, 1)
else
  fields[#fields + 1] = "s"; fields[#fields + 1] = "pending"
  redis.call("HSET", KEYS[7], unpack(fields))
  pushPending(KEYS[1], KEYS[4], ARGV[13], ARGV[4], id)
  stat(KEYS[3], "pending", jtype, 1)
  wake(KEYS[5])
end
emit(KEYS[6], ARGV[12], "ev", "enqueued", "id", id, "t", jtype, "p", ARGV[4])
return { id, 1 }
