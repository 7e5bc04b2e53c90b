"""The Lua scripts `routing.redis_store` runs: each is one atomic step on the shared state.

Redis runs a script to the end before any other command, so a compare and its set cannot be
split by another node: that is how an agent is never reserved twice and an entry never taken
twice. The agent state machine's allowed moves are generated from `routing.model` (one
source of truth), not copied by hand.

Keys are made from the store's prefix (passed as ARGV[1]) inside the scripts, so the store
must run on one Redis server (or give the prefix a `{hash tag}` on a cluster).

Agent status: one hash per agent, `<p>agent:<id>` with fields state, reason, since,
idle_since, active, reserved_for, node (the node that made the last move); numbers are
written as the Python side formatted them, so they come back exactly. `<p>snap` holds each
agent's status again as one JSON text, rewritten by every move, so reading all of them is
one HVALS. `<p>agents` is the set
of agent ids with a status; `<p>reserved:<entry id>` the set of agents reserved for an entry
(normally one; two nodes may each reserve one for the same entry, and only one takes it).
"""

from __future__ import annotations

from routing.model import _MOVES

# "old:new" for every allowed move, as a Lua table literal.
_MOVES_LUA = "{" + ", ".join(
    f'["{old.value}:{new.value}"] = true' for old, news in _MOVES.items() for new in news
) + "}"

# Shared helpers: the agent's hash as a flat list, and one move applied.
_AGENT_LIB = "local MOVES = " + _MOVES_LUA + """
local function agent_key(p, id) return p .. 'agent:' .. id end
local function flat(key) return redis.call('HGETALL', key) end
local function move(p, id, key, old, new, now, reason, reserved_for, delta, node)
  if not MOVES[old .. ':' .. new] then return {'illegal', old} end
  local active = tonumber(redis.call('HGET', key, 'active') or '0') + delta
  if active < 0 then return {'negative'} end
  local prev_for = redis.call('HGET', key, 'reserved_for')
  if prev_for and prev_for ~= '' then redis.call('SREM', p .. 'reserved:' .. prev_for, id) end
  redis.call('HSET', key, 'state', new, 'since', now, 'active', tostring(active), 'node', node)
  if new == 'break' and reason ~= '' then redis.call('HSET', key, 'reason', reason) else
    redis.call('HDEL', key, 'reason') end
  if new == 'available' then redis.call('HSET', key, 'idle_since', now) end
  if new == 'reserved' then
    redis.call('HSET', key, 'reserved_for', reserved_for)
    redis.call('SADD', p .. 'reserved:' .. reserved_for, id)
  else
    redis.call('HDEL', key, 'reserved_for')
  end
  redis.call('SADD', p .. 'agents', id)
  local v = redis.call('HMGET', key, 'state', 'reason', 'since', 'idle_since', 'active',
                       'reserved_for')
  redis.call('HSET', p .. 'snap', id, cjson.encode({id, v[1], v[2], v[3], v[4], v[5], v[6]}))
  return {'ok', flat(key)}
end
"""

# ARGV: prefix, agent id, new state, now, expect (",a,b," or "*" for any), reason
# (or ""), reserved_for (or ""), active delta, node id, expect_for ("*" for any, or "="
# and the entry id the agent must be reserved for).
TRANSITION = _AGENT_LIB + """
local p, id, new = ARGV[1], ARGV[2], ARGV[3]
local key = agent_key(p, id)
local old = redis.call('HGET', key, 'state') or 'offline'
if ARGV[5] ~= '*' and not string.find(ARGV[5], ',' .. old .. ',', 1, true) then
  return {'nochange'}
end
if ARGV[10] ~= '*' and '=' .. (redis.call('HGET', key, 'reserved_for') or '') ~= ARGV[10] then
  return {'nochange'}
end
return move(p, id, key, old, new, ARGV[4], ARGV[6], ARGV[7], tonumber(ARGV[8]), ARGV[9])
"""

