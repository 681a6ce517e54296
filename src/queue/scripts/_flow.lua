-- _flow.lua: job dependencies, shared by the scripts that create, release
-- or settle waiting jobs; scripts.ts prepends it after _lib.lua. A job of no
-- flow never reaches these functions: the callers test a record field first.
--
-- A dependent D keeps its dependencies in the HASH jobPrefix .. D .. ":d":
-- dependency id -> "0" while pending, else cmsgpack {outcome, type, value}
-- where outcome is "c" completed (no value: its result stays in its own
-- record, which is kept until D finishes, and is read from there), "f"
-- failed (value: its error) or "x" cancelled. Its record counts them (F_DEPS_*).
-- A dependency P lists its dependents in the SET jobPrefix .. P .. ":r" and
-- carries F_DEPENDENTS. Dependents of P's own queue are settled in the
-- script that finishes P when it completes; every other delivery goes
-- through the queue's outbox (finishFlow in _lib.lua, drained by
-- flow_outbox.ts into resolve.lua of the dependent's queue). Each delivery
-- is idempotent: a field that holds an outcome is never counted twice.
--
-- A dependent of another queue of a dependency of this queue is a member
-- of its `:w` SET, from the link (link.lua) until it finishes (an outbox
-- `u:` entry, link.lua again): the dependency is kept meanwhile.
--
-- `Q`, the flow keys a script passes: waiting, priorities, scheduled, failed,
-- cancelled, stats, wake, outbox (ZSET/LIST/HASH keys of the script's
-- queue), and failedEvents, cancelledEvents (event groups), as far as the
-- script's transitions need them.

