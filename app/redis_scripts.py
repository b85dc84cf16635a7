"""Every Lua script alerter runs in Redis, in one place.

A write that must be atomic across web and worker processes is a script: a batch costs one round
trip whatever its size, and two processes writing the same thing at the same moment cannot lose
an update. Each script's header says what its KEYS and ARGV hold and what it returns. Key names
come from `app/redis_keys.py`: a script gets its keys in KEYS, except where it must name
per-group keys for group ids it only learns inside Redis (PUT_ALERTS, CLAIM_DUE_GROUPS,
CLAIM_DUE_RETRIES); those take the keys' stems (`Keys.group_stem`, ...) in ARGV and append the
group id.

Users register a script with `client.register_script(TEXT)`.
"""

from __future__ import annotations

# ---------------------------------------------------------------------------------------------
# Alerts and groups (app/store.py)

# PUT_ALERTS: Alertmanager's merge of a stored alert with an incoming one, plus insertion into the
# aggregation groups the alert routes to.
#   KEYS[1]  P:alerts, the alerts hash
#   KEYS[2]  P:timers, the group timers
#   KEYS[3]  P:groups, the group index
#   ARGV[1]  now (epoch seconds)
#   ARGV[2]  the stem of the group hashes, P:group: (the script appends each gid)
#   ARGV[3]  the stem of the group member sets, P:gmembers: (the script appends each gid)
#   ARGV[4]  the batch's groups as JSON {gid: [group_wait, group_interval, metadata JSON]}
#   ARGV[5]  the alerts as lines "fingerprint TAB gid,gid,... TAB encoded alert" (an encoded
#            alert never holds a raw tab or newline: its JSON escapes them). Lines instead of a
#            JSON list because the alerts are JSON already: embedding them in JSON again cost
#            both sides an escape and an unescape per alert.
#   Returns  how many alerts merged with a stored version.
# The group keys are built here from ARGV[2] and ARGV[3] because the groups come with the batch
# (a gid per line); a new group is created with its metadata, "gi" and "flushed" = "0", and
# armed for group_wait.
PUT_ALERTS = """
local now = tonumber(ARGV[1])
local group_stem, members_stem = ARGV[2], ARGV[3]
local groups = cjson.decode(ARGV[4])
local lines = ARGV[5]
local function times(v)
  local s, e, u, t = string.match(v, '^(%S+) (%S+) (%S+) (%d) ')
  return tonumber(s), tonumber(e), tonumber(u), t
end
-- Returns the merged value and its startsAt. Re-sends merge into the incoming value unchanged
-- (same startsAt, later endsAt), so that case returns it as it came, without re-formatting.
local function merge(old_raw, new_raw)
  local os, oe, ou, ot = times(old_raw)
  local ns, ne, nu, nt = times(new_raw)
  -- Merge only when the activity ranges overlap; otherwise the incoming alert replaces.
  if not ((ne > os and ne < oe) or (ns > os and ns < oe)) then
    return new_raw, ns
  end
  local ys, ye, yt, yraw, olds, olde, oldt = ns, ne, nt, new_raw, os, oe, ot
  if nu < ou then
    ys, ye, yt, yraw, olds, olde, oldt = os, oe, ot, old_raw, ns, ne, nt
  end
  local s, e = ys, ye
  if olds < s then s = olds end
  if ye <= now then
    if olde <= now and olde > ye then e = olde end
  elseif olde > ye and oldt == '0' then
    e = olde
  end
  if s == ys and e == ye then
    return yraw, s
  end
  local u, body = string.match(yraw, '^%S+ %S+ (%S+) %d (.*)$')
  return string.format('%.17g %.17g %s %s %s', s, e, u, yt, body), s
end
local merged_count = 0
local flushed_by_gid = {}
local pos, last = 1, #lines
while pos <= last do
  local t1 = string.find(lines, '\\t', pos, true)
  local t2 = string.find(lines, '\\t', t1 + 1, true)
  local nl = string.find(lines, '\\n', t2 + 1, true) or (last + 1)
  local fp = string.sub(lines, pos, t1 - 1)
  local gids = string.sub(lines, t1 + 1, t2 - 1)
  local value = string.sub(lines, t2 + 1, nl - 1)
  pos = nl + 1
  local starts
  local old = redis.call('HGET', KEYS[1], fp)
  if old then
    value, starts = merge(old, value)
    merged_count = merged_count + 1
  else
    starts = tonumber(string.match(value, '^%S+'))
  end
  redis.call('HSET', KEYS[1], fp, value)
  for gid in string.gmatch(gids, '[^,]+') do
    local g = groups[gid]
    local gw, gi, meta = g[1], g[2], g[3]
    local gkey = group_stem .. gid
    -- A batch usually holds several alerts of one group (one rule's alerts): look it up once.
    local flushed = flushed_by_gid[gid]
    if not flushed then
      flushed = redis.call('HGET', gkey, 'flushed')
      if not flushed then
        redis.call('HSET', gkey, 'meta', meta, 'gi', string.format('%.17g', gi), 'flushed', '0')
        redis.call('SADD', KEYS[3], gid)
        redis.call('ZADD', KEYS[2], now + gw, gid)
        flushed = '0'
      end
      flushed_by_gid[gid] = flushed
    end
    redis.call('SADD', members_stem .. gid, fp)
    -- An alert older than group_wait in a group that never flushed is due at once.
    if starts + gw < now and flushed == '0' then
      local due = redis.call('ZSCORE', KEYS[2], gid)
      if due and tonumber(due) > now then redis.call('ZADD', KEYS[2], now, gid) end
    end
  end
end
return merged_count
"""

