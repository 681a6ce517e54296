-- link.lua: links a dependent of another queue into dependencies of this
-- queue (the flow outbox's drain of an `l:` entry, flow_outbox.ts): adds
-- it to each one's dependents and flags the dependency, so its end reaches
-- the dependent through this queue's outbox; one that ended already is
-- answered with its outcome for the caller to deliver (resolve.lua).
-- Linking twice changes nothing. Mode "unpin": the dependent finished (an
-- outbox `u:` entry); it leaves the dependencies' `:w` SETs.
--
-- KEYS[1] outbox: ZSET, the flow outbox (names this queue's slot; untouched)
--
-- ARGV[1..8] the queue constants (_lib.lua)
-- ARGV[9] dependent: the dependent's id (another queue's)
-- ARGV[10] mode: "link", or "unpin" (see above)
-- ARGV[11..] (dependency) repeated: ids of its dependencies in this queue
--
-- Returns { outcomes, events }: link: per dependency "" while it has not
-- ended, else the cmsgpack {outcome, type, value} to deliver ("x" for one
-- that no longer exists); unpin: every entry ""; events is always empty.
-- No error codes.

local outboxKey = KEYS[1]
local dependent = ARGV[9]
local mode = ARGV[10]
local restFrom = 11

-- One dependency's answer to the link: "" while it has not ended, else its outcome.
local function link(id)
  local parent = load(jobPrefix .. id)
  if not parent then return outcomeOf("x", false, "expired") end
  local code = linkDependency(id, parent, dependent)
  if code == "c" then return outcomeOf(code, parent[F_TYPE], false) end
  if code then return outcomeOf(code, parent[F_TYPE], parent[F_ERROR]) end
  return ""
end

local out = {}
assert(outboxKey)
for i = restFrom, #ARGV do
  local id = ARGV[i]
  if mode == "unpin" then
    redis.call("SREM", jobPrefix .. id .. ":w", dependent)
    out[#out + 1] = ""
  else
    out[#out + 1] = link(id)
  end
end
return { out, {} }