# ARGV: prefix, entry id, now, node id. Every agent reserved for the entry becomes
# available: the look-up, the check and the release are one step.
# Returns {id1, flat1, id2, flat2, ...} of the agents released.
RELEASE_RESERVATION = _AGENT_LIB + """
local p, entry = ARGV[1], ARGV[2]
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', p .. 'reserved:' .. entry)) do
  local key = agent_key(p, id)
  if redis.call('HGET', key, 'state') == 'reserved' and
     redis.call('HGET', key, 'reserved_for') == entry then
    local result = move(p, id, key, 'reserved', 'available', ARGV[3], '', '', 0, ARGV[4])
    out[#out + 1] = id
    out[#out + 1] = result[2]
  else
    redis.call('SREM', p .. 'reserved:' .. entry, id)
  end
end
return out
"""

# ARGV: prefix. Every agent's status, one JSON list per line: [id, state, reason, since,
# idle_since, active, reserved_for] (values the strings stored, so numbers come back exactly;
# false where unset), kept ready by every move in `<p>snap`. One reply, and a reader can
# decode only the lines that changed since its last read (JSON text holds no raw newline).
STATUSES = """
return table.concat(redis.call('HVALS', ARGV[1] .. 'snap'), '\\n')
"""

# ARGV: prefix, now, node id, then agent id and entry id pairs. Each agent AVAILABLE is
# reserved for its entry; returns, in order, {'ok', flat} or {'nochange'}.
RESERVE = _AGENT_LIB + """
local p, now, node = ARGV[1], ARGV[2], ARGV[3]
local out = {}
for i = 4, #ARGV, 2 do
  local id, entry = ARGV[i], ARGV[i + 1]
  local key = agent_key(p, id)
  if (redis.call('HGET', key, 'state') or 'offline') == 'available' then
    out[#out + 1] = move(p, id, key, 'available', 'reserved', now, '', entry, 0, node)
  else
    out[#out + 1] = {'nochange'}
  end
end
return out
"""

# ARGV: prefix, agent id. Forget the agent's status; returns what it was (or empty).
REMOVE_AGENT = """
local p, id = ARGV[1], ARGV[2]
local key = p .. 'agent:' .. id
local old = redis.call('HGETALL', key)
if #old == 0 then return old end
local prev_for = redis.call('HGET', key, 'reserved_for')
if prev_for then redis.call('SREM', p .. 'reserved:' .. prev_for, id) end
redis.call('DEL', key)
redis.call('SREM', p .. 'agents', id)
redis.call('HDEL', p .. 'snap', id)
return old
"""

# ARGV: prefix, entry id, queue, score, entry JSON, node id. 0 if the id is stored already.
ADD_ENTRY = """
local p, id = ARGV[1], ARGV[2]
if redis.call('HSETNX', p .. 'entries', id, ARGV[5]) == 0 then return 0 end
redis.call('ZADD', p .. 'q:' .. ARGV[3], ARGV[4], ARGV[5])
redis.call('HSET', p .. 'owner', 'e:' .. id, ARGV[6])
return 1
"""

# ARGV: prefix, entry id. Takes the entry out; returns its JSON, or nil if it was not there
# (someone else took it).
REMOVE_ENTRY = """
local p, id = ARGV[1], ARGV[2]
local raw = redis.call('HGET', p .. 'entries', id)
if not raw then return false end
local queue = cjson.decode(raw)[2]
redis.call('HDEL', p .. 'entries', id)
redis.call('ZREM', p .. 'q:' .. queue, raw)
redis.call('HDEL', p .. 'owner', 'e:' .. id)
return raw
"""

# ARGV: prefix, queue. The queue's entries in line order (priority, then place), one JSON
# text per line (the sorted set's members are the entries' texts).
ENTRIES = """
return table.concat(redis.call('ZRANGE', ARGV[1] .. 'q:' .. ARGV[2], 0, -1), '\\n')
"""