# DROP_FROM_GROUP: take alerts out of a group (notified resolutions, alerts a reloaded config
# routes elsewhere), each only if its value is still the one the flush read (an alert that fired
# again meanwhile stays), and delete the group once it is empty.
#   KEYS[1]  P:alerts, the alerts hash
#   KEYS[2]  P:gmembers:<gid>, the group's members
#   KEYS[3]  P:group:<gid>, the group
#   KEYS[4]  P:groups, the group index
#   KEYS[5]  P:timers, the group timers
#   ARGV[1]  the group id
#   ARGV[2i], ARGV[2i+1] (i >= 1)  a fingerprint and its value as the flush read it
#   Returns  -1 when the group went, else 0.
DROP_FROM_GROUP = """
for i = 2, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then redis.call('SREM', KEYS[2], ARGV[i]) end
end
if redis.call('SCARD', KEYS[2]) == 0 then
  redis.call('DEL', KEYS[3])
  redis.call('SREM', KEYS[4], ARGV[1])
  redis.call('ZREM', KEYS[5], ARGV[1])
  return -1
end
return 0
"""

# DELETE_UNCHANGED: delete hash fields whose value is still the one the caller read (a GC sweep
# must not drop an entry that was updated meanwhile). Used on P:alerts (app/store.py), P:nflog
# (app/nflog.py) and P:silences (app/silence.py).
#   KEYS[1]  the hash
#   ARGV[2i-1], ARGV[2i] (i >= 1)  a field and its value as the caller read it
#   Returns  how many fields went.
DELETE_UNCHANGED = """
local deleted = 0
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
    deleted = deleted + 1
  end
end
return deleted
"""

# ---------------------------------------------------------------------------------------------
# Group timers (app/timers.py)

# CLAIM_DUE_GROUPS: claim the groups whose timer is due: re-arm each for its group_interval
# *before* the flush runs (Alertmanager's fixed cadence), mark it flushed, and mark a flush in
# flight unless one already is; a timer whose group is gone is dropped. The regular flush takes
# over from the retries of the previous one: the group's pending retry goes, and its backoff
# starts again from the first step.
#   KEYS[1]  P:timers, the group timers
#   KEYS[2]  P:retries, the retry due times
#   ARGV[1]  now (epoch seconds)
#   ARGV[2]  the stem of the group hashes, P:group: (the script appends each gid)
#   ARGV[3]  the stem of the in-flight marks, P:inflight: (the script appends each gid)
#   ARGV[4]  the most groups to claim
#   ARGV[5]  the in-flight marks' TTL in milliseconds
#   Returns  the ids of the groups claimed (due and not already in flight).
# The group and in-flight keys are built here from ARGV[2] and ARGV[3] because the due group ids
# are only known once the script has read the timers.
CLAIM_DUE_GROUPS = """
local now, limit, ttl = tonumber(ARGV[1]), tonumber(ARGV[4]), ARGV[5]
local group_stem, inflight_stem = ARGV[2], ARGV[3]
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, limit)
local claimed = {}
for _, gid in ipairs(due) do
  local gkey = group_stem .. gid
  local interval = redis.call('HGET', gkey, 'gi')
  if not interval then
    redis.call('ZREM', KEYS[1], gid)
  else
    redis.call('ZADD', KEYS[1], now + tonumber(interval), gid)
    redis.call('HSET', gkey, 'flushed', '1')
    redis.call('HDEL', gkey, 'rn')
    redis.call('ZREM', KEYS[2], gid)
    if redis.call('SET', inflight_stem .. gid, '1', 'NX', 'PX', ttl) then
      claimed[#claimed + 1] = gid
    end
  end
end
return claimed
"""

# ---------------------------------------------------------------------------------------------
# Retries (app/retries.py)

