"""Every Lua script alerter runs in Redis, in one place.

A write that must be atomic across web and worker processes is a script: a batch costs one round
trip whatever its size, and two processes writing the same thing at the same moment cannot lose
an update. Each script's header says what its KEYS and ARGV hold and what it returns. Key names
come from `app/redis_keys.py`: a script gets its keys in KEYS, except where it must name
per-group keys for group ids it only learns inside Redis (PUT_ALERTS, LOAD_GROUPS,
CLAIM_DUE_GROUPS, RECORD_ATTEMPTS, DROP_OLD_HISTORIES, CLAIM_DUE_RETRIES); those take the keys' stems
(`Keys.group_stem`, ...) in ARGV and append the group id.

Users register a script with `app.rediscluster.register(client, TEXT)`: redis-py's
`register_script`, called more cheaply.
"""

from __future__ import annotations

# ---------------------------------------------------------------------------------------------
# Alerts and groups (app/store.py)

# PUT_ALERTS: Alertmanager's merge of a stored alert with an incoming one, plus insertion into the
# aggregation groups the alert routes to, under --alerts.per-alertname-limit.
#   KEYS[1]  P:alerts, the alerts hash
#   KEYS[2]  P:timers, the group timers
#   KEYS[3]  P:groups, the group index
#   KEYS[4]  P:alert-times, the times of the alerts last posted without times
#   ARGV[1]  now (epoch seconds)
#   ARGV[2]  the stem of the group hashes, P:group: (the script appends each gid)
#   ARGV[3]  the stem of the group member sets, P:gmembers: (the script appends each gid)
#   ARGV[4]  the batch's groups, each "NEWLINE gid TAB group_wait TAB group_interval TAB metadata
#            JSON" (GroupRef.line); read only for a group the batch creates or may make due now.
#            Or empty, when the caller knows every group of the batch to exist and all of them
#            to have the group_wait ARGV[9], and there is no limit (ARGV[6] = 0): the lines were
#            a third of the call's bytes, each hashed by Lua as an argument, and a re-send needs
#            none of them. The script then checks that every group exists before it writes
#            anything, and returns {-1} (nothing written) when one does not.
#   ARGV[5]  the alerts as lines "fingerprint TAB gid,gid,... TAB head" without a limit
#            (ARGV[6] = 0), "fingerprint TAB gid,gid,... TAB bucket TAB head" with one (bucket:
#            the hex digest of the alertname); head is empty, or "=" when the alert's value
#            (ARGV[10+i]) is its body only and its times are ARGV[8] (below)
#   ARGV[6]  --alerts.per-alertname-limit (0: none)
#   ARGV[7]  the stem of the per-alertname sets, P:alertname-limit: (the script appends the bucket)
#   ARGV[8]  "startsAt endsAt updatedAt 1", the times of the batch's alerts posted without
#            startsAt and endsAt (Alert.encode_times), which are the same for all of them
#            (now, now + resolve_timeout, now, from resolve_timeout); empty when it has none
#   ARGV[9]  the least group_wait of the batch's groups
#   ARGV[10]  "1" when a fingerprint is on more than one line, else empty: only then does the
#            script remember each line's result for a later line of the same alert (a table
#            filled per line cost 1.5 % of a call's instructions, and batches repeat no alert)
#   KEYS[5..]  on a Redis Cluster only: each group's P:group:<gid> and P:gmembers:<gid>, unread
#            (the script builds them from the stems) but declared, so that a slot half-way
#            through a migration refuses the whole call up front (TRYAGAIN, ASK) instead of
#            failing at the first key already moved, after some writes.
#   ARGV[10+i]  the encoded alert (Alert.encode) of line i, or, when the line's head is "=",
#            its body (Alert.encode_body). An argument of its own, which the script writes as it
#            is whenever the merge keeps the incoming value (every re-send with times, every new
#            alert): Redis makes each argument a Lua string, and its Lua hashes every byte of
#            every string it makes, so cutting the value out of one long text of lines made each
#            value's bytes cost that twice. An alert posted without times comes as its body, as
#            its re-send keeps the stored startsAt, and is stored split (P:alert-times): the body
#            goes to P:alerts as it came, and its times, the stored startsAt in front of the
#            batch's other times, to P:alert-times. Its re-send reads and builds only those times
#            (about 56 bytes) where a whole value (about 280 in bench/ingest) cost Lua the
#            hashing of every byte twice, once read and once built, and alerts re-sent together
#            with the same stored times share one merge (bench/inprocess --resend --notimes
#            --callgrind: 2.93M -> 2.15M instructions of Redis per 64-alert request).
#   Returns  {how many alerts merged with a stored version, the fingerprint of each alert the
#            limit dropped...}, or {-1} (above).
# The group keys are built here from ARGV[2] and ARGV[3] because the groups come with the batch
# (a gid per line); a new group is created with its metadata, "gi" and "flushed" = "0", and
# armed for group_wait.
# The per-alertname limit is Alertmanager's bucket: per alertname the fingerprints stored and
# their endsAt (after the merge). An alert already in it, or one that finds it holding fewer
# than the limit once the ended ones are dropped, is stored; any other is dropped (not written,
# in no group, not counted as merged), and the alertname's set lives until its last endsAt.
# A stored alert is whole (its value in P:alerts) or split (its body there, "{" first, and its
# times in P:alert-times). A merge's result takes the form of the alert whose body it keeps:
# split for a line without times, whole for a line with them, the stored form when the stored
# alert is younger; a whole value that replaces a split one drops its P:alert-times entry.
# Values written before the split existed are whole, and merge as they always did.
#
# Redis runs one script at a time, so its CPU per alert is what one Redis can ingest
# (docs/scaling.md). Hence: one HMGET and one HSET per batch (chunked, as Lua's unpack has a
# limit) and one SADD per group, instead of three calls per alert; a group's line is found in
# ARGV[4] only when the group is new or an alert is older than the batch's least group_wait
# (parsing every line cost a tenth of a re-send's instructions); a merge splices the texts of
# the times it keeps instead of formatting numbers, so a stored time keeps the exact text it
# came with; and without a limit the lines carry no bucket and no alert costs a call to the
# limit's sets.
PUT_ALERTS = """
local now = tonumber(ARGV[1])
local group_stem, members_stem = ARGV[2], ARGV[3]
local limit, bucket_stem, shared = tonumber(ARGV[6]), ARGV[7], ARGV[8]
local limited = limit > 0
local find, sub, byte, match = string.find, string.sub, string.byte, string.match
-- Globals read per alert or per group, as locals: a global is a table lookup at every use.
local call, unpack, min, argv = redis.call, unpack, math.min, ARGV
local CHUNK = 1000
-- Times as numbers, by their texts, converted once per script run: Lua's tonumber is C's strtod,
-- which a float's 17-digit text makes the most expensive step of a merge, and the alerts of a
-- batch share their times (Prometheus gives a batch one endsAt, a batch without times gets now
-- and now + resolve_timeout), as the stored ones share those of the batch that wrote them; and
-- the groups of a batch mostly share their group_wait.
local num = setmetatable({}, {__index = function(t, text)
  local v = tonumber(text)
  t[text] = v
  return v
end})
-- A group's line in ARGV[4], as its group_wait and its "group_interval TAB metadata" texts. A
-- line starts with a newline, which JSON never holds unescaped: "NEWLINE gid TAB" is found
-- nowhere else.
local gtext, least_wait = ARGV[4], tonumber(ARGV[9])
-- Without lines (ARGV[4] empty) the caller says every group of the batch exists and has the
-- group_wait ARGV[9]; the script checks the first before it writes anything.
local lineless = gtext == ''
local function group_line(gid)
  local t1 = find(gtext, '\\n' .. gid .. '\\t', 1, true) + #gid + 2
  local t2 = find(gtext, '\\t', t1, true)
  local nl = find(gtext, '\\n', t2 + 1, true) or (#gtext + 1)
  return sub(gtext, t1, t2 - 1), sub(gtext, t2 + 1, nl - 1)
end
-- Groups' group_wait, read from their lines on first use.
local waits = setmetatable({}, {__index = function(t, gid)
  local v = lineless and least_wait or num[(group_line(gid))]
  t[gid] = v
  return v
end})
-- The times of the value that starts at `at` in `v`, as texts, and whether its endsAt came from
-- resolve_timeout. Plain finds, not a pattern: Lua matches %S+ a character at a time, and this
-- runs twice per merge.
local function times(v, at)
  local a = find(v, ' ', at, true)
  local b = find(v, ' ', a + 1, true)
  local c = find(v, ' ', b + 1, true)
  return sub(v, at, a - 1), sub(v, a + 1, b - 1), sub(v, b + 1, c - 1), byte(v, c + 1) == 49
end
-- The batch's times for the alerts posted without any (ARGV[8], as P:alert-times holds them),
-- read once: as times() reads them, and the texts a merged entry takes from them after its
-- startsAt ("endsAt updatedAt 1") and after its endsAt (" updatedAt 1").
local sh_s_t, sh_e_t, sh_u_t, sh_timeout, sh_rest, sh_tail
if shared ~= '' then
  sh_s_t, sh_e_t, sh_u_t, sh_timeout = times(shared, 1)
  sh_rest = sub(shared, #sh_s_t + 2)
  sh_tail = sub(shared, #sh_s_t + #sh_e_t + 2)
end
-- The times of a stored alert that an alert posted without times merges with, as times() reads
-- them, remembering the last one's "endsAt updatedAt timeout" (rt_tail, with the character that
-- follows in a whole value): the stored alerts re-sent together were written by one earlier
-- request, so they share all of it (the startsAt differs when they were first posted apart). A
-- text whose part after its startsAt begins with rt_tail has those times: rt_tail holds exactly
-- their two spaces and the timeout's one digit. One find and two subs instead of three and
-- three, and fewer strings for Lua to intern and collect: with bench/inprocess --resend
-- --notimes, 2.86M -> 2.73M instructions per call of this script (callgrind counting inside
-- EVALSHA only). Only there: with times (Prometheus) the stored endsAt differs between rule
-- groups, and where every one differs the failed comparison cost 5.9 % more per call. merge()
-- picks the reader in one expression: an if/else there cost re-sends with times 0.6 % (one
-- expression: 0.3 %).
local rt_tail, rt_e_t, rt_u_t, rt_timeout
local function resent_times(v)
  local a = find(v, ' ', 1, true)
  local s_t = sub(v, 1, a - 1)
  if rt_tail and sub(v, a + 1, a + #rt_tail) == rt_tail then return s_t, rt_e_t, rt_u_t, rt_timeout end
  local b = find(v, ' ', a + 1, true)
  local c = find(v, ' ', b + 1, true)
  rt_e_t, rt_u_t, rt_timeout = sub(v, a + 1, b - 1), sub(v, b + 1, c - 1), byte(v, c + 1) == 49
  rt_tail = sub(v, a + 1, c + 2)
  return s_t, rt_e_t, rt_u_t, rt_timeout
end
-- Alertmanager's merge of a stored alert with an incoming one. `old` is the stored alert's
-- times-bearing text: its P:alert-times entry when `osplit` (its body alone is in P:alerts), else
-- its whole value. The incoming alert is the batch's shared times and the body `v` when `bare`,
-- else the whole value `v`. Returns what to store: the times-bearing text (times alone when the
-- result is split, else the whole value), whether the result is split, the body P:alerts takes
-- for a split result (nil: the stored one stays), and the merged startsAt.
-- The result is the younger alert with the startsAt and endsAt the merge picks, so a re-send
-- with times (same startsAt, later endsAt) comes back as the very string it came as, and one
-- without times is its body as it came, and the stored startsAt in front of the batch's other
-- times: a short string, where a whole value would be one of the body's length to make.
local function merge(old, osplit, bare, v)
  local os_t, oe_t, ou_t, o_timeout = (bare and resent_times or times)(old, 1)
  local ns_t, ne_t, nu_t, n_timeout = sh_s_t, sh_e_t, sh_u_t, sh_timeout
  if not bare then ns_t, ne_t, nu_t, n_timeout = times(v, 1) end
  local os, oe, ns, ne = num[os_t], num[oe_t], num[ns_t], num[ne_t]
  -- Merge only when the activity ranges overlap; otherwise the incoming alert replaces.
  if not ((ne > os and ne < oe) or (ns > os and ns < oe)) then
    if bare then return shared, true, v, ns end
    return v, false, nil, ns
  end
  local old_younger = num[nu_t] < num[ou_t]
  local ys_t, ye_t, ys, ye = ns_t, ne_t, ns, ne
  local xs_t, xe_t, xs, xe, x_timeout = os_t, oe_t, os, oe, o_timeout
  if old_younger then
    ys_t, ye_t, ys, ye = os_t, oe_t, os, oe
    xs_t, xe_t, xs, xe, x_timeout = ns_t, ne_t, ns, ne, n_timeout
  end
  local s, s_t, e_t = ys, ys_t, ye_t
  if xs < s then s, s_t = xs, xs_t end
  if ye <= now then
    if xe <= now and xe > ye then e_t = xe_t end
  elseif xe > ye and not x_timeout then
    e_t = xe_t
  end
  if old_younger then
    if s_t == ys_t and e_t == ye_t then return old, osplit, nil, s end
    return s_t .. ' ' .. e_t .. sub(old, #ys_t + #ye_t + 2), osplit, nil, s
  end
  if not bare then
    if s_t == ys_t and e_t == ye_t then return v, false, nil, s end
    return s_t .. ' ' .. e_t .. sub(v, #ys_t + #ye_t + 2), false, nil, s
  end
  if s_t == ys_t and e_t == ye_t then return shared, true, v, s end
  if e_t == ye_t then return s_t .. ' ' .. sh_rest, true, v, s end
  return s_t .. ' ' .. e_t .. sh_tail, true, v, s
end
-- Whether the per-alertname limit lets alert `fp` (its times-bearing text `value`) into `bucket`.
local function admitted(bucket, fp, value)
  local _, ends = times(value, 1)
  local key = bucket_stem .. bucket
  call('ZREMRANGEBYSCORE', key, '-inf', '(' .. string.format('%.17g', now))
  if not call('ZSCORE', key, fp) and call('ZCARD', key) >= limit then
    return false
  end
  call('ZADD', key, string.format('%.17g', tonumber(ends)), fp)
  -- Relative to the batch's `now`, not the server's clock, like every time in these scripts.
  local last_end = tonumber(call('ZRANGE', key, -1, -1, 'WITHSCORES')[2])
  call('PEXPIRE', key, math.ceil((last_end - now) * 1000) + 1000)
  return true
end
-- The alerts' values are arguments of their own (ARGV[10+i]), written as they came unless the
-- merge splices them. Making a Lua string of an alert's length costs more than all the merge's
-- arithmetic: Lua interns every string, hashing every byte of it (Redis's Lua) and comparing it
-- with those of the same hash, and a batch's values differ in few characters.
local fps, gid_lists, buckets, bares, n, all_bare = {}, {}, {}, {}, 0, true
local text = ARGV[5]
local pos, last = 1, #text
while pos <= last do
  local t1 = find(text, '\\t', pos, true)
  local t2 = find(text, '\\t', t1 + 1, true)
  n = n + 1
  fps[n] = sub(text, pos, t1 - 1)
  gid_lists[n] = sub(text, t1 + 1, t2 - 1)
  if limited then
    local t3 = find(text, '\\t', t2 + 1, true)
    buckets[n] = sub(text, t2 + 1, t3 - 1)
    t2 = t3
  end
  local nl = find(text, '\\n', t2 + 1, true) or (last + 1)
  local bare = nl > t2 + 1
  bares[n] = bare
  all_bare = all_bare and bare
  pos = nl + 1
end
local merged_count = 0
local out = {0}  -- merged_count, then the fingerprints the limit dropped
-- The batch's members of each group: its first alone (most groups of a batch get one alert, and
-- a table per group cost more than the rest of a group's bookkeeping), all of them in a table
-- once there is a second; the groups in the order the batch names them.
local first, more, order, ng, due = {}, {}, {}, 0, {}
-- A fingerprint twice in one batch (ARGV[10]) merges with its own earlier result, as
-- Alertmanager's one-by-one Put does: its times-bearing text, split when it holds no body ("{").
local twice, written, dup = ARGV[10] ~= '', {}, false
-- The writes, made once every alert is merged (and, without lines, the groups checked): to
-- P:alerts (bodies, whole values), to P:alert-times, and the P:alert-times entries a whole value
-- replaces.
local hset, h, tset, t, tdel, d = {}, 0, {}, 0, {}, 0
-- The last merge of an alert posted without times, by its stored times: alerts posted together
-- are stored with the same times, and merge the same way when they are re-sent together.
local m_old, m_text, m_split, m_body, m_starts
for c = 1, n, CHUNK do
  local upto = min(n, c + CHUNK - 1)
  -- The stored alerts. A batch posted without times (amtool, scripts: every line bare) reads
  -- P:alert-times, where its earlier posts left their times, and P:alerts only for the alerts it
  -- finds none for (new, or stored whole); any other batch reads P:alerts, and P:alert-times for
  -- a value there that is a body.
  local olds, wholes, bodies_times
  if all_bare then
    olds, wholes = call('HMGET', KEYS[4], unpack(fps, c, upto)), {}
    local missing, m = {}, 0
    for i = c, upto do
      if not olds[i - c + 1] then
        m = m + 1
        missing[m] = fps[i]
      end
    end
    if m > 0 then
      local got, j = call('HMGET', KEYS[1], unpack(missing, 1, m)), 0
      for i = c, upto do
        if not olds[i - c + 1] then
          j = j + 1
          -- (A body without times, which none of alerter's writes leaves, is no stored alert.)
          local v = got[j]
          if v and byte(v, 1) ~= 123 then wholes[i - c + 1] = v end
        end
      end
    end
  else
    olds = call('HMGET', KEYS[1], unpack(fps, c, upto))
    if shared ~= '' then
      -- Lines with and without times in one batch: the times of the bodies among the stored
      -- values in one read (a pure batch with times meets a body only for an alert last posted
      -- without times, and reads its times alone).
      local sf, sj, k = {}, {}, 0
      for j = 1, upto - c + 1 do
        local v = olds[j]
        if v and byte(v, 1) == 123 then
          k = k + 1
          sf[k], sj[k] = fps[c + j - 1], j
        end
      end
      if k > 0 then
        bodies_times = {}
        local got = call('HMGET', KEYS[4], unpack(sf, 1, k))
        for x = 1, k do bodies_times[sj[x]] = got[x] end
      end
    end
  end
  for i = c, upto do
    local fp, bare, value = fps[i], bares[i], argv[10 + i]
    local old, osplit = twice and written[fp], false
    if old then
      osplit, dup = not find(old, '{', 1, true), true
    elseif all_bare then
      old = olds[i - c + 1]
      if old then osplit = true else old = wholes[i - c + 1] end
    else
      old = olds[i - c + 1]
      -- A body ("{" first): its times are in P:alert-times (an alert posted without times
      -- before; none there, which none of alerter's writes leaves, is no stored alert).
      if old and byte(old, 1) == 123 then
        old, osplit = bodies_times and bodies_times[i - c + 1] or call('HGET', KEYS[4], fp), true
      end
    end
    local text, split, body, starts
    if bare and old and old == m_old then
      -- The same stored times as the line before: the same merge.
      text, split, body, starts = m_text, m_split, m_body and value, m_starts
    elseif old then
      text, split, body, starts = merge(old, osplit, bare, value)
      if bare then m_old, m_text, m_split, m_body, m_starts = old, text, split, body ~= nil, starts end
    elseif bare then
      text, split, body, starts = shared, true, value, num[sh_s_t]
    else
      text, split, starts = value, false, num[sub(value, 1, find(value, ' ', 1, true) - 1)]
    end
    if limited and not admitted(buckets[i], fp, text) then
      -- Not written and in no group: a later copy in this batch merges with the stored value.
      out[#out + 1] = fp
    else
      if old then merged_count = merged_count + 1 end
      if twice then written[fp] = text end
      if split then
        if body then
          hset[h + 1], hset[h + 2] = fp, body
          h = h + 2
        end
        if text ~= old then
          tset[t + 1], tset[t + 2] = fp, text
          t = t + 2
        end
      else
        if text ~= old then
          hset[h + 1], hset[h + 2] = fp, text
          h = h + 2
        end
        if osplit then
          d = d + 1
          tdel[d] = fp
        end
      end
      -- The gids, split with plain finds: most alerts route to one group, whose id is then the
      -- list itself, with neither a pattern nor a new string.
      local gids = gid_lists[i]
      local at = gids ~= '' and 1 or nil
      while at do
        local comma = find(gids, ',', at, true)
        local gid = comma and sub(gids, at, comma - 1) or (at == 1 and gids or sub(gids, at))
        at = comma and comma + 1
        local had = first[gid]
        if not had then
          first[gid] = fp
          ng = ng + 1
          order[ng] = gid
        else
          local list = more[gid]
          if list then list[#list + 1] = fp else more[gid] = {had, fp} end
        end
        -- An alert older than group_wait makes a group that never flushed due at once.
        if starts + least_wait < now and starts + waits[gid] < now then due[gid] = true end
      end
    end
  end
end
-- The groups' member sets, by the batch's order of the groups.
local mkeys = {}
for g = 1, ng do mkeys[g] = members_stem .. order[g] end
if lineless then
  -- A group's member set and its hash come and go together (below), so one EXISTS over the
  -- sets tells whether every group exists; when one does not, nothing is written and the
  -- caller calls again with the lines.
  local found = 0
  for c = 1, ng, CHUNK do found = found + call('EXISTS', unpack(mkeys, c, min(ng, c + CHUNK - 1))) end
  if found < ng then return {-1} end
end
for c = 1, h, 2 * CHUNK do call('HSET', KEYS[1], unpack(hset, c, min(h, c + 2 * CHUNK - 1))) end
if dup then
  -- A fingerprint met twice may have been split, then whole, or the other way round: its last
  -- result alone decides its P:alert-times entry.
  tset, t, tdel, d = {}, 0, {}, 0
  for fp, text in pairs(written) do
    if not find(text, '{', 1, true) then
      tset[t + 1], tset[t + 2] = fp, text
      t = t + 2
    else
      d = d + 1
      tdel[d] = fp
    end
  end
end
for c = 1, t, 2 * CHUNK do call('HSET', KEYS[4], unpack(tset, c, min(t, c + 2 * CHUNK - 1))) end
for c = 1, d, CHUNK do call('HDEL', KEYS[4], unpack(tdel, c, min(d, c + CHUNK - 1))) end
for g = 1, ng do
  local gid = order[g]
  local list, added = more[gid], 0
  if list then
    for c = 1, #list, CHUNK do
      added = added + call('SADD', mkeys[g], unpack(list, c, min(#list, c + CHUNK - 1)))
    end
  else
    added = call('SADD', mkeys[g], first[gid])
  end
  -- A group's member set and its hash come and go together (this script creates both, every
  -- deletion drops both in one step), so a set that held every member already belongs to an
  -- existing group: its hash is read only when the batch may make it due at once, or may
  -- create it. A re-send into an existing group costs one call instead of two.
  if added > 0 or due[gid] then
    local gkey = group_stem .. gid
    local flushed = call('HGET', gkey, 'flushed')
    -- (Without lines a group whose hash went without its member set, which none of alerter's
    -- writes does, is left as it is: its metadata did not come.)
    if not flushed and not lineless then
      local gi, meta = match(select(2, group_line(gid)), '^([^\\t]*)\\t(.*)$')
      call('HSET', gkey, 'meta', meta, 'gi', gi, 'flushed', '0')
      call('SADD', KEYS[3], gid)
      call('ZADD', KEYS[2], now + waits[gid], gid)
      flushed = '0'
    end
    if due[gid] and flushed == '0' then
      local at = call('ZSCORE', KEYS[2], gid)
      if at and tonumber(at) > now then call('ZADD', KEYS[2], now, gid) end
    end
  end
end
out[1] = merged_count
return out
"""

