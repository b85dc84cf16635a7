"""Alerts and aggregation groups in Redis.

Every write that must be atomic across web and worker processes is a Lua script, so a batch of
alerts costs one round trip whatever its size, and two instances merging the same alert at the
same moment cannot lose an update. Key names are listed in docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import orjson
import redis

from app.alerts import Alert

# Alertmanager's merge of a stored alert with an incoming one, plus insertion into the
# aggregation groups the alert routes to. ARGV: now, key prefix, the batch's groups as JSON
# {gid: [group_wait, group_interval, metadata JSON]}, and the alerts as lines
# "fingerprint TAB gid,gid,... TAB encoded alert" (an encoded alert never holds a raw tab or
# newline: its JSON escapes them). Lines instead of a JSON list because the alerts are JSON
# already: embedding them in JSON again cost both sides an escape and an unescape per alert.
_PUT_SCRIPT = """
local now = tonumber(ARGV[1])
local prefix = ARGV[2]
local groups = cjson.decode(ARGV[3])
local lines = ARGV[4]
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
    local gkey = prefix .. ':group:' .. gid
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
    redis.call('SADD', prefix .. ':gmembers:' .. gid, fp)
    -- An alert older than group_wait in a group that never flushed is due at once.
    if starts + gw < now and flushed == '0' then
      local due = redis.call('ZSCORE', KEYS[2], gid)
      if due and tonumber(due) > now then redis.call('ZADD', KEYS[2], now, gid) end
    end
  end
end
return merged_count
"""

# Take alerts out of a group (notified resolutions, alerts a reloaded config routes elsewhere),
# each only if its value is still the one the flush read (an alert that fired again meanwhile
# stays), and delete the group once it is empty.
# KEYS: the alerts hash, the group's members, the group, the group index, the timers; ARGV: the
# group id, then fingerprint/value pairs. Returns -1 when the group went.
_DROP_FROM_GROUP = """
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

# Delete hash fields whose value is still the one the caller read (a GC sweep must not drop an
# entry that was updated meanwhile). ARGV: field/value pairs. Returns how many went.
DELETE_UNCHANGED_SCRIPT = """
local deleted = 0
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
    deleted = deleted + 1
  end
end
return deleted
"""


class Keys:
    """Redis key names under one prefix (`--cluster.label`), so clusters can share a Redis."""

    def __init__(self, prefix: str = "alerter") -> None:
        self.prefix = prefix
        self.alerts = f"{prefix}:alerts"
        self.groups = f"{prefix}:groups"
        self.timers = f"{prefix}:timers"
        self.nflog = f"{prefix}:nflog"
        self.silences = f"{prefix}:silences"
        self.housekeeping_lock = f"{prefix}:housekeeping"

    def group(self, gid: str) -> str:
        return f"{self.prefix}:group:{gid}"

    def members(self, gid: str) -> str:
        """The fingerprints of a group's alerts; the alerts themselves are only in `alerts`."""
        return f"{self.prefix}:gmembers:{gid}"

    def inflight(self, gid: str) -> str:
        return f"{self.prefix}:inflight:{gid}"

    def lease(self, token: str) -> str:
        return f"{self.prefix}:lease:{token}"


@dataclass(frozen=True, slots=True)
class GroupRef:
    """Where an alert goes: one aggregation group of one route."""

    gid: str
    key: str
    route_id: str
    receiver: str
    labels: dict[str, str]
    group_wait: float
    group_interval: float
    # The metadata stored with a new group, encoded once: refs are cached per routing key and
    # every ingested alert would otherwise encode it again.
    meta_json: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        meta = {"key": self.key, "route": self.route_id, "receiver": self.receiver, "labels": self.labels}
        object.__setattr__(self, "meta_json", orjson.dumps(meta).decode())


@dataclass(slots=True)
class GroupState:
    """An aggregation group as read back from Redis, with its raw alert values for compare-delete.

    A group holds its alerts' fingerprints; each alert is stored once, in the alerts hash, where
    every group it routes to reads it (two copies of every alert were half of Redis's memory).
    """

    gid: str
    key: str
    route_id: str
    receiver: str
    labels: dict[str, str]
    alerts: list[Alert]
    raw: dict[str, str]


