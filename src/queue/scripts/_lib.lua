-- _lib.lua: helpers that scripts.ts prepends to every script (it is not a
-- script by itself). Redis runs each script as one function, so these locals
-- are private to each script; keeping them here means one definition of the
-- job record, counters, events, pending lists, wake markers and error history.

-- The job record: one STRING per job holding a MessagePack array (codec.ts
-- documents the same positions). Absent fields are nil/false.
local F_TYPE, F_PAYLOAD, F_PRIORITY, F_MAX, F_TIMEOUT, F_CREATED, F_STATE = 1, 2, 3, 4, 5, 6, 7
local F_ATTEMPTS, F_STARTED, F_FINISHED, F_RESULT, F_SCHEDULED = 8, 9, 10, 11, 12
local F_TOKEN, F_LEASE, F_ERROR, F_HISTORY, F_PROGRESS, F_CANCEL = 13, 14, 15, 16, 17, 18
local F_BACKOFF, F_IDEM = 19, 20
local FIELDS = 20
-- Started and finished times are stored as ms since created (small integers
-- pack in fewer bytes than epoch ms; codec.ts adds created back).

-- ms from the job's creation to `now`: what F_STARTED/F_FINISHED hold.
local function sinceCreated(job, now)
  return now - (tonumber(job[F_CREATED]) or now)
end

-- How long the current attempt has run at `now`, in ms.
local function runningFor(job, now)
  return sinceCreated(job, now) - (tonumber(job[F_STARTED]) or sinceCreated(job, now))
end

-- State codes: the index in JOB_STATES (job.ts).
local PENDING, SCHEDULED, RUNNING, COMPLETED, FAILED, CANCELLED = 0, 1, 2, 3, 4, 5
local STATE_NAMES = { [0] = "pending", "scheduled", "running", "completed", "failed", "cancelled" }

-- The record of a job key, or nil when the key is missing.
local function load(key)
  local raw = redis.call("GET", key)
  if not raw then return nil end
  return cmsgpack.unpack(raw)
end

-- Fencing, in one place: the record of a job that is running under lease
-- `token`, or nil when the job is gone, no longer running, or held under
-- another (newer) lease. Every ack, renewal and progress report goes through it.
local function loadHeld(key, token)
  local job = load(key)
  if job and job[F_STATE] == RUNNING and job[F_TOKEN] == token then return job end
  return nil
end

-- Packs a record: holes become false so it stays a MessagePack array; trailing
-- absent fields are left out.
local function packJob(job)
  local top = 0
  for i = FIELDS, 1, -1 do
    if job[i] ~= nil and job[i] ~= false then top = i; break end
  end
  for i = 1, top do
    if job[i] == nil then job[i] = false end
  end
  for i = top + 1, FIELDS do job[i] = nil end
  return cmsgpack.pack(job)
end

-- Writes a record. SET drops any TTL; `ttl` (ms) sets a new one (finished jobs).
local function save(key, job, ttl)
  if ttl then
    redis.call("SET", key, packJob(job), "PX", ttl)
  else
    redis.call("SET", key, packJob(job))
  end
end

-- Adds `delta` to the `<state>` and `<state>|<type>` counters.
local function stat(statsKey, state, jtype, delta)
  redis.call("HINCRBY", statsKey, state, delta)
  redis.call("HINCRBY", statsKey, state .. "|" .. jtype, delta)
end

-- Appends a lifecycle entry to the capped events stream; maxlen 0 disables.
local function emit(eventsKey, maxlen, ...)
  if tonumber(maxlen) > 0 then
    redis.call("XADD", eventsKey, "MAXLEN", "~", maxlen, "*", ...)
  end
end

-- Events of one kind gathered over a batch script (enqueue, claim, complete)
-- and written as ONE stream entry: an XADD per job cost ~2.5 us of the
-- ~12 us a job spends in each of those scripts. `fields` names the row
-- columns, e.g. { "id", "t", "a" }; rows must not hold nils.
local function eventBatch(kind, fields)
  return { kind = kind, fields = fields, rows = {} }
end