# Lua, put in front of the scripts that compare an alert's value with one read earlier: the
# alert's whole value ("startsAt endsAt updatedAt timeout {json}", what Alert.decode reads and
# GroupState.raw holds) and whether it is stored split, or nil when the alert is gone. A split
# alert's body is in P:alerts ("{" first) and its times in P:alert-times (PUT_ALERTS).
_lua_whole_value = """
local function whole_value(alerts, times, fp)
  local v = redis.call('HGET', alerts, fp)
  if v and string.byte(v, 1) == 123 then
    local t = redis.call('HGET', times, fp)
    return t and (t .. ' ' .. v), true
  end
  return v, false
end
"""

# LOAD_GROUPS: read aggregation groups with their alerts, and drop their in-flight marks when a
# flush is about to run. One call instead of a pipeline of two commands per group and an HMGET:
# packing and parsing a command per group was most of what reading a flush batch cost a worker.
#   KEYS[1]  P:alerts, the alerts hash
#   KEYS[2]  P:alert-times, the times of the alerts stored split
#   ARGV[1]  the stem of the group hashes, P:group: (the script appends each gid)
#   ARGV[2]  the stem of the group member sets, P:gmembers: (the script appends each gid)
#   ARGV[3]  the stem of the in-flight marks, P:inflight: (the script appends each gid), or '' to
#            leave them
#   ARGV[4..]  the group ids
#   KEYS[3..]  on a Redis Cluster only: each group's P:group:<gid>, P:gmembers:<gid> (and
#            P:inflight:<gid> when they are dropped), declared for the reason PUT_ALERTS gives
#   Returns  for each group in turn: its "meta" (nil when the group is gone), its "muted" (nil when
#            none), its member count n, then n pairs of a fingerprint and the alert's whole value
#            (nil when the alert is gone); a split alert's (PUT_ALERTS) is put together here.
# The keys are built here from the stems because the caller's batch names its groups by id.
LOAD_GROUPS = """
local group_stem, members_stem, inflight_stem = ARGV[1], ARGV[2], ARGV[3]
local out, n = {}, 0
local fps, slots = {}, {}
for i = 4, #ARGV do
  local gid = ARGV[i]
  local fields = redis.call('HMGET', group_stem .. gid, 'meta', 'muted')
  local members = fields[1] and redis.call('SMEMBERS', members_stem .. gid) or {}
  out[n + 1], out[n + 2], out[n + 3] = fields[1], fields[2], #members
  n = n + 3
  for _, fp in ipairs(members) do
    out[n + 1], out[n + 2] = fp, false
    n = n + 2
    fps[#fps + 1], slots[#slots + 1] = fp, n
  end
end
local CHUNK = 1000
-- The split alerts' fingerprints and places, for one more HMGET when there are any.
local sfps, sslots = {}, {}
for c = 1, #fps, CHUNK do
  local values = redis.call('HMGET', KEYS[1], unpack(fps, c, math.min(#fps, c + CHUNK - 1)))
  for j = 1, #values do
    local v, slot = values[j], slots[c + j - 1]
    out[slot] = v
    if v and string.byte(v, 1) == 123 then sfps[#sfps + 1], sslots[#sslots + 1] = fps[c + j - 1], slot end
  end
end
for c = 1, #sfps, CHUNK do
  local times = redis.call('HMGET', KEYS[2], unpack(sfps, c, math.min(#sfps, c + CHUNK - 1)))
  for j = 1, #times do
    local slot = sslots[c + j - 1]
    out[slot] = times[j] and (times[j] .. ' ' .. out[slot])
  end
end
if inflight_stem ~= '' then
  for c = 4, #ARGV, CHUNK do
    local marks = {}
    for i = c, math.min(#ARGV, c + CHUNK - 1) do marks[#marks + 1] = inflight_stem .. ARGV[i] end
    redis.call('DEL', unpack(marks))
  end
end
return out
"""