class AlertStore:
    """Reads and atomic writes of alerts and aggregation groups."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.r = client
        self.keys = keys
        self._put = client.register_script(_PUT_SCRIPT)
        self._delete_unchanged = client.register_script(DELETE_UNCHANGED_SCRIPT)
        self._drop_from_group = client.register_script(_DROP_FROM_GROUP)

    def put(self, routed: Iterable[tuple[Alert, Sequence[GroupRef]]], now: float) -> int:
        """Merge a batch of alerts and insert them into their groups in one round trip.

        Returns how many alerts merged with a stored version.
        """
        groups: dict[str, tuple[float, float, str]] = {}
        lines = []
        for alert, refs in routed:
            for g in refs:
                if g.gid not in groups:
                    groups[g.gid] = (g.group_wait, g.group_interval, g.meta_json)
            lines.append(f"{alert.fingerprint}\t{','.join([g.gid for g in refs])}\t{alert.encode()}")
        if not lines:
            return 0
        keys = [self.keys.alerts, self.keys.timers, self.keys.groups]
        return int(self._put(keys=keys, args=[now, self.keys.prefix, orjson.dumps(groups), "\n".join(lines)]))

    def alerts(self) -> list[Alert]:
        return [Alert.decode(fp.decode(), raw) for fp, raw in self.r.hgetall(self.keys.alerts).items()]

    def iter_raw_alerts(self, batch: int = 1000) -> Iterator[tuple[str, str]]:
        for fp, raw in self.r.hscan_iter(self.keys.alerts, count=batch):
            yield fp.decode(), raw.decode()

    def group_ids(self) -> list[str]:
        return sorted(g.decode() for g in self.r.smembers(self.keys.groups))

    def load_groups(self, gids: list[str], release_inflight: bool = False) -> list[GroupState]:
        """Read many groups in two pipelined round trips (their metadata and members, then the
        members' alerts); groups deleted meanwhile are left out.

        With `release_inflight` (a flush about to run) the groups' in-flight marks go in the first
        round trip: from then on the timer loop may queue the groups' next flush.
        """
        pipe = self.r.pipeline(transaction=False)
        for gid in gids:
            pipe.hget(self.keys.group(gid), "meta")
            pipe.smembers(self.keys.members(gid))
        if release_inflight and gids:
            pipe.delete(*(self.keys.inflight(gid) for gid in gids))
        replies = pipe.execute()
        found = []
        for n, gid in enumerate(gids):
            meta_raw, members = replies[2 * n], replies[2 * n + 1]
            if meta_raw is not None:
                found.append((gid, orjson.loads(meta_raw), sorted(fp.decode() for fp in members)))
        fps = list(dict.fromkeys(fp for _, _, group_fps in found for fp in group_fps))
        values = dict(zip(fps, self.r.hmget(self.keys.alerts, fps), strict=True)) if fps else {}
        out = []
        for gid, meta, group_fps in found:
            # A member without a value is one a concurrent flush and GC have just let go of.
            raw = {fp: v.decode() for fp in group_fps if (v := values[fp]) is not None}
            out.append(
                GroupState(
                    gid=gid,
                    key=meta["key"],
                    route_id=meta["route"],
                    receiver=meta["receiver"],
                    labels=meta["labels"],
                    alerts=[Alert.decode(fp, v) for fp, v in raw.items()],
                    raw=raw,
                )
            )
        return out

    def drop_unchanged_alerts(self, group: GroupState, fingerprints: Iterable[str]) -> bool:
        """Take alerts out of the group (notified resolutions, alerts routed elsewhere), each only
        if it was not updated since the flush read it; True if the group went with them."""
        args: list[str] = [group.gid]
        for fp in fingerprints:
            args += [fp, group.raw[fp]]
        keys = [
            self.keys.alerts,
            self.keys.members(group.gid),
            self.keys.group(group.gid),
            self.keys.groups,
            self.keys.timers,
        ]
        return int(self._drop_from_group(keys=keys, args=args)) == -1

    def delete_group(self, gid: str) -> None:
        pipe = self.r.pipeline(transaction=True)
        pipe.delete(self.keys.group(gid), self.keys.members(gid))
        pipe.srem(self.keys.groups, gid)
        pipe.zrem(self.keys.timers, gid)
        pipe.execute()

    def gc_resolved(self, now: float) -> int:
        """Drop alerts whose endsAt has passed and that no group holds any more (a group keeps
        a resolved alert until it has notified it).

        The groups' members are read first and the deletes compare values: an alert that a post
        puts back into a group meanwhile has a new value (a new updatedAt), so it stays.
        """
        held = self._grouped_fingerprints()
        removed = 0
        batch: list[str] = []
        for fp, raw in self.iter_raw_alerts():
            if fp not in held and float(raw.split(" ", 2)[1]) <= now:
                batch += [fp, raw]
            if len(batch) >= 1000:
                removed += int(self._delete_unchanged(keys=[self.keys.alerts], args=batch))
                batch = []
        if batch:
            removed += int(self._delete_unchanged(keys=[self.keys.alerts], args=batch))
        return removed

    def _grouped_fingerprints(self, chunk: int = 1000) -> set[str]:
        gids = self.group_ids()
        held: set[str] = set()
        for i in range(0, len(gids), chunk):
            pipe = self.r.pipeline(transaction=False)
            for gid in gids[i : i + chunk]:
                pipe.smembers(self.keys.members(gid))
            for members in pipe.execute():
                held.update(fp.decode() for fp in members)
        return held

    def rearm_lost_timers(self, now: float) -> int:
        """Give every group without a timer one due now (a timer can be lost to a crash or a
        Redis failover); returns how many were re-armed."""
        gids = self.group_ids()
        if not gids:
            return 0
        pipe = self.r.pipeline(transaction=False)
        for gid in gids:
            pipe.zscore(self.keys.timers, gid)
        missing = [gid for gid, score in zip(gids, pipe.execute(), strict=True) if score is None]
        if missing:
            self.r.zadd(self.keys.timers, dict.fromkeys(missing, now), nx=True)
        return len(missing)