-- The queue part of a job id ("" for the home queue's plain ids).
local function queueOfId(id)
  return string.match(id, "^(.*):[^:]*$") or ""
end

-- The packed outcome a dependency delivers.
local function outcomeOf(code, jtype, value)
  return cmsgpack.pack({ code, jtype or false, value or false })
end

-- The outcome code of a finished dependency's state, or nil while it is not finished.
local function codeOfState(state)
  if state == COMPLETED then return "c" end
  if state == FAILED then return "f" end
  if state == CANCELLED then return "x" end
  return nil
end

-- The ids, comma-separated, of the dependencies of this queue that no job
-- has (nor one earlier in the batch), or nil when every one is known. Other
-- queues' dependencies were checked by the caller.
local function unknownDependencies(jobs)
  local any = false
  for _, j in ipairs(jobs) do
    if j[8] then any = true; break end
  end
  if not any then return nil end
  local missing = nil
  local batch = {}
  for _, j in ipairs(jobs) do
    if j[8] then
      local own = queueOfId(j[1])
      for _, d in ipairs(j[8]) do
        if queueOfId(d) == own and not batch[d] and redis.call("EXISTS", jobPrefix .. d) == 0 then
          missing = missing and (missing .. "," .. d) or d
        end
      end
    end
    batch[j[1]] = true
  end
  return missing
end

-- Moves a waiting job whose dependencies are all done to pending (or
-- scheduled, when it also has a due time ahead).
local function releaseWaiting(Q, id, job, now)
  local key = jobPrefix .. id
  local jtype = job[F_TYPE]
  redis.call("ZREM", Q.waiting, id)
  stat(Q.stats, "waiting", jtype, -1)
  local due = tonumber(job[F_SCHEDULED_FOR])
  if due and due > now then
    job[F_STATE] = SCHEDULED
    save(key, job)
    redis.call("ZADD", Q.scheduled, due, id)
    announceDue(Q.scheduled, nil, due)
    stat(Q.stats, "scheduled", jtype, 1)
  else
    job[F_STATE] = PENDING
    job[F_SCHEDULED_FOR] = false
    save(key, job)
    pushPending(Q.priorities, job[F_PRIORITY], { id })
    stat(Q.stats, "pending", jtype, 1)
    wake(Q.wake)
  end
end

-- Ends a job that a failed or cancelled dependency `pid` takes down with it
-- (its policy fail or cancel): non-retryable, its error naming the dependency.
-- `wasWaiting`: it was in the waiting set (else it is new, never counted).
local function failByDependency(Q, id, job, pid, code, now, wasWaiting)
  local key = jobPrefix .. id
  local jtype = job[F_TYPE]
  if wasWaiting then
    redis.call("ZREM", Q.waiting, id)
    stat(Q.stats, "waiting", jtype, -1)
  end
  local cancel = job[F_DEP_POLICY] == "c"
  local message = "dependency " .. pid .. (code == "x" and " was cancelled" or " failed")
  pushError(job, tonumber(job[F_ATTEMPTS]) or 0, message, now)
  if cancel then
    finish(key, job, Q.cancelled, Q.stats, CANCELLED, id, now, Q.outbox)
    addEvent(Q.cancelledEvents, { id, jtype, tonumber(job[F_ATTEMPTS]) or 0 })
  else
    finish(key, job, Q.failed, Q.stats, FAILED, id, now, Q.outbox)
    addEvent(Q.failedEvents, { id, jtype, tonumber(job[F_ATTEMPTS]) or 0, message })
  end
end

-- Delivers dependency `pid`'s outcome to dependent `did` of this queue.
-- A dependent not written yet (a link from another queue raced its
-- enqueue) keeps the outcome for its enqueue to merge, expiring if it never comes.
local function resolveDependency(Q, did, pid, code, ptype, value, now)
  local dkey = jobPrefix .. did .. ":d"
  local current = redis.call("HGET", dkey, pid)
  if current and current ~= "0" then return end
  local job = load(jobPrefix .. did)
  if not job then
    if not current then
      redis.call("HSET", dkey, pid, outcomeOf(code, ptype, value))
      redis.call("PEXPIRE", dkey, finishedTtlMs)
    end
    return
  end
  if not current then return end
  redis.call("HSET", dkey, pid, outcomeOf(code, ptype, value))
  if job[F_STATE] ~= WAITING then return end
  local done = tonumber(job[F_DEPS_DONE]) or 0
  local failed = tonumber(job[F_DEPS_FAILED]) or 0
  if code == "c" then done = done + 1 else failed = failed + 1 end
  job[F_DEPS_DONE] = done
  job[F_DEPS_FAILED] = failed
  if code ~= "c" and job[F_DEP_POLICY] ~= "i" then
    failByDependency(Q, did, job, pid, code, now, true)
  elseif done + failed >= tonumber(job[F_DEPS_TOTAL]) then
    releaseWaiting(Q, did, job, now)
  else
    save(jobPrefix .. did, job)
  end
end

-- Dependency `pid` was requeued asking to revive its dependents: dependent
-- `did` of this queue that it took down (ended naming it, and doomed by no
-- other failed dependency) waits again, and its own dependents it took
-- down follow (an outbox entry `v:`); one still waiting forgets the failure
-- it had counted. A dependent that ran or ended otherwise is left alone.
local function reviveDependent(Q, did, pid, now)
  local dkey = jobPrefix .. did .. ":d"
  local current = redis.call("HGET", dkey, pid)
  if not current or current == "0" or cmsgpack.unpack(current)[1] == "c" then return end
  local key = jobPrefix .. did
  local job = load(key)
  if not job then return end
  local state = job[F_STATE]
  local failed = math.max(0, (tonumber(job[F_DEPS_FAILED]) or 1) - 1)
  if state == WAITING then
    redis.call("HSET", dkey, pid, "0")
    job[F_DEPS_FAILED] = failed
    save(key, job)
    return
  end
  if state ~= FAILED and state ~= CANCELLED then return end
  local err = job[F_ERROR]
  if type(err) ~= "string" or string.find(err, "dependency " .. pid, 1, true) ~= 1 then return end
  if failed > 0 and job[F_DEP_POLICY] ~= "i" then return end
  local jtype = job[F_TYPE]
  redis.call("HSET", dkey, pid, "0")
  redis.call("PERSIST", dkey)
  redis.call("ZREM", state == FAILED and Q.failed or Q.cancelled, did)
  stat(Q.stats, STATE_NAMES[state] .. "_gone", jtype, 1)
  job[F_DEPS_FAILED] = failed
  job[F_STATE] = WAITING
  job[F_FINISHED_AT] = false
  job[F_ERROR] = false
  -- Alive again: no expiry until it finishes anew (SET without PX drops the TTL).
  save(key, job)
  if job[F_IDEMPOTENCY_KEY] then
    redis.call("PERSIST", idempotencyPrefix .. job[F_IDEMPOTENCY_KEY])
  end
  redis.call("ZADD", Q.waiting, now, did)
  stat(Q.stats, "waiting", jtype, 1)
  if job[F_DEPENDENTS] then
    redis.call("PERSIST", key .. ":r")
    toOutbox(Q.outbox, now, "v:" .. did)
  end
end

-- A job just completed (its record `job`, result in it): settles its
-- dependents of this queue here, and puts it in the outbox when some are
-- in other queues (then returns true).
local function releaseDependents(Q, pid, job, now)
  local own = queueOfId(pid)
  local elsewhere = false
  for _, d in ipairs(redis.call("SMEMBERS", jobPrefix .. pid .. ":r")) do
    if queueOfId(d) == own then
      resolveDependency(Q, d, pid, "c", job[F_TYPE], false, now)
    else
      elsewhere = true
    end
  end
  redis.call("PEXPIRE", jobPrefix .. pid .. ":r", finishedTtlMs)
  if elsewhere then toOutbox(Q.outbox, now, "d:" .. pid) end
  return elsewhere
end

-- Links dependent `did` to dependency `pid` of this queue (its record
-- `parent`, which exists): adds it to the dependents and flags the
-- dependency; a dependent of another queue is also noted as waiting in the
-- dependency's `:w` SET (it keeps the dependency: _lib.lua's pinned).
-- Returns the dependency's outcome code when it finished already.
local function linkDependency(pid, parent, did)
  redis.call("SADD", jobPrefix .. pid .. ":r", did)
  if queueOfId(did) ~= queueOfId(pid) then
    redis.call("SADD", jobPrefix .. pid .. ":w", did)
    redis.call("PEXPIRE", jobPrefix .. pid .. ":w", finishedTtlMs)
  end
  local code = codeOfState(parent[F_STATE])
  if not parent[F_DEPENDENTS] then
    parent[F_DEPENDENTS] = 1
    saveKeepTtl(jobPrefix .. pid, parent)
  end
  if code then redis.call("PEXPIRE", jobPrefix .. pid .. ":r", finishedTtlMs) end
  return code
