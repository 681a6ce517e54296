-- _lib.lua: what every script shares; scripts.ts prepends it to each script
-- (it is not a script by itself). Redis runs each script as one function, so
-- these locals are private to each script. One definition each of: the queue
-- constants block, the job record, states, counters, events, pending lists,
-- wake markers and error history. test/queue/script_contract_test.ts checks
-- the names and numbers below against script_contract.ts, record.ts and
-- JOB_STATES.
--
-- Every script's ARGV starts with the queue's constants, in this order
-- (QUEUE_CONSTANTS in script_contract.ts); its own arguments follow:
-- ARGV[1] jobPrefix: job records are jobPrefix .. id (same hash tag as KEYS)
-- ARGV[2] pendingPrefix: pending LISTs are pendingPrefix .. priority (same hash tag)
-- ARGV[3] idempotencyPrefix: idempotency STRINGs are idempotencyPrefix .. key
-- ARGV[4] eventsMaxLen: approximate cap of the events stream; 0 = no stream entries
-- ARGV[5] returnEvents: "1" to return the call's events to the caller
-- ARGV[6] finishedTtlMs: TTL of a finished job's record (retention + slack; a backstop)
-- ARGV[7] errorHistory: attempt errors kept per job
-- ARGV[8] retentionMs: how long finished jobs are kept
local jobPrefix = ARGV[1]
local pendingPrefix = ARGV[2]
local idempotencyPrefix = ARGV[3]
local eventsMaxLen = tonumber(ARGV[4])
local returnEvents = ARGV[5] == "1"
local finishedTtlMs = ARGV[6]
local errorHistory = tonumber(ARGV[7])
local retentionMs = tonumber(ARGV[8])

-- The job record: one STRING per job holding a MessagePack array; these are
-- the 1-based positions of record.ts's F (0-based). Absent fields are nil/false.
local F_TYPE = 1
local F_PAYLOAD = 2
local F_PRIORITY = 3
local F_MAX_ATTEMPTS = 4
local F_TIMEOUT_MS = 5
local F_CREATED_AT = 6
local F_STATE = 7
local F_ATTEMPTS = 8
local F_STARTED_AT = 9
local F_FINISHED_AT = 10
local F_RESULT = 11
local F_SCHEDULED_FOR = 12
local F_TOKEN = 13
local F_LEASE_EXPIRES_AT = 14
local F_ERROR = 15
local F_HISTORY = 16
local F_PROGRESS = 17
local F_CANCEL = 18
local F_BACKOFF = 19
local F_IDEMPOTENCY_KEY = 20
local F_DEPS_TOTAL = 21
local F_DEPS_DONE = 22
local F_DEPS_FAILED = 23
local F_DEP_POLICY = 24
local F_DEPENDENTS = 25
local F_DEPS_ELSEWHERE = 26
local F_GROUP = 27
local F_CALLBACK = 28
local F_TRACE = 29
local RECORD_FIELDS = 29
-- Started and finished times are stored as ms since created (small integers
-- pack in fewer bytes than epoch ms; record.ts adds created back).

-- ms from the job's creation to `now`: what F_STARTED_AT/F_FINISHED_AT hold.
local function sinceCreated(job, now)
  return now - (tonumber(job[F_CREATED_AT]) or now)
end

-- How long the current attempt has run at `now`, in ms.
local function runningFor(job, now)
  return sinceCreated(job, now) - (tonumber(job[F_STARTED_AT]) or sinceCreated(job, now))
end

-- State codes: the index in JOB_STATES (job.ts).
local PENDING = 0
local SCHEDULED = 1
local RUNNING = 2
local COMPLETED = 3
local FAILED = 4
local CANCELLED = 5
local WAITING = 6
local STATE_NAMES = { [0] = "pending", "scheduled", "running", "completed", "failed", "cancelled", "waiting" }

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
  -- One pass down to the last field set (clearing what is past it), one up to it.
  local top = 0
  for i = RECORD_FIELDS, 1, -1 do
    local v = job[i]
    if v ~= nil and v ~= false then top = i; break end
    job[i] = nil
  end
  for i = 1, top do
    if job[i] == nil then job[i] = false end
  end
  return cmsgpack.pack(job)
end

