-- _webhooks.lua: completion webhooks (src/webhooks/); scripts.ts includes it
-- after _lib.lua in every script (it is not a script by itself). A job that
-- finishes (completed, failed dead, cancelled) gets its deliveries recorded
-- here, in the script that moves it, so a crash right after the transition
-- cannot lose them; the dispatcher (src/webhooks/dispatcher.ts) sends them.
--
-- Each script that finishes jobs names its queue's webhook keys first with
-- webhookQueue (they come from its KEYS: no key is built here), indexed by
-- the queue's outbox key, which every finishing path already has. A job with
-- no callback in a queue with no subscription costs one HGETALL (empty) per
-- script call, and a record field read per job.

-- The event letter of each final state (F_CALLBACK and the mirror use them).
local WEBHOOK_EVENT = { [COMPLETED] = "c", [FAILED] = "f", [CANCELLED] = "x" }

-- outbox key -> { subs, deliveries, due, wake, list = the parsed mirror once read }
local webhookQueues = {}

-- Names one queue's webhook keys (QueueKeys.webhookSubs, webhookDeliveries,
-- webhookDue, webhookWake) for the jobs finishing under `outboxKey`.
local function webhookQueue(outboxKey, subsKey, deliveriesKey, dueKey, wakeKey)
  webhookQueues[outboxKey] = { subs = subsKey, deliveries = deliveriesKey, due = dueKey,
    wake = wakeKey, list = nil }
end

-- The queue's subscriptions (read once per script call).
local function webhookSubscriptions(W)
  if W.list == nil then
    W.list = {}
    local flat = redis.call("HGETALL", W.subs)
    for i = 1, #flat, 2 do
      local events, jtype = string.match(flat[i + 1], "^([a-z]*)|(.*)$")
      if events then W.list[#W.list + 1] = { id = flat[i], events = events, type = jtype } end
    end
  end
  return W.list
end

-- Records one delivery of job `id`'s end `ev` (to subscription `sub`, or to
-- the job's own `url`), due now, and wakes a dispatcher. Its id is the job id
-- and a per-queue sequence number: the webhook-id every attempt carries.
local function webhookDelivery(W, id, job, ev, sub, url, now)
  local seq = redis.call("HINCRBY", W.deliveries, "#seq", 1)
  local did = id .. "~" .. seq
  redis.call("HSET", W.deliveries, did,
    cmsgpack.pack({ id, ev, sub, url, now, 0, false, job, false, false, false }))
  redis.call("ZADD", W.due, now, did)
  wake(W.wake)
end

webhookFinished = function(job, id, state, now, outboxKey)
  local W = webhookQueues[outboxKey]
  local ev = WEBHOOK_EVENT[state]
  if not W or not ev then return end
  local cb = job[F_CALLBACK]
  if cb then
    local events, url = string.match(cb, "^([a-z]*)|(.+)$")
    if url and string.find(events, ev, 1, true) then
      webhookDelivery(W, id, job, ev, "", url, now)
    end
  end
  for _, s in ipairs(webhookSubscriptions(W)) do
    if string.find(s.events, ev, 1, true) and (s.type == "" or s.type == job[F_TYPE]) then
      webhookDelivery(W, id, job, ev, s.id, "", now)
    end
  end
end