end

-- Enqueue of job tuple `j` (enqueue.lua's) whose j[8] lists its dependencies:
-- writes its dependencies HASH and its links into the dependencies of this
-- queue (other queues' are linked from the outbox: `l:` entry), counts what
-- is done already, and decides its state. Returns the packed record for the
-- caller to store as a ready job (every dependency done), or nil when it
-- wrote the job itself (waiting, or ended by a failed dependency).
local function holdForDependencies(Q, j, now)
  local id = j[1]
  local job = cmsgpack.unpack(j[7])
  local dkey = jobPrefix .. id .. ":d"
  local own = queueOfId(id)
  local done, failed, elsewhere = 0, 0, false
  local failedBy, failedCode = nil, nil
  for _, d in ipairs(j[8]) do
    local code = nil
    if queueOfId(d) == own then
      local parent = load(jobPrefix .. d)
      if parent then
        code = linkDependency(d, parent, id)
        if code == "c" then
          redis.call("HSET", dkey, d, outcomeOf(code, parent[F_TYPE], false))
        elseif code then
          redis.call("HSET", dkey, d, outcomeOf(code, parent[F_TYPE], parent[F_ERROR]))
        else
          redis.call("HSET", dkey, d, "0")
        end
      else
        -- Checked to exist (unknownDependencies): gone only by expiry meanwhile.
        code = "x"
        redis.call("HSET", dkey, d, outcomeOf(code, false, "expired"))
      end
    else
      elsewhere = true
      if redis.call("HSETNX", dkey, d, "0") == 0 then
        local delivered = redis.call("HGET", dkey, d)
        if delivered ~= "0" then code = cmsgpack.unpack(delivered)[1] end
      end
    end
    if code == "c" then
      done = done + 1
    elseif code then
      failed = failed + 1
      failedBy = failedBy or d
      failedCode = failedCode or code
    end
  end
  redis.call("PERSIST", dkey)
  job[F_DEPS_DONE] = done
  job[F_DEPS_FAILED] = failed
  if elsewhere then
    job[F_DEPS_ELSEWHERE] = 1
    toOutbox(Q.outbox, now, "l:" .. id)
  end
  if failed > 0 and job[F_DEP_POLICY] ~= "i" then
    -- Ended at once: its finish undoes the links about to be made (`u:` sorts after `l:`).
    failByDependency(Q, id, job, failedBy, failedCode, now, false)
    return nil
  end
  if done + failed >= tonumber(job[F_DEPS_TOTAL]) then return packJob(job) end
  job[F_STATE] = WAITING
  save(jobPrefix .. id, job)
  redis.call("ZADD", Q.waiting, now, id)
  stat(Q.stats, "waiting", job[F_TYPE], 1)
  return nil
end