# SCHEDULE_RETRY: give a group whose flush left a retryable failure its next retry, after
# Alertmanager's backoff (the n-th retry since the group's last regular flush comes after
# min(start x factor^(n-1), cap) x jitter), if that is before the group's next regular flush:
# from then on the regular flush takes over. A group keeps its earliest pending retry.
#   KEYS[1]  P:retries, the retry due times
#   KEYS[2]  P:timers, the group timers
#   KEYS[3]  P:group:<gid>, the group
#   ARGV[1]  the group id
#   ARGV[2]  now (epoch seconds)
#   ARGV[3]  the jitter factor drawn by the caller (0.5 to 1.5)
#   ARGV[4], ARGV[5], ARGV[6]  the backoff's first interval, factor and cap (seconds)
#   Returns  the retry's due time as a string, or nil when the group is gone or its next
#            regular flush comes first.
SCHEDULE_RETRY = """
if redis.call('EXISTS', KEYS[3]) == 0 then return false end
local next_flush = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not next_flush then return false end
local n = redis.call('HINCRBY', KEYS[3], 'rn', 1)
local interval = math.min(tonumber(ARGV[4]) * tonumber(ARGV[5]) ^ (n - 1), tonumber(ARGV[6]))
local due = tonumber(ARGV[2]) + interval * tonumber(ARGV[3])
if due >= tonumber(next_flush) then return false end
local pending = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not pending or due < tonumber(pending) then redis.call('ZADD', KEYS[1], due, ARGV[1]) end
return string.format('%.17g', due)
"""

# CLAIM_DUE_RETRIES: claim the groups whose retry is due and mark a flush in flight for each.
# A retry whose group is gone, or whose group already has a flush queued (that flush re-sends
# what is left unsent anyway), is dropped.
#   KEYS[1]  P:retries, the retry due times
#   ARGV[1]  now (epoch seconds)
#   ARGV[2]  the stem of the group hashes, P:group: (the script appends each gid)
#   ARGV[3]  the stem of the in-flight marks, P:inflight: (the script appends each gid)
#   ARGV[4]  the most groups to claim
#   ARGV[5]  the in-flight marks' TTL in milliseconds
#   Returns  the ids of the groups claimed.
CLAIM_DUE_RETRIES = """
local group_stem, inflight_stem = ARGV[2], ARGV[3]
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[4]))
local claimed = {}
for _, gid in ipairs(due) do
  redis.call('ZREM', KEYS[1], gid)
  if redis.call('EXISTS', group_stem .. gid) == 1
      and redis.call('SET', inflight_stem .. gid, '1', 'NX', 'PX', ARGV[5]) then
    claimed[#claimed + 1] = gid
  end
end
return claimed
"""

# ---------------------------------------------------------------------------------------------
# Notification log and send leases (app/nflog.py)

# ACQUIRE_LEASES: for each notification, take the lease to send it if its log entry is still the
# one the caller read.
#   KEYS[1]  P:nflog, the notification log
#   KEYS[i] (i >= 2)  P:lease:<sha1>, the lease of item i-1
#   ARGV[1]  the leases' TTL in milliseconds
#   ARGV[3i-4], ARGV[3i-3], ARGV[3i-2] (i >= 2)  for the item of KEYS[i]: its log field, the
#            entry as read ('' when absent), the caller's lease token
#   Returns  one verdict per item: 'ok' (the lease is the caller's), 'busy' (another worker holds
#            it) or 'changed' (the entry changed since it was read).
ACQUIRE_LEASES = """
local verdicts = {}
for i = 2, #KEYS do
  local field, seen, token = ARGV[3 * i - 4], ARGV[3 * i - 3], ARGV[3 * i - 2]
  if (redis.call('HGET', KEYS[1], field) or '') ~= seen then
    verdicts[#verdicts + 1] = 'changed'
  elseif redis.call('SET', KEYS[i], token, 'NX', 'PX', ARGV[1]) then
    verdicts[#verdicts + 1] = 'ok'
  else
    verdicts[#verdicts + 1] = 'busy'
  end
end
return verdicts
"""

# COMMIT_LEASE: record a send and drop its lease, unless another worker committed a newer
# notification for this integration while ours was in flight (a slow receiver, or a pause):
# writing ours then would roll the log back and make the next flush send the newer content
# again. The lease is dropped only if it is still the caller's.
#   KEYS[1]  P:nflog, the notification log
#   KEYS[2]  P:lease:<sha1>, the lease
#   ARGV[1]  the log field
#   ARGV[2]  the new entry (nflog.Entry JSON)
#   ARGV[3]  the caller's lease token
#   ARGV[4]  the entry as read when the lease was taken ('' when absent)
#   Returns  1 if the entry was written, 0 if a newer one was kept.
COMMIT_LEASE = """
local written = 0
if (redis.call('HGET', KEYS[1], ARGV[1]) or '') == ARGV[4] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  written = 1
end
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
return written
"""

# RELEASE_LEASE: drop a lease if it is still the caller's (after a failed send).
#   KEYS[1]  P:lease:<sha1>, the lease
#   ARGV[1]  the caller's lease token
#   Returns  1 if the lease was dropped, else 0.
RELEASE_LEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# REFRESH_LEASE: extend a lease if it is still the caller's (a holder still retrying its send).
#   KEYS[1]  P:lease:<sha1>, the lease
#   ARGV[1]  the caller's lease token
#   ARGV[2]  the new TTL in milliseconds
#   Returns  1 if the lease was extended, 0 if it was lost.
REFRESH_LEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