-- Rewrites a record keeping its expiry (a finished job's, or none).
local function saveKeepTtl(key, job)
  redis.call("SET", key, packJob(job), "KEEPTTL")
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

-- The attempt-duration histogram's bucket bounds in ms: DURATION_BUCKETS
-- (src/metrics/prometheus.ts) times 1000, checked by the contract test.
local DURATION_BUCKETS_MS = { 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000,
  60000, 120000, 300000 }

-- The 1-based index of the first of `bounds` (ascending) that `v` is at most,
-- #bounds + 1 past the last: a histogram bucket's index.
local function bucketOf(bounds, v)
  for i = 1, #bounds do
    if v <= bounds[i] then return i end
  end
  return #bounds + 1
end

-- Counts one attempt's run time `dur` (ms) of `jtype` that ended as `status`
-- in a batch's histogram tally `h`: the durations HASH fields are
-- `<status>|<bucket>|<type>` (bucket: the index of the first bound >= dur, 1
-- based, #bounds + 1 past the last) and `<status>|s|<type>` (the sum, ms).
-- Field names already built in this call (status .. jtype -> bucket -> field):
-- a batch of one type builds each once, not once per job.
local durationFields = {}
local function tallyDuration(h, status, jtype, dur)
  dur = math.max(0, tonumber(dur) or 0)
  local b = bucketOf(DURATION_BUCKETS_MS, dur)
  local scope = status .. "|" .. jtype
  local fields = durationFields[scope]
  if not fields then
    fields = { sum = status .. "|s|" .. jtype }
    durationFields[scope] = fields
  end
  local bucket = fields[b]
  if not bucket then
    bucket = status .. "|" .. b .. "|" .. jtype
    fields[b] = bucket
  end
  h[bucket] = (h[bucket] or 0) + 1
  h[fields.sum] = (h[fields.sum] or 0) + dur
end

-- Writes a batch's histogram tally: one HINCRBY per field it touched. The
-- counts only grow, so every API replica reads the same cluster-wide
-- histogram, from the first scrape and across restarts.
local function writeDurations(durationsKey, h)
  for field, n in pairs(h) do redis.call("HINCRBY", durationsKey, field, n) end
end

-- The per-minute history (src/queue/history.ts): one HASH per queue per UTC
-- minute, `historyPrefix .. <epoch minute>`, with the counts `c` (completed),
-- `f` (ended failed), `r` (retried) and the enqueue-to-start latency
-- histogram `l|<bucket>`, `l|s` (sum, ms). Bounds: LATENCY_BUCKETS_MS in
-- history.ts, checked by the contract test, as is the TTL. Each key expires
-- HISTORY_TTL_S after its first write, so a queue holds at most ~1,500.
local LATENCY_BUCKETS_MS = { 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000,
  60000, 300000, 900000, 3600000 }
local HISTORY_TTL_S = 90000

-- When a job about to start became runnable (epoch ms), or nil when its
-- record cannot say: its creation, or its due time when it was delayed or
-- retried (F_SCHEDULED_FOR, later than creation). Left out: a job that
-- waited for dependencies (when the last one ended is not kept), one made
-- runnable before its due time (run now), one back in pending without a new
-- due time (lease lost, released), whose due time predates its last start,
-- and a dead job requeued (no attempt yet, but an error: when it was
-- requeued is not kept either).
local function readySince(job, now)
  if job[F_DEPS_TOTAL] then return nil end
  if not job[F_ATTEMPTS] and job[F_ERROR] then return nil end
  local created = tonumber(job[F_CREATED_AT]) or now
  local ready = math.max(created, tonumber(job[F_SCHEDULED_FOR]) or created)
  if ready > now then return nil end
  local lastStart = tonumber(job[F_STARTED_AT])
  if lastStart and created + lastStart >= ready then return nil end
  return ready
end

-- Counts one start that waited `ms` in a batch's history tally `h`.
-- "l|<bucket>" field names, built on first use in a call.
local latencyFields = {}
local function tallyLatency(h, ms)
  local b = bucketOf(LATENCY_BUCKETS_MS, ms)
  local bucket = latencyFields[b]
  if not bucket then
    bucket = "l|" .. b
    latencyFields[b] = bucket
  end
  h[bucket] = (h[bucket] or 0) + 1
  h["l|s"] = (h["l|s"] or 0) + ms
end

-- Writes a batch's history tally `h` (field -> count) into the HASH of the
-- minute of `now`: one HINCRBY per field. A field that was new (its reply is
-- the increment: counts only grow) may mean a new key, which is given its
-- expiry; any other batch pays no EXPIRE.
local function writeHistory(prefix, now, h)
  local key = prefix .. string.format("%.0f", math.floor(now / 60000))
  local fresh = false
  for field, n in pairs(h) do
    if redis.call("HINCRBY", key, field, n) == n then fresh = true end
  end
  if fresh then redis.call("EXPIRE", key, HISTORY_TTL_S) end
end

-- Lifecycle events (src/events/lifecycle.ts). A script records each event of
-- its transitions in a group of its kind; writeEvents, the script's last
-- step, turns each group into ONE stream entry (an XADD per job cost ~2.5 us
-- of the ~12 us a job spends in a batch script) and returns the entries to
-- the caller when it asked (returnEvents). The wire form is src/events/wire.ts's:
-- `names` are its wire names, starting with "id", "t"; rows hold no nils and
-- booleans as 1/0.
local keepEvents = eventsMaxLen > 0 or returnEvents
local eventGroups = {}

-- A group for events of `kind` with the fields `names`.
local function eventGroup(kind, names)
  local group = { kind = kind, names = names, rows = {} }
  eventGroups[#eventGroups + 1] = group
  return group
end

-- Adds one event (its values in the order of the group's names).
local function addEvent(group, row)
  if keepEvents then group.rows[#group.rows + 1] = row end
end

-- A single event: a group of its own.
local function event(kind, names, row)
  addEvent(eventGroup(kind, names), row)
end

-- An event this call did not make but reports again: an ack retried after
-- its reply was lost finds its own outcome already there. It is returned to
-- the caller (whose observers never saw it) with its original time `at`, and
-- not written to the stream a second time.
local function replayEvent(kind, names, row, at)
  if not returnEvents then return end
  local group = eventGroup(kind, names)
  group.replayAt = at
  group.rows[1] = row
end

-- Writes every group with events as one entry of `eventsKey` at `now` and returns the
-- entries' field lists (empty unless returnEvents). One event keeps the plain
-- entry shape; several become `f <names> rows <JSON>`. MAXLEN counts entries,
-- so a batch entry trims the stream to maxlen / rows entries: the stream keeps
-- about maxlen events whatever the batch sizes (exact trimming where "~",
-- which trims whole 100-entry nodes, would be lax).
local function writeEvents(eventsKey, now)
  local out = {}
  for _, group in ipairs(eventGroups) do
    local rows = group.rows
    local n = #rows
    if n > 0 then
      local at = string.format("%.0f", group.replayAt or now)
      local entry
      if n == 1 then
        entry = { "ev", group.kind, "at", at }
        for i, name in ipairs(group.names) do
          entry[#entry + 1] = name
          entry[#entry + 1] = rows[1][i]
        end
      else
        entry = { "ev", group.kind, "at", at, "f", table.concat(group.names, ","), "rows",
          cjson.encode(rows) }
      end
      if eventsMaxLen > 0 and not group.replayAt then
        local limit = math.max(1, math.floor(eventsMaxLen / n))
        redis.call("XADD", eventsKey, "MAXLEN", limit >= 1000 and "~" or "=", limit, "*",
          unpack(entry))
      end
      if returnEvents then out[#out + 1] = entry end
    end
  end
  return out
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
local function pushPending(prioritiesKey, priority, ids)
  if #ids == 0 then return end
  local len = callChunked("RPUSH", pendingPrefix .. priority, ids)
  if len == #ids then redis.call("ZADD", prioritiesKey, priority, priority) end
end

-- pushPending for ids grouped by priority: { [priority] = { id, ... } }.
local function pushPendingGroups(prioritiesKey, groups)
  for priority, ids in pairs(groups) do pushPending(prioritiesKey, priority, ids) end
end

-- Adds `id` to the group of `priority` (see pushPendingGroups).
local function group(groups, priority, id)
  local ids = groups[priority]
  if not ids then ids = {}; groups[priority] = ids end
  ids[#ids + 1] = id
end

-- Removes a pending id from its priority's list (cancel: a rare operation;
-- LREM scans the list). Keeps the priorities invariant.
local function removePending(prioritiesKey, priority, id)
  local list = pendingPrefix .. priority
  redis.call("LREM", list, 1, id)
  if redis.call("LLEN", list) == 0 then redis.call("ZREM", prioritiesKey, priority) end
end

-- Wakes one idle runner; the list stays short so markers never pile up. On
-- Cluster (PUBLISH_WAKES, set by the prelude scripts.ts puts before this
-- file) it also publishes on the channel named like the wake key: a worker
-- serving queues on several slots cannot block on all their lists at once,
-- so it listens to these instead (cluster_signals.ts).
local function wake(wakeKey)
  if redis.call("LPUSH", wakeKey, "1") > 16 then redis.call("LTRIM", wakeKey, 0, 15) end
  if PUBLISH_WAKES then redis.call("PUBLISH", wakeKey, "") end
end

-- After jobs were scheduled for `dueMs` or later: when the earliest
-- scheduled job is now one of them, tells the workers its time, so one sleeps
-- until then and promotes it on time (not at its next idle beat, seconds
-- later). On Cluster it is published on the channel named like the scheduled
-- key (every worker listens: cluster_signals.ts); on standalone Redis it is
-- pushed on the queue's dues LIST (`duesKey`), which idle runners' BLPOP
-- watches beside the wake lists (work_waiter.ts), so it costs an idle worker
-- nothing. A nil `duesKey` (a path rare enough to leave to maintenance)
-- tells standalone workers nothing.
local function announceDue(scheduledKey, duesKey, dueMs)
  if not PUBLISH_WAKES and not duesKey then return end
  local first = redis.call("ZRANGE", scheduledKey, 0, 0, "WITHSCORES")
  if not (first[2] and tonumber(first[2]) >= dueMs) then return end
  if PUBLISH_WAKES then
    redis.call("PUBLISH", scheduledKey, first[2])
  elseif redis.call("LPUSH", duesKey, first[2]) > 4 then
    -- One reader acts on the earliest; older entries only wake it early.
    redis.call("LTRIM", duesKey, 0, 3)
  end
end

-- Records an attempt's error in the record: last message and capped history.
local function pushError(job, attempt, message, now)
  local hist = job[F_HISTORY]
  if type(hist) ~= "table" then hist = {} end
  hist[#hist + 1] = { tonumber(attempt), message, tonumber(now) }
  while #hist > errorHistory do table.remove(hist, 1) end
  job[F_HISTORY] = hist
  job[F_ERROR] = message
end

-- Ends the running attempt's lease (expiry, progress). The token stays: it
-- names the ack that ended the attempt, so the same ack sent again (its reply
-- was lost) is recognised as done rather than refused as a lost lease.
local function endLease(job)
  job[F_LEASE_EXPIRES_AT] = false
  job[F_PROGRESS] = false
end

-- Forgets the last token: for transitions no ack of that token made (a
-- release, a reap, a cancel while waiting, a requeue, a new claim).
local function dropToken(job)
  job[F_TOKEN] = false
end

-- The lease owner (worker process) in a token "<owner>.<claim>:<n>" (redis_broker.ts).
local function ownerOf(token)
  if type(token) ~= "string" then return nil end
  return string.match(token, "^([^.:]+)%.")
end

-- How long after an outbox entry is written a Cluster maintainer looks at
-- the queue: its writer delivers it at once, so a look finds it only when
-- the writer died in between (standalone maintenance looks at every queue anyway).
local OUTBOX_GRACE_MS = 2000

-- Adds `member` to the flow outbox (flow_outbox.ts drains it), noting it in
-- `outboxTouched` (complete.lua tells its caller to drain). On Cluster
-- (PUBLISH_WAKES) it also announces, on the channel named like the outbox
-- key, when maintenance should look (cluster_signals.ts), so an entry
-- a dying process left is found without waiting for the queue's turn.
local outboxTouched = false
local function toOutbox(outboxKey, now, member)
  outboxTouched = true
  redis.call("ZADD", outboxKey, now, member)
  if PUBLISH_WAKES then
    redis.call("PUBLISH", outboxKey, string.format("%.0f", now + OUTBOX_GRACE_MS))
  end
end

-- A finished job's flow keys (its dependencies HASH, its dependents SET)
-- expire with its record; a job others depend on is put in the outbox, so
-- its outcome reaches them, and one with dependencies in other queues too,
-- so they stop keeping themselves for it (`_flow.lua`, flow_outbox.ts).
-- Free for a job outside any flow: two record fields read.
local function finishedDependent(job, id, now, outboxKey)
  redis.call("PEXPIRE", jobPrefix .. id .. ":d", finishedTtlMs)
  if job[F_DEPS_ELSEWHERE] then toOutbox(outboxKey, now, "u:" .. id) end
end

local function finishFlow(job, id, now, outboxKey)
  if job[F_DEPS_TOTAL] then finishedDependent(job, id, now, outboxKey) end
  if job[F_DEPENDENTS] then
    redis.call("PEXPIRE", jobPrefix .. id .. ":r", finishedTtlMs)
    toOutbox(outboxKey, now, "d:" .. id)
  end
end

-- Completion webhooks: set by _webhooks.lua (included after this file), which
-- records a job's deliveries in the same script as its transition.
local webhookFinished = nil

-- Finishes one job: state, finish time, lease ended, counted in `<state>`, saved
-- with the finished TTL (a backstop: maintain deletes it at retention), added
-- to the state's ZSET; the idempotency key lives as long as the job it points at.
-- `outboxKey`: the queue's flow outbox (see finishFlow).
local function finish(key, job, finishedKey, statsKey, state, id, now, outboxKey)
  job[F_STATE] = state
  job[F_FINISHED_AT] = sinceCreated(job, now)
  endLease(job)
  stat(statsKey, STATE_NAMES[state], job[F_TYPE], 1)
  save(key, job, finishedTtlMs)
  redis.call("ZADD", finishedKey, now, id)
  if job[F_IDEMPOTENCY_KEY] then
    redis.call("PEXPIRE", idempotencyPrefix .. job[F_IDEMPOTENCY_KEY], finishedTtlMs)
  end
  finishFlow(job, id, now, outboxKey)
  webhookFinished(job, id, state, now, outboxKey)
end

-- True when a finished job others depend on must stay: its outcome is not
-- delivered yet (in the outbox), or a dependent has not finished (it reads
-- the result when it runs): of its own queue (looked at), or of another
-- queue (its `:w` SET, kept by link.lua). Only jobs with dependents pay the look.
local function pinned(job, id, outboxKey)
  if not job[F_DEPENDENTS] then return false end
  if redis.call("ZSCORE", outboxKey, "d:" .. id) then return true end
  -- The SET expires a retention (and slack) after its last link: a member
  -- left by a lost `u:` race cannot keep the job for ever.
  if redis.call("EXISTS", jobPrefix .. id .. ":w") == 1 then return true end
  local own = string.match(id, "^(.*):[^:]*$") or ""
  for _, d in ipairs(redis.call("SMEMBERS", jobPrefix .. id .. ":r")) do
    if (string.match(d, "^(.*):[^:]*$") or "") == own then
      local dj = load(jobPrefix .. d)
      local st = dj and dj[F_STATE]
      if st and st ~= COMPLETED and st ~= FAILED and st ~= CANCELLED then return true end
    end
  end
  return false
end

-- Deletes finished jobs (their records, flow keys, and the idempotency keys
-- that still point at them), except those `pinned` (each given a fresh
-- retention in `finishedKey`); returns their records' types (false for a
-- record already gone) and the ids deleted, for the caller's tallies and ZREM.
-- Counts departures from a finished state (retention, purge): `byType` as
-- tally gathered them, plus `unknown` jobs whose record had expired (counted
-- without a type). The arrivals counters are lifetime totals and never move.
local function departed(statsKey, state, byType, unknown)
  statBatch(statsKey, state .. "_gone", byType, 1)
  if unknown > 0 then redis.call("HINCRBY", statsKey, state .. "_gone", unknown) end
end

local function forget(ids, finishedKey, outboxKey, now)
  local types = {}
  local keys = {}
  local gone = {}
  for _, id in ipairs(ids) do
    local key = jobPrefix .. id
    local job = load(key)
    if job and pinned(job, id, outboxKey) then
      -- Kept another retention, with its flow keys.
      redis.call("ZADD", finishedKey, now, id)
      redis.call("PEXPIRE", key, finishedTtlMs)
      redis.call("PEXPIRE", key .. ":r", finishedTtlMs)
      if job[F_DEPS_TOTAL] then redis.call("PEXPIRE", key .. ":d", finishedTtlMs) end
      job = nil
      key = nil
    elseif job then
      gone[#gone + 1] = id
      if job[F_DEPS_TOTAL] then keys[#keys + 1] = key .. ":d" end
      if job[F_DEPENDENTS] then
        keys[#keys + 1] = key .. ":r"
        keys[#keys + 1] = key .. ":w"
      end
      types[#types + 1] = job[F_TYPE]
      if job[F_IDEMPOTENCY_KEY] then
        local idem = idempotencyPrefix .. job[F_IDEMPOTENCY_KEY]
        if redis.call("GET", idem) == id then redis.call("DEL", idem) end
      end
    else
      gone[#gone + 1] = id
      types[#types + 1] = false
    end
    if key then keys[#keys + 1] = key end
  end
  for i = 1, #keys, 1000 do redis.call("DEL", unpack(keys, i, math.min(i + 999, #keys))) end
  return types, gone
end

-- Taking back running jobs whose holder is gone (its lease expired, or its
-- process died or stopped heartbeating): the claim already counted the
-- attempt, so each runs again (pending), or ends failed when that was its
-- last attempt, or cancelled when a cancel had been requested. A script makes
-- one reaper (`r`, with its event groups) and passes it to every `reap`, then
-- calls `reapDone` once.
local function newReaper(keys, recoveredEvents, failedEvents, cancelledEvents)
  return {
    keys = keys,
    recoveredEvents = recoveredEvents,
    failedEvents = failedEvents,
    cancelledEvents = cancelledEvents,
    pending = {},
    pendingByType = {},
    byType = {},
    requeued = 0,
    dead = 0,
    count = 0,
    -- Flat: id, type, attempt, outcome per job (maintain's reply).
    recovered = {},
  }
end

-- Reaps the running jobs `ids` (each left alone unless it is running), recording `reason`.
local function reap(r, ids, reason, now)
  local k = r.keys
  for _, id in ipairs(ids) do
    local key = jobPrefix .. id
    local job = load(key)
    if job and job[F_STATE] == RUNNING then
      local jtype = job[F_TYPE]
      local attempt = tonumber(job[F_ATTEMPTS]) or 0
      local outcome
      tally(r.byType, jtype)
      pushError(job, attempt, reason, now)
      dropToken(job)
      if job[F_CANCEL] then
        outcome = "cancelled"
        finish(key, job, k.cancelled, k.stats, CANCELLED, id, now, k.outbox)
        addEvent(r.cancelledEvents, { id, jtype, attempt })
      elseif attempt >= tonumber(job[F_MAX_ATTEMPTS]) then
        outcome = "failed"
        finish(key, job, k.failed, k.stats, FAILED, id, now, k.outbox)
        r.dead = r.dead + 1
        addEvent(r.failedEvents, { id, jtype, attempt, reason })
      else
        outcome = "pending"
        endLease(job)
        job[F_STATE] = PENDING
        save(key, job)
        group(r.pending, job[F_PRIORITY], id)
        tally(r.pendingByType, jtype)
        r.requeued = r.requeued + 1
      end
      addEvent(r.recoveredEvents, { id, jtype, attempt, outcome })
      local rec = r.recovered
      rec[#rec + 1] = id
      rec[#rec + 1] = jtype
      rec[#rec + 1] = attempt
      rec[#rec + 1] = outcome
      r.count = r.count + 1
    end
  end
  -- Every id leaves the running set: a member whose record moved on (which
  -- the scripts never leave behind) must not make every later pass look again.
  callChunked("ZREM", k.running, ids)
end

-- Counters, history (of the minute of `now`), pending lists and the wake
-- marker for everything `r` reaped.
local function reapDone(r, now)
  local k = r.keys
  local h = {}
  if r.requeued > 0 then h.r = r.requeued end
  if r.dead > 0 then h.f = r.dead end
  writeHistory(k.history, now, h)
  statBatch(k.stats, "running", r.byType, -1)
  statBatch(k.stats, "pending", r.pendingByType, 1)
  if r.requeued > 0 then redis.call("HINCRBY", k.stats, "retried", r.requeued) end
  pushPendingGroups(k.priorities, r.pending)
  if r.requeued > 0 then wake(k.wake) end
end

-- The running jobs whose lease token names `owner` (a scan of the running
-- set: reaping by owner is rare, the hot paths stay untouched).
local function heldBy(runningKey, owner)
  local ids = {}
  for _, id in ipairs(redis.call("ZRANGE", runningKey, 0, -1)) do
    local job = load(jobPrefix .. id)
    if job and ownerOf(job[F_TOKEN]) == owner then ids[#ids + 1] = id end
  end
  return ids
end