local function addEvent(batch, row)
  batch.rows[#batch.rows + 1] = row
end

-- Writes the batch. A single event keeps the plain entry shape of `emit`;
-- several become `ev <kind> f <field,field,...> rows <JSON array of rows>`,
-- which readers expand into one event per row (stream_events.ts parseStream).
-- MAXLEN counts entries, so a batch entry trims the stream to maxlen / rows
-- entries: the stream keeps about maxlen events whatever the batch sizes
-- (exact trimming where "~", which trims whole 100-entry nodes, would be lax).
local function flushEvents(eventsKey, maxlen, batch)
  local rows = batch.rows
  local n = #rows
  maxlen = tonumber(maxlen)
  if n == 0 or maxlen <= 0 then return end
  if n == 1 then
    local args = { "ev", batch.kind }
    for i, field in ipairs(batch.fields) do
      args[#args + 1] = field
      args[#args + 1] = rows[1][i]
    end
    emit(eventsKey, maxlen, unpack(args))
    return
  end
  local limit = math.max(1, math.floor(maxlen / n))
  redis.call("XADD", eventsKey, "MAXLEN", limit >= 1000 and "~" or "=", limit, "*",
    "ev", batch.kind, "f", table.concat(batch.fields, ","), "rows", cjson.encode(rows))
end

-- Runs `cmd key <args...>` in chunks, so a big batch never overflows Lua's C
-- stack in unpack (ZADD/ZREM with many members: one call per chunk, not per job).
-- Returns the last call's reply.
local function callChunked(cmd, key, args)
  local step = 1000
  local reply
  for i = 1, #args, step do
    reply = redis.call(cmd, key, unpack(args, i, math.min(i + step - 1, #args)))
  end
  return reply
end

-- Appends ids to the tail of a priority's pending list (FIFO within a
-- priority). Invariant: the priorities ZSET holds p iff list p is non-empty,
-- so a list that did not exist before this push is added to it.
local function pushPending(pendingPrefix, prioritiesKey, priority, ids)
  if #ids == 0 then return end
  local len = callChunked("RPUSH", pendingPrefix .. priority, ids)
  if len == #ids then redis.call("ZADD", prioritiesKey, priority, priority) end
end

-- pushPending for ids grouped by priority: { [priority] = { id, ... } }.
local function pushPendingGroups(pendingPrefix, prioritiesKey, groups)
  for priority, ids in pairs(groups) do pushPending(pendingPrefix, prioritiesKey, priority, ids) end
end

-- Adds `id` to the group of `priority` (see pushPendingGroups).
local function group(groups, priority, id)
  local ids = groups[priority]
  if not ids then ids = {}; groups[priority] = ids end
  ids[#ids + 1] = id
end

-- Removes a pending id from its priority's list (cancel: a rare operation;
-- LREM scans the list). Keeps the priorities invariant.
local function removePending(pendingPrefix, prioritiesKey, priority, id)
  local list = pendingPrefix .. priority
  redis.call("LREM", list, 1, id)
  if redis.call("LLEN", list) == 0 then redis.call("ZREM", prioritiesKey, priority) end
end

-- Wakes one idle runner; the list stays short so markers never pile up.
local function wake(wakeKey)
  if redis.call("LPUSH", wakeKey, "1") > 16 then redis.call("LTRIM", wakeKey, 0, 15) end
end

-- Records an attempt's error in the record: last message and capped history.
local function pushError(job, attempt, message, now, cap)
  local hist = job[F_HISTORY]
  if type(hist) ~= "table" then hist = {} end
  hist[#hist + 1] = { tonumber(attempt), message, tonumber(now) }
  while #hist > tonumber(cap) do table.remove(hist, 1) end
  job[F_HISTORY] = hist
  job[F_ERROR] = message
end

-- Marks a record finished (state, finish time, no lease) and counts it; the
-- caller saves it with the finished TTL (a backstop: maintain deletes it at
-- retention) and adds the id to the state's ZSET.
local function finishRecord(job, statsKey, state, now)
  job[F_STATE] = state
  job[F_FINISHED] = sinceCreated(job, now)
  job[F_TOKEN] = false
  job[F_LEASE] = false
  job[F_PROGRESS] = false
  stat(statsKey, STATE_NAMES[state], job[F_TYPE], 1)
end

-- Finishes one job: record, TTL, finished ZSET; the idempotency key lives as
-- long as the job it points at.
local function finish(key, job, finishedKey, statsKey, state, id, now, idemPrefix, ttl)
  finishRecord(job, statsKey, state, now)
  save(key, job, ttl)
  redis.call("ZADD", finishedKey, now, id)
  if job[F_IDEM] then redis.call("PEXPIRE", idemPrefix .. job[F_IDEM], ttl) end
end

-- Adds per-type deltas gathered over a batch: one HINCRBY per field, not per job.
local function statBatch(statsKey, state, byType, sign)
  local total = 0
  for jtype, n in pairs(byType) do
    redis.call("HINCRBY", statsKey, state .. "|" .. jtype, sign * n)
    total = total + n
  end
  if total > 0 then redis.call("HINCRBY", statsKey, state, sign * total) end
end

-- Counts one job of `jtype` in a batch tally.
local function tally(byType, jtype)
  byType[jtype] = (byType[jtype] or 0) + 1
end
