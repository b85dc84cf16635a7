"""Alerts and aggregation groups in Redis.

Every write that must be atomic across web and worker processes is a Lua script, so a batch of
alerts costs one round trip whatever its size, and two instances merging the same alert at the
same moment cannot lose an update. Key names are in app/redis_keys.py, the scripts in
app/redis_scripts.py.

On a Redis Cluster (the cluster layout of app/redis_keys.py) each shard holds its groups and
their alerts: a batch is one script call per shard it touches (pipelined, one round trip per
master), an alert routed to groups of two shards is merged into both, and what reads every alert
or group reads every shard.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
import orjson
import redis

from app import metrics, redis_scripts
from app.alerts import Alert
from app.redis_keys import Keys
from app.rediscluster import Call, register, run_script

log = logging.getLogger(__name__)

# The most group ids an AlertStore remembers as stored (AlertStore._known), a few MB; past it
# they are forgotten at once, which costs the next batch of each group its lines again.
KNOWN_GROUPS = 1 << 15

# Groups read per LOAD_GROUPS call: a listing of every group (the API, the metrics) then holds
# Redis up a few milliseconds at a time rather than for the whole read.
LOAD_CHUNK = 500


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
    # The group as PUT_ALERTS reads it ("NEWLINE gid TAB group_wait TAB group_interval TAB
    # metadata JSON"), encoded once: refs are cached per routing key and every ingested alert
    # would otherwise encode it again.
    line: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        meta = {"key": self.key, "route": self.route_id, "receiver": self.receiver, "labels": self.labels}
        line = f"\n{self.gid}\t{self.group_wait!r}\t{self.group_interval!r}\t{orjson.dumps(meta).decode()}"
        object.__setattr__(self, "line", line)


class GroupRefs(tuple[GroupRef, ...]):
    """The groups one routing key leads to (the dispatcher caches one per routing key), with
    their ids joined as PUT_ALERTS reads them: joined once here, not for every alert stored."""

    gid_list: str

    def __new__(cls, refs: Iterable[GroupRef]) -> GroupRefs:
        self = super().__new__(cls, refs)
        self.gid_list = ",".join([g.gid for g in self])
        return self


# The first byte of a split alert's value in P:alerts, its JSON body ("{"); a whole value starts
# with its startsAt.
_BODY = ord("{")


def _whole_values(values: dict[bytes, bytes], times: dict[bytes, bytes | None]) -> dict[bytes, bytes]:
    """`values` (fingerprint -> an alerts hash's value) with each split alert's whole value put
    together from its times (`times`, fingerprint -> its P:alert-times entry), in place: a
    re-send without times changes only the times (PUT_ALERTS). A body whose times are missing
    stays a body, for the caller to leave out."""
    for fp, t in times.items():
        body = values.get(fp)
        if t is not None and body is not None and body[0] == _BODY:
            values[fp] = t + b" " + body
    return values


def _group_lines(groups: dict[str, GroupRef]) -> str:
    """PUT_ALERTS' ARGV[4] for these groups: their lines, which create a group that is missing."""
    return "".join([g.line for g in groups.values()])


class GroupState(msgspec.Struct):
    """An aggregation group as read back from Redis, with its raw alert values for compare-delete.

    A group holds its alerts' fingerprints; each alert is stored once, in the alerts hash, where
    every group it routes to reads it (two copies of every alert were half of Redis's memory).

    A msgspec Struct, built in C: a flush reads one per group, and as a slotted dataclass built
    by keyword it cost about 2 us against 0.4 us (timeit)."""

    gid: str
    key: str
    route_id: str
    receiver: str
    labels: dict[str, str]
    alerts: list[Alert]
    raw: dict[str, str]
    # The time intervals that muted the group at its last flush (the "muted" field, empty when
    # none): Alertmanager's group marker, shown by the API as the alerts' `mutedBy`.
    muted_by: list[str] = msgspec.field(default_factory=list)


class AlertStore:
    """Reads and atomic writes of alerts and aggregation groups.

    `per_alertname_limit` (--alerts.per-alertname-limit, 0 or less for none) caps the alerts
    stored per alertname, as Alertmanager's store does: an alert over it is dropped, logged and
    counted in alertmanager_alerts_limited_total (by alertname with `alertname_in_metrics`,
    --enable-feature=alert-names-in-metrics). The count is kept in Redis by the script that
    stores the alerts, so it holds across every process.
    """

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        per_alertname_limit: int = 0,
        alertname_in_metrics: bool = False,
    ) -> None:
        self.r = client
        self.keys = keys
        self.limit = max(per_alertname_limit, 0)
        self.alertname_in_metrics = alertname_in_metrics
        self._put = register(client, redis_scripts.PUT_ALERTS)
        self._delete_unchanged = register(client, redis_scripts.DELETE_UNCHANGED)
        self._drop_from_group = register(client, redis_scripts.DROP_FROM_GROUP)
        self._set_muted = register(client, redis_scripts.SET_GROUP_MUTED)
        self._load_groups = register(client, redis_scripts.LOAD_GROUPS)
        # Ids of groups this process has stored alerts into: a batch going only to such groups
        # is sent without their lines (PUT_ALERTS checks that they still exist). A hint, never
        # trusted: a group deleted since costs a second call.
        self._known: set[str] = set()

    def put(self, routed: Sequence[tuple[Alert, Sequence[GroupRef]]], now: float) -> int:
        """Merge a batch of alerts and insert them into their groups in one round trip (one
        script call per shard the batch touches, on a cluster).

        Returns how many alerts merged with a stored version (on a cluster: how many copies).
        """
        # A batch's alerts share a few route results (the dispatcher's GroupRefs, one per routing
        # key): each distinct one is kept by identity (GroupRef holds a dict, so refs do not
        # hash), referenced so that its id stays its own, and its groups sent once.
        seen: dict[int, Sequence[GroupRef]] = {}
        names: dict[str, str] = {}  # fingerprint -> alertname, to report what the limit dropped
        shared: list[Alert] = []  # the first of the batch's alerts posted without times, if any
        if self.keys.cluster:
            batches = self._sharded_lines(routed, seen, names, shared)
        else:
            batches = self._plain_lines(routed, seen, names, shared)
        if not batches:
            return 0
        groups: dict[Keys, dict[str, GroupRef]]  # by gid
        if self.keys.cluster:
            groups = {shard: {} for shard in batches}
            for refs in seen.values():
                for g in refs:
                    groups[self.keys.shard(g.gid)][g.gid] = g
        else:  # one shard: no call per group to find it
            groups = {self.keys: {g.gid: g for refs in seen.values() for g in refs}}
        # Whether an alert is on two lines: the script then remembers each line's result for the
        # next (one set comprehension here instead of a table filled per line in Redis).
        twice = "1" if len({a.fingerprint for a, _ in routed}) < len(routed) else ""
        calls: list[Call] = []
        learn = []  # the groups of the calls sent with lines, known once those succeed
        for shard, (lines, values) in batches.items():
            gmap = groups[shard]
            waits = [g.group_wait for g in gmap.values()]
            least = min(waits, default=0.0)
            # Without a limit, a batch whose groups this process has stored before and share one
            # group_wait goes without the groups' lines (PUT_ALERTS' ARGV[4]).
            lineless = not self.limit and least == max(waits, default=0.0) and self._known.issuperset(gmap)
            keys = [shard.alerts, shard.timers, shard.groups, shard.alert_times, *self._declared(gmap, shard)]
            args = [
                now,
                shard.group_stem,
                shard.members_stem,
                "" if lineless else _group_lines(gmap),
                "\n".join(lines),
                self.limit,
                self.keys.alertname_limit_stem,
                shared[0].encode_times() if shared else b"",
                least,
                twice,
                *values,
            ]
            calls.append((keys, args))
            if not lineless:
                learn.append(gmap)
        replies = run_script(self.r, self._put, calls)
        # A call sent without lines that found a group missing (deleted since this process
        # stored into it) wrote nothing: it goes again with them.
        again = [i for i, reply in enumerate(replies) if int(reply[0]) == -1]
        if again:
            shards = list(batches)
            redo: list[Call] = []
            for i in again:
                keys, args = calls[i]
                redo.append((keys, [*args[:3], _group_lines(groups[shards[i]]), *args[4:]]))
            for i, reply in zip(again, run_script(self.r, self._put, redo), strict=True):
                replies[i] = reply
        if learn and len(self._known) > KNOWN_GROUPS:
            self._known.clear()
        for gmap in learn:
            self._known.update(gmap)
        merged = 0
        dropped = []
        for reply in replies:
            merged += int(reply[0])
            dropped += reply[1:]
        for fp in dropped:
            name = names[fp.decode()]
            log.warning("error on set alert", extra={"fields": {"alertname": name, "err": "alert limited"}})
            counter = metrics.alerts_limited(self.alertname_in_metrics)
            (counter.labels(name) if self.alertname_in_metrics else counter).inc()
        return merged

    def _plain_lines(
        self,
        routed: Iterable[tuple[Alert, Sequence[GroupRef]]],
        seen: dict[int, Sequence[GroupRef]],
        names: dict[str, str],
        shared: list[Alert],
    ) -> dict[Keys, tuple[list[str], list[bytes]]]:
        """PUT_ALERTS' lines and values for the plain layout's one call (its hot path: nothing
        per alert beyond the line and the value)."""
        lines: list[str] = []
        values: list[bytes] = []  # each alert's encoded value, an argument of its own
        for alert, refs in routed:
            seen[id(refs)] = refs
            gids = refs.gid_list if type(refs) is GroupRefs else ",".join([g.gid for g in refs])
            tail, value = self._encoded(alert, names, shared)
            lines.append(f"{alert.fingerprint}\t{gids}\t{tail}")
            values.append(value)
        return {self.keys: (lines, values)} if lines else {}

    def _sharded_lines(
        self,
        routed: Iterable[tuple[Alert, Sequence[GroupRef]]],
        seen: dict[int, Sequence[GroupRef]],
        names: dict[str, str],
        shared: list[Alert],
    ) -> dict[Keys, tuple[list[str], list[bytes]]]:
        """PUT_ALERTS' lines and values per shard on a cluster: an alert goes to each shard its
        groups are in, one routed nowhere to its fingerprint's shard (the API lists it)."""
        out: dict[Keys, tuple[list[str], list[bytes]]] = {}
        split: dict[int, list[tuple[Keys, str]]] = {}
        for alert, refs in routed:
            parts = split.get(id(refs))
            if parts is None:
                seen[id(refs)] = refs
                by_shard = self.keys.by_shard([g.gid for g in refs])
                parts = split[id(refs)] = [(shard, ",".join(gids)) for shard, gids in by_shard.items()]
            tail, value = self._encoded(alert, names, shared)
            for shard, gids in parts or [(self.keys.shard(alert.fingerprint), "")]:
                lines, values = out.setdefault(shard, ([], []))
                lines.append(f"{alert.fingerprint}\t{gids}\t{tail}")
                values.append(value)
        return out

    def _encoded(self, alert: Alert, names: dict[str, str], shared: list[Alert]) -> tuple[str, bytes]:
        """What follows an alert's gids in its PUT_ALERTS line (its head; under a limit, its
        alertname's bucket first), and its value.

        An alert posted without startsAt and endsAt (it starts as it arrives, its endsAt from
        resolve_timeout) has the times every such alert of the batch has: they go to the script
        once, those of the first such alert (`shared`), and the alert as its body only, with the
        head "=". The script stores it split, the body as it came and the times apart
        (P:alert-times), so that its re-send rewrites only a short times text. (Its times are
        told apart by startsAt and endsAt: updatedAt is its startsAt, timeout is set.)
        """
        head = ""
        if alert.timeout and alert.starts_at == alert.updated_at:
            if not shared:
                shared.append(alert)
            first = shared[0]
            if alert.starts_at == first.starts_at and alert.ends_at == first.ends_at:
                head, value = "=", alert.encode_body()
            else:
                value = alert.encode()
        else:
            value = alert.encode()
        if not self.limit:
            return head, value
        names[alert.fingerprint] = name = alert.labels.get("alertname", "")
        return f"{hashlib.blake2b(name.encode(), digest_size=10).hexdigest()}\t{head}", value

    def _declared(self, gids: Iterable[str], shard: Keys, inflight: bool = False) -> list[str]:
        """On a cluster, the group keys a script builds from stems, for its KEYS (PUT_ALERTS,
        LOAD_GROUPS): a slot being migrated then refuses the call before it runs (TRYAGAIN,
        ASK, which the client retries), never half-way through its writes. None on a plain
        Redis, where they would only cost the call's arguments."""
        if not self.keys.cluster:
            return []
        declared = []
        for gid in gids:
            declared += [shard.group(gid), shard.members(gid)]
            if inflight:
                declared.append(shard.inflight(gid))
        return declared

    def alerts(self) -> list[Alert]:
        """Every alert once. On a cluster an alert routed to groups of several shards has a copy
        in each; every copy received the same posts and the merge does not depend on their
        order, so copies differ only while a post is half-way through its shards: the one
        updated last is kept.

        On one Redis the two hashes are read in one MULTI, so that a post landing between the
        reads cannot pair an alert's body with the times of a later post (a split alert,
        PUT_ALERTS). A cluster's shards live on different masters, which no transaction spans:
        there the reads stay a plain pipeline and that rare mix can show in a listing."""
        shards = self.keys.shards()
        pipe = self.r.pipeline(transaction=len(shards) == 1)
        for shard in shards:
            pipe.hgetall(shard.alerts)
            pipe.hgetall(shard.alert_times)
        replies = pipe.execute()
        if len(shards) == 1:
            whole = _whole_values(*replies)
            return [Alert.decode(fp.decode(), raw) for fp, raw in whole.items() if raw[0] != _BODY]
        newest: dict[bytes, tuple[float, bytes]] = {}
        for i in range(0, len(replies), 2):
            for fp, raw in _whole_values(replies[i], replies[i + 1]).items():
                if raw[0] == _BODY:
                    continue
                updated = float(raw.split(b" ", 3)[2])
                if fp not in newest or updated > newest[fp][0]:
                    newest[fp] = (updated, raw)
        return [Alert.decode(fp.decode(), raw) for fp, (_, raw) in newest.items()]

    def iter_raw_alerts(self, shard: Keys, batch: int = 1000) -> Iterator[tuple[str, str]]:
        """The alerts of one shard (the plain layout's only one: `store.keys`), each as its whole
        value: a split alert's (PUT_ALERTS) put together from its times, read right after its
        body. An alert that changed in between comes as a value Redis no longer holds, which a
        compare-and-delete (DELETE_UNCHANGED) leaves alone; one no longer split is left out."""
        cursor = 0
        while True:
            cursor, page = self.r.hscan(shard.alerts, cursor, count=batch)
            split = [fp for fp, raw in page.items() if raw[0] == _BODY]
            if split:
                _whole_values(page, dict(zip(split, self.r.hmget(shard.alert_times, split), strict=True)))
            for fp, raw in page.items():
                if raw[0] != _BODY:
                    yield fp.decode(), raw.decode()
            if not cursor:
                return

    def group_ids(self, shard: Keys | None = None) -> list[str]:
        """The ids of the groups of `shard`, or of every shard."""
        shards = self.keys.shards() if shard is None else (shard,)
        pipe = self.r.pipeline(transaction=False)
        for one in shards:
            pipe.smembers(one.groups)
        return sorted(g.decode() for members in pipe.execute() for g in members)

    def load_groups(self, gids: list[str], release_inflight: bool = False) -> list[GroupState]:
        """Read many groups with their alerts (LOAD_GROUPS: one call per LOAD_CHUNK groups, one
        for a flush batch); groups deleted meanwhile are left out.

        With `release_inflight` (a flush about to run) the groups' in-flight marks go in the same
        call: from then on the timer loop may queue the groups' next flush.
        """
        out = []
        for chunk, reply in self._load_chunks(gids, release_inflight):
            pos = 0
            for gid in chunk:
                meta_raw, muted_raw, count = reply[pos : pos + 3]
                pairs = reply[pos + 3 : pos + 3 + 2 * count]
                pos += 3 + 2 * count
                if meta_raw is None:
                    continue
                meta = orjson.loads(meta_raw)
                # A member without a value is one a concurrent flush and GC have just let go of.
                # Sorted by fingerprint: no two are equal, so the values are never compared.
                members = sorted(zip(pairs[::2], pairs[1::2], strict=True))
                raw = {fp.decode(): v.decode() for fp, v in members if v is not None}
                # Positional, in field order, as Alert.decode builds its alerts.
                out.append(
                    GroupState(
                        gid,
                        meta["key"],
                        meta["route"],
                        meta["receiver"],
                        meta["labels"],
                        [Alert.decode(fp, v) for fp, v in raw.items()],
                        raw,
                        orjson.loads(muted_raw) if muted_raw else [],
                    )
                )
        return out

    def _load_chunks(self, gids: list[str], release_inflight: bool) -> Iterator[tuple[list[str], Any]]:
        """LOAD_GROUPS over `gids`, LOAD_CHUNK groups a call: one call after another on a plain
        Redis; on a cluster, each shard's calls pipelined together (a listing of every group
        would otherwise cost a round trip per shard)."""
        calls: list[Call] = []
        chunks = []
        for shard, shard_gids in self.keys.by_shard(gids).items():
            inflight = shard.inflight_stem if release_inflight else ""
            for start in range(0, len(shard_gids), LOAD_CHUNK):
                chunk = shard_gids[start : start + LOAD_CHUNK]
                chunks.append(chunk)
                declared = self._declared(chunk, shard, release_inflight)
                calls.append(
                    (
                        [shard.alerts, shard.alert_times, *declared],
                        [shard.group_stem, shard.members_stem, inflight, *chunk],
                    )
                )
        together = len(calls) if self.keys.cluster else 1
        for start in range(0, len(calls), together):
            replies = run_script(self.r, self._load_groups, calls[start : start + together])
            yield from zip(chunks[start : start + together], replies, strict=True)

    def set_muted(self, group: GroupState, names: list[str]) -> None:
        """Record the time intervals muting `group` at this flush (none: not muted), as
        Alertmanager's time stages set its group marker at every flush; written only when it
        changed, and only while the group exists, so a group deleted meanwhile is not revived."""
        if names == group.muted_by:
            return
        value = orjson.dumps(names).decode() if names else ""
        self._set_muted(keys=[self.keys.group(group.gid)], args=[value])
        group.muted_by = list(names)

    def drop_unchanged_alerts(self, group: GroupState, fingerprints: Iterable[str]) -> bool:
        """Take alerts out of the group (notified resolutions, alerts routed elsewhere), each only
        if it was not updated since the flush read it; True if the group went with them."""
        args: list[str] = [group.gid]
        for fp in fingerprints:
            args += [fp, group.raw[fp]]
        shard = self.keys.shard(group.gid)
        keys = [
            shard.alerts,
            shard.members(group.gid),
            shard.group(group.gid),
            shard.groups,
            shard.timers,
            shard.alert_times,
        ]
        return int(self._drop_from_group(keys=keys, args=args)) == -1

    def delete_group(self, gid: str) -> None:
        shard = self.keys.shard(gid)
        pipe = self.r.pipeline(transaction=True)
        pipe.delete(shard.group(gid), shard.members(gid))
        pipe.srem(shard.groups, gid)
        pipe.zrem(shard.timers, gid)
        pipe.execute()

    def gc_resolved(self, now: float) -> int:
        """Drop alerts whose endsAt has passed and that no group holds any more (a group keeps
        a resolved alert until it has notified it).

        The groups' members are read first and the deletes compare values: an alert that a post
        puts back into a group meanwhile has a new value (a new updatedAt), so it stays.
        """
        return sum(self._gc_shard(shard, now) for shard in self.keys.shards())

    def _gc_shard(self, shard: Keys, now: float) -> int:
        """gc_resolved on one shard: its alerts against its own groups' members (an alert's
        copy in one shard is held by that shard's groups only)."""
        held = self._grouped_fingerprints(shard)
        removed = 0
        batch: list[str] = []
        for fp, raw in self.iter_raw_alerts(shard):
            if fp not in held and float(raw.split(" ", 2)[1]) <= now:
                batch += [fp, raw]
            if len(batch) >= 1000:
                removed += int(self._delete_unchanged(keys=[shard.alerts, shard.alert_times], args=batch))
                batch = []
        if batch:
            removed += int(self._delete_unchanged(keys=[shard.alerts, shard.alert_times], args=batch))
        return removed

    def _grouped_fingerprints(self, shard: Keys, chunk: int = 1000) -> set[str]:
        gids = self.group_ids(shard)
        held: set[str] = set()
        for i in range(0, len(gids), chunk):
            pipe = self.r.pipeline(transaction=False)
            for gid in gids[i : i + chunk]:
                pipe.smembers(shard.members(gid))
            for members in pipe.execute():
                held.update(fp.decode() for fp in members)
        return held

    def rearm_lost_timers(self, now: float) -> int:
        """Give every group without a timer one due now (a timer can be lost to a crash or a
        Redis failover); returns how many were re-armed."""
        rearmed = 0
        for shard in self.keys.shards():
            gids = self.group_ids(shard)
            if not gids:
                continue
            pipe = self.r.pipeline(transaction=False)
            for gid in gids:
                pipe.zscore(shard.timers, gid)
            missing = [gid for gid, score in zip(gids, pipe.execute(), strict=True) if score is None]
            if missing:
                self.r.zadd(shard.timers, dict.fromkeys(missing, now), nx=True)
            rearmed += len(missing)
        return rearmed
