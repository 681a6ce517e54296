-- outbox_done.lua: removes delivered flow outbox entries (flow_outbox.ts),
-- each only if it is still the entry that was delivered: a job that ended
-- again meanwhile (requeued, then finished) wrote its entry anew, with a
-- later score, and that one must stay for its own delivery.
--
-- KEYS[1] outbox: ZSET, the flow outbox
--
-- ARGV[1..8] the queue constants (_lib.lua)
-- ARGV[9..] (member, score) repeated: an entry as read, with its score
--
-- Returns { removed, events }: how many entries were removed; events is
-- always empty. No error codes.

local outboxKey = KEYS[1]
local restFrom = 9

local removed = 0
for i = restFrom, #ARGV, 2 do
  local score = redis.call("ZSCORE", outboxKey, ARGV[i])
  if score and tonumber(score) == tonumber(ARGV[i + 1]) then
    redis.call("ZREM", outboxKey, ARGV[i])
    removed = removed + 1
  end
end
return { removed, {} }