# DROP_FROM_GROUP: take alerts out of a group (notified resolutions, alerts a reloaded config
# routes elsewhere), each only if its value is still the one the flush read (an alert that fired
# again meanwhile stays), and delete the group once it is empty.
#   KEYS[1]  P:alerts, the alerts hash
#   KEYS[2]  P:gmembers:<gid>, the group's members
#   KEYS[3]  P:group:<gid>, the group
#   KEYS[4]  P:groups, the group index
#   KEYS[5]  P:timers, the group timers
#   KEYS[6]  P:alert-times, the times of the alerts stored split
#   ARGV[1]  the group id
#   ARGV[2i], ARGV[2i+1] (i >= 1)  a fingerprint and its whole value as the flush read it
#   Returns  -1 when the group went, else 0.
DROP_FROM_GROUP = (
    _lua_whole_value
    + """
for i = 2, #ARGV, 2 do
  if whole_value(KEYS[1], KEYS[6], ARGV[i]) == ARGV[i + 1] then redis.call('SREM', KEYS[2], ARGV[i]) end
end
if redis.call('SCARD', KEYS[2]) == 0 then
  redis.call('DEL', KEYS[3])
  redis.call('SREM', KEYS[4], ARGV[1])
  redis.call('ZREM', KEYS[5], ARGV[1])
  return -1
end
return 0
"""
)