# ARGV: prefix, callback id, callback JSON, node id. 0 if the id is stored already.
ADD_CALLBACK = """
local p, id = ARGV[1], ARGV[2]
if redis.call('HSETNX', p .. 'callbacks', id, ARGV[3]) == 0 then return 0 end
redis.call('HSET', p .. 'owner', 'c:' .. id, ARGV[4])
return 1
"""

# ARGV: prefix, callback id, new JSON, expect (",a,b," or "*"), keep (1: stays in Redis,
# 0: finished and kept only by the database). Returns 'missing', 'mismatch' or 'ok'.
UPDATE_CALLBACK = """
local p, id = ARGV[1], ARGV[2]
local raw = redis.call('HGET', p .. 'callbacks', id)
if not raw then return 'missing' end
local state = cjson.decode(raw)['state']
if ARGV[4] ~= '*' and not string.find(ARGV[4], ',' .. state .. ',', 1, true) then
  return 'mismatch'
end
if ARGV[5] == '1' then
  redis.call('HSET', p .. 'callbacks', id, ARGV[3])
else
  redis.call('HDEL', p .. 'callbacks', id)
  redis.call('HDEL', p .. 'owner', 'c:' .. id)
end
return 'ok'
"""

# ARGV: prefix, floor. The place-in-line counter is raised to at least `floor` (never lowered).
SEQ_FLOOR = """
local key = ARGV[1] .. 'seq'
if tonumber(redis.call('GET', key) or '0') < tonumber(ARGV[2]) then
  redis.call('SET', key, ARGV[2])
end
return redis.call('GET', key)
"""

# ARGV: prefix, dead node, taking node, now, force (1: no lease check, a node resuming its
# own work after a restart). Only one caller wins a dead node: the one that removes it from
# `<p>nodes` (or, forced, anyone). Its entries are taken out of line (calls died with the
# node; callback entries are lined up again by the taker's engine), its callbacks become the
# taker's, agents it had RESERVED become available and ones ON_CALL go to wrap-up.
# Returns {won (0/1), {entry JSON...}, {callback id...}, {agent id...}}.
TAKE_OVER = _AGENT_LIB + """
local p, dead, me, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if ARGV[5] ~= '1' then
  if redis.call('EXISTS', p .. 'lease:' .. dead) == 1 then return {0, {}, {}, {}} end
  if redis.call('SREM', p .. 'nodes', dead) == 0 then return {0, {}, {}, {}} end
end
local entries, callbacks, agents = {}, {}, {}
local owners = redis.call('HGETALL', p .. 'owner')
for i = 1, #owners, 2 do
  if owners[i + 1] == dead then
    local kind, id = string.sub(owners[i], 1, 1), string.sub(owners[i], 3)
    if kind == 'e' then
      local raw = redis.call('HGET', p .. 'entries', id)
      if raw then
        redis.call('HDEL', p .. 'entries', id)
        redis.call('ZREM', p .. 'q:' .. cjson.decode(raw)[2], raw)
        entries[#entries + 1] = raw
      end
      redis.call('HDEL', p .. 'owner', owners[i])
    else
      redis.call('HSET', p .. 'owner', owners[i], me)
      callbacks[#callbacks + 1] = id
    end
  end
end
for _, id in ipairs(redis.call('SMEMBERS', p .. 'agents')) do
  local key = agent_key(p, id)
  if redis.call('HGET', key, 'node') == dead then
    local state = redis.call('HGET', key, 'state')
    local result = nil
    if state == 'reserved' then
      result = move(p, id, key, 'reserved', 'available', now, '', '', 0, me)
    elseif state == 'on_call' then
      local delta = 0
      if tonumber(redis.call('HGET', key, 'active') or '0') > 0 then delta = -1 end
      result = move(p, id, key, 'on_call', 'wrap_up', now, '', '', delta, me)
    end
    if result then agents[#agents + 1] = id end
  end
end
return {1, entries, callbacks, agents}
"""
