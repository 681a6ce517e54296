-- link.lua: links a dependent of another queue into dependencies of this
-- queue (the flow outbox's drain of an `l:` entry, flow_outbox.ts): adds
-- it to each one's dependents and flags the dependency, so its end reaches
-- the dependent through this queue's outbox; one that ended already is
-- answered with its outcome for the caller to deliver (resolve.lua).
-- Linking twice changes nothing.
--
-- KEYS[1] outbox: ZSET, the flow outbox (names this queue's slot; untouched)
--
-- ARGV[1..8] the queue constants (_lib.lua)
-- ARGV[9] dependent: the dependent's id (another queue's)
-- ARGV[10..] (dependency) repeated: ids of its dependencies in this queue
--
-- Returns { outcomes, events }: per dependency "" while it has not ended,
-- else the cmsgpack {outcome, type, value} to deliver ("x" for one that
-- no longer exists); events is always empty. No error codes.

local outboxKey = KEYS[1]
local dependent = ARGV[9]
local restFrom = 10

local out = {}
assert(outboxKey)
for i = restFrom, #ARGV do
  local id = ARGV[i]
  local parent = load(jobPrefix .. id)
  if not parent then
    out[#out + 1] = outcomeOf("x", false, "expired")
  else
    local code = linkDependency(id, parent, dependent)
    if code == "c" then
      out[#out + 1] = outcomeOf(code, parent[F_TYPE], parent[F_RESULT])
    elseif code then
      out[#out + 1] = outcomeOf(code, parent[F_TYPE], parent[F_ERROR])
    else
      out[#out + 1] = ""
    end
  end
end
return { out, {} }