# SET_GROUP_MUTED: record the time intervals muting a group (its "muted" field), only while the
# group exists: a flush that raced the group's deletion must not leave a hash without "meta",
# which PUT_ALERTS would then take for an existing group.
#   KEYS[1]  P:group:<gid>, the group
#   ARGV[1]  the names as a JSON list, or "" for none (the field is deleted)
#   Returns  1 when the group exists, else 0.
SET_GROUP_MUTED = """
if redis.call('HEXISTS', KEYS[1], 'meta') == 0 then return 0 end
if ARGV[1] == '' then
  redis.call('HDEL', KEYS[1], 'muted')
else
  redis.call('HSET', KEYS[1], 'muted', ARGV[1])
end
return 1
"""

# DELETE_UNCHANGED: delete hash fields whose value is still the one the caller read (a GC sweep
# must not drop an entry that was updated meanwhile). Used on P:alerts (app/store.py), P:nflog
# (app/nflog.py) and P:silences (app/silence.py).
#   KEYS[1]  the hash
#   KEYS[2]  P:alert-times when KEYS[1] is P:alerts (absent otherwise): the values compared are
#            then the alerts' whole values, and a split alert's times go with it
#   ARGV[2i-1], ARGV[2i] (i >= 1)  a field and its value as the caller read it
#   Returns  how many fields went.
DELETE_UNCHANGED = (
    _lua_whole_value
    + """
local times, deleted = KEYS[2], 0
for i = 1, #ARGV, 2 do
  local v, split
  if times then
    v, split = whole_value(KEYS[1], times, ARGV[i])
  else
    v = redis.call('HGET', KEYS[1], ARGV[i])
  end
  if v == ARGV[i + 1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
    if split then redis.call('HDEL', times, ARGV[i]) end
    deleted = deleted + 1
  end
end
return deleted
"""
)

# ---------------------------------------------------------------------------------------------
# Silences (app/silence.py)

# PUT_SILENCES: store silences (a created one, and the one it replaces, expired) and bump the
# version counter, in one step. A script rather than MULTI/EXEC because it runs through
# app/durability.py, which may follow it with WAIT on the same connection, and WAIT cannot
# block inside a transaction.
#   KEYS[1]  P:silences, the silences hash
#   KEYS[2]  P:silences:version, the version counter
#   ARGV[2i-1], ARGV[2i] (i >= 1)  a silence id and its encoded silence (Silence.encode)
#   Returns  the new version.
PUT_SILENCES = """
for i = 1, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return redis.call('INCR', KEYS[2])
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
# are only known once the script has read the timers. This runs for every notification, so a
# group costs it as few commands as it can: its fields read in one HMGET and written only when
# they change ("flushed" at the first claim, "rn" after a retry), the timers re-armed in one ZADD
# and the retries dropped in one ZREM for the whole claim, so that a group's later claims cost two
# commands of its own (the HMGET and the in-flight SET) where they cost six. Each redis.call has
# a cost of its own in Redis's script machinery (the command's checks and statistics, its reply
# made a Lua value): one command per call instead of one per item, here and in the lease and
# history scripts, took 8.7 commands off a notification and about 2,000 instructions of Redis
# with each (callgrind, bench/inprocess --what=notify: 0.201M -> 0.183M per notification).
CLAIM_DUE_GROUPS = """
local now, limit, ttl = tonumber(ARGV[1]), tonumber(ARGV[4]), ARGV[5]
local group_stem, inflight_stem = ARGV[2], ARGV[3]
local call, unpack, min = redis.call, unpack, math.min
local due = call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, limit)
-- The live groups' gids, their timers' new scores and gids, the gone groups' gids.
local claimed, live, rearm, gone = {}, {}, {}, {}
for _, gid in ipairs(due) do
  local gkey = group_stem .. gid
  local fields = call('HMGET', gkey, 'gi', 'flushed', 'rn')
  local interval = fields[1]
  if not interval then
    gone[#gone + 1] = gid
  else
    local n = #live + 1
    live[n], rearm[2 * n - 1], rearm[2 * n] = gid, now + tonumber(interval), gid
    if fields[2] ~= '1' then call('HSET', gkey, 'flushed', '1') end
    if fields[3] then call('HDEL', gkey, 'rn') end
    if call('SET', inflight_stem .. gid, '1', 'NX', 'PX', ttl) then
      claimed[#claimed + 1] = gid
    end
  end
end
-- In chunks, as Lua's unpack has a limit.
local CHUNK = 1000
for c = 1, #live, CHUNK do
  call('ZADD', KEYS[1], unpack(rearm, 2 * c - 1, 2 * min(#live, c + CHUNK - 1)))
  call('ZREM', KEYS[2], unpack(live, c, min(#live, c + CHUNK - 1)))
end
for c = 1, #gone, CHUNK do call('ZREM', KEYS[1], unpack(gone, c, min(#gone, c + CHUNK - 1))) end
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
# The entries are read in one HMGET for the whole call (taking a lease changes no entry), not an
# HGET per item: a redis.call has a cost of its own (CLAIM_DUE_GROUPS says how much).
ACQUIRE_LEASES = """
local call, unpack, min, ttl = redis.call, unpack, math.min, ARGV[1]
local n, fields = #KEYS - 1, {}
for i = 1, n do fields[i] = ARGV[3 * i - 1] end
local verdicts = {}
-- In chunks, as Lua's unpack has a limit.
local CHUNK = 1000
for c = 1, n, CHUNK do
  local logged = call('HMGET', KEYS[1], unpack(fields, c, min(n, c + CHUNK - 1)))
  for j = 1, #logged do
    local i = c + j - 1
    if (logged[j] or '') ~= ARGV[3 * i] then
      verdicts[i] = 'changed'
    elseif call('SET', KEYS[i + 1], ARGV[3 * i + 1], 'NX', 'PX', ttl) then
      verdicts[i] = 'ok'
    else
      verdicts[i] = 'busy'
    end
  end
end
return verdicts
"""

# COMMIT_LEASES: record sends and drop their leases, each unless another worker committed a newer
# notification for its integration while ours was in flight (a slow receiver, or a pause):
# writing ours then would roll the log back and make the next flush send the newer content
# again. A lease is dropped only if it is still the caller's. One call for the sends a process
# finished together (app/notify/sendpool.py), in the order given.
#   KEYS[1]  P:nflog, the notification log
#   KEYS[i] (i >= 2)  P:lease:<sha1>, the lease of item i-1
#   ARGV[4i-7], ARGV[4i-6], ARGV[4i-5], ARGV[4i-4] (i >= 2)  for the item of KEYS[i]: its log
#            field, the new entry (nflog.Entry JSON), the caller's lease token, the entry as read
#            when the lease was taken ('' when absent)
#   Returns  one flag per item: 1 if its entry was written, 0 if a newer one was kept.
# Four commands for the whole call instead of four per item: the entries read in one HMGET and
# the leases in one MGET (a lease key is in its entry's shard, so in one slot with KEYS[1]),
# the entries written in one HSET and the leases dropped in one DEL. An item sees the entry an
# earlier item of the same call wrote for its field, as it did with a read per item; a lease's
# token is the caller's for one item at most (tokens are unique), so dropping the matched ones
# together drops what item-by-item did.
COMMIT_LEASES = """
local call, unpack, min = redis.call, unpack, math.min
local n, fields = #KEYS - 1, {}
for i = 1, n do fields[i] = ARGV[4 * i - 3] end
local written, wrote, writes, drops, w = {}, {}, {}, {}, 0
-- In chunks, as Lua's unpack has a limit.
local CHUNK = 1000
for c = 1, n, CHUNK do
  local e = min(n, c + CHUNK - 1)
  local logged = call('HMGET', KEYS[1], unpack(fields, c, e))
  local held = call('MGET', unpack(KEYS, c + 1, e + 1))
  for j = 1, #logged do
    local i = c + j - 1
    local field = fields[i]
    if (wrote[field] or logged[j] or '') == ARGV[4 * i] then
      local entry = ARGV[4 * i - 2]
      wrote[field] = entry
      writes[w + 1], writes[w + 2], w = field, entry, w + 2
      written[i] = 1
    else
      written[i] = 0
    end
    if held[j] == ARGV[4 * i - 1] then drops[#drops + 1] = KEYS[i + 1] end
  end
end
for c = 1, w, 2 * CHUNK do call('HSET', KEYS[1], unpack(writes, c, min(w, c + 2 * CHUNK - 1))) end
for c = 1, #drops, CHUNK do call('DEL', unpack(drops, c, min(#drops, c + CHUNK - 1))) end
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

# ---------------------------------------------------------------------------------------------
# Notification history (app/history.py)

# RECORD_ATTEMPTS: append a batch of delivery attempts to their groups' histories, each list cut
# to its newest entries, with the groups' latest-attempt times and metadata. One call per batch:
# as separate commands, packing four commands per attempt cost the sending process more than the
# Redis work itself. A list is cut only once it holds more than it keeps (LPUSH returns its length): most
# groups never reach it, and a command less per attempt is one less per notification.
#   KEYS[1]  P:history:index, gid -> time of the latest attempt
#   KEYS[2]  P:history:groups, gid -> group metadata
#   ARGV[1]  the stem of the attempt lists, P:history: (the script appends each gid)
#   ARGV[2]  how many attempts a group keeps
#   ARGV[3+4i .. 6+4i] (i >= 0)  a gid, the attempt's time, the attempt (JSON), the group's
#            metadata (JSON), oldest attempt first
#   Returns  how many attempts were recorded.
# The attempt lists' keys are built here from ARGV[1] because each record names its own group.
# The index's times and the groups' metadata go in one ZADD and one HSET for the whole call (the
# last record of a group wins, as it did with a ZADD and an HSET per record): a redis.call has a
# cost of its own (CLAIM_DUE_GROUPS says how much).
RECORD_ATTEMPTS = """
local stem, keep = ARGV[1], tonumber(ARGV[2])
local call, unpack, min = redis.call, unpack, math.min
local times, metas, n = {}, {}, 0
for i = 3, #ARGV, 4 do
  local gid = ARGV[i]
  local key = stem .. gid
  if call('LPUSH', key, ARGV[i + 2]) > keep then call('LTRIM', key, 0, keep - 1) end
  times[2 * n + 1], times[2 * n + 2] = ARGV[i + 1], gid
  metas[2 * n + 1], metas[2 * n + 2] = gid, ARGV[i + 3]
  n = n + 1
end
-- In chunks, as Lua's unpack has a limit.
local CHUNK = 2000
for c = 1, 2 * n, CHUNK do
  call('ZADD', KEYS[1], unpack(times, c, min(2 * n, c + CHUNK - 1)))
  call('HSET', KEYS[2], unpack(metas, c, min(2 * n, c + CHUNK - 1)))
end
return n
"""

# DROP_OLD_HISTORIES: forget the groups whose latest delivery attempt is older than the cutoff:
# their attempt lists, their metadata and their index entries, checked and dropped in one step
# so that an attempt recorded meanwhile (which moves the group's index score) keeps its group.
#   KEYS[1]  P:history:index, gid -> time of the latest attempt
#   KEYS[2]  P:history:groups, gid -> group metadata
#   ARGV[1]  the cutoff (epoch seconds): groups last attempted at or before it go
#   ARGV[2]  the stem of the attempt lists, P:history: (the script appends each gid)
#   ARGV[3]  the most groups to drop in this call
#   Returns  how many groups went.
# The attempt lists' keys are built here from ARGV[2] because the stale gids are only known once
# the script has read the index.
DROP_OLD_HISTORIES = """
local gids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, gid in ipairs(gids) do
  redis.call('DEL', ARGV[2] .. gid)
  redis.call('HDEL', KEYS[2], gid)
  redis.call('ZREM', KEYS[1], gid)
end
return #gids
"""
