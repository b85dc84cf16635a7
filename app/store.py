"""Alerts and aggregation groups in Redis.

Every write that must be atomic across web and worker processes is a Lua script, so a batch of
alerts costs one round trip whatever its size, and two instances merging the same alert at the
same moment cannot lose an update. Key names are in app/redis_keys.py, the scripts in
app/redis_scripts.py.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import orjson
import redis

from app import metrics, redis_scripts
from app.alerts import Alert
from app.redis_keys import Keys

log = logging.getLogger(__name__)

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
    # The group as PUT_ALERTS reads it ("gid TAB group_wait TAB group_interval TAB metadata
    # JSON"), encoded once: refs are cached per routing key and every ingested alert would
    # otherwise encode it again.
    line: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        meta = {"key": self.key, "route": self.route_id, "receiver": self.receiver, "labels": self.labels}
        line = f"{self.gid}\t{self.group_wait!r}\t{self.group_interval!r}\t{orjson.dumps(meta).decode()}"
        object.__setattr__(self, "line", line)


class GroupRefs(tuple[GroupRef, ...]):
    """The groups one routing key leads to (the dispatcher caches one per routing key), with
    their ids joined as PUT_ALERTS reads them: joined once here, not for every alert stored."""

    gid_list: str

    def __new__(cls, refs: Iterable[GroupRef]) -> GroupRefs:
        self = super().__new__(cls, refs)
        self.gid_list = ",".join([g.gid for g in self])
        return self


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
    # The time intervals that muted the group at its last flush (the "muted" field, empty when
    # none): Alertmanager's group marker, shown by the API as the alerts' `mutedBy`.
    muted_by: list[str] = field(default_factory=list)


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
        self._put = client.register_script(redis_scripts.PUT_ALERTS)
        self._delete_unchanged = client.register_script(redis_scripts.DELETE_UNCHANGED)
        self._drop_from_group = client.register_script(redis_scripts.DROP_FROM_GROUP)
        self._set_muted = client.register_script(redis_scripts.SET_GROUP_MUTED)
        self._load_groups = client.register_script(redis_scripts.LOAD_GROUPS)

    def put(self, routed: Iterable[tuple[Alert, Sequence[GroupRef]]], now: float) -> int:
        """Merge a batch of alerts and insert them into their groups in one round trip.

        Returns how many alerts merged with a stored version.
        """
        # A batch's alerts share a few route results (the dispatcher's GroupRefs, one per routing
        # key, their gids joined already; any other sequence of refs is joined here): each
        # distinct one is kept by identity (GroupRef holds a dict, so refs do not hash), its
        # groups sent once.
        by_refs: dict[int, Sequence[GroupRef]] = {}
        lines = []
        values = []  # each alert's encoded value, an argument of its own (see PUT_ALERTS)
        names: dict[str, str] = {}  # fingerprint -> alertname, to report what the limit dropped
        for alert, refs in routed:
            by_refs[id(refs)] = refs
            gids = refs.gid_list if type(refs) is GroupRefs else ",".join([g.gid for g in refs])
            if alert.starts_at == alert.updated_at:
                # It starts as it arrives (posted without startsAt): a stored version's startsAt
                # will replace its own, which the script then puts in front of the rest.
                head, value = alert.encode_after_start()
            else:
                head, value = "", alert.encode()
            if self.limit:
                names[alert.fingerprint] = name = alert.labels.get("alertname", "")
                bucket = hashlib.blake2b(name.encode(), digest_size=10).hexdigest()
                lines.append(f"{alert.fingerprint}\t{gids}\t{bucket}\t{head}")
            else:
                lines.append(f"{alert.fingerprint}\t{gids}\t{head}")
            values.append(value)
        if not lines:
            return 0
        groups = "\n".join(dict.fromkeys(g.line for refs in by_refs.values() for g in refs))
        keys = [self.keys.alerts, self.keys.timers, self.keys.groups]
        args = [
            now,
            self.keys.group_stem,
            self.keys.members_stem,
            groups,
            "\n".join(lines),
            self.limit,
            self.keys.alertname_limit_stem,
            *values,
        ]
        merged, *dropped = self._put(keys=keys, args=args)
        for fp in dropped:
            name = names[fp.decode()]
            log.warning("error on set alert", extra={"fields": {"alertname": name, "err": "alert limited"}})
            counter = metrics.alerts_limited(self.alertname_in_metrics)
            (counter.labels(name) if self.alertname_in_metrics else counter).inc()
        return int(merged)

    def alerts(self) -> list[Alert]:
        return [Alert.decode(fp.decode(), raw) for fp, raw in self.r.hgetall(self.keys.alerts).items()]

    def iter_raw_alerts(self, batch: int = 1000) -> Iterator[tuple[str, str]]:
        for fp, raw in self.r.hscan_iter(self.keys.alerts, count=batch):
            yield fp.decode(), raw.decode()

    def group_ids(self) -> list[str]:
        return sorted(g.decode() for g in self.r.smembers(self.keys.groups))

    def load_groups(self, gids: list[str], release_inflight: bool = False) -> list[GroupState]:
        """Read many groups with their alerts (LOAD_GROUPS: one call per LOAD_CHUNK groups, one
        for a flush batch); groups deleted meanwhile are left out.

        With `release_inflight` (a flush about to run) the groups' in-flight marks go in the same
        call: from then on the timer loop may queue the groups' next flush.
        """
        inflight = self.keys.inflight_stem if release_inflight else ""
        stems = [self.keys.group_stem, self.keys.members_stem, inflight]
        out = []
        for start in range(0, len(gids), LOAD_CHUNK):
            chunk = gids[start : start + LOAD_CHUNK]
            reply = self._load_groups(keys=[self.keys.alerts], args=[*stems, *chunk])
            pos = 0
            for gid in chunk:
                meta_raw, muted_raw, count = reply[pos : pos + 3]
                pairs = reply[pos + 3 : pos + 3 + 2 * count]
                pos += 3 + 2 * count
                if meta_raw is None:
                    continue
                meta = orjson.loads(meta_raw)
                # A member without a value is one a concurrent flush and GC have just let go of.
                members = sorted(zip(pairs[::2], pairs[1::2], strict=True), key=lambda member: member[0])
                raw = {fp.decode(): v.decode() for fp, v in members if v is not None}
                out.append(
                    GroupState(
                        gid=gid,
                        key=meta["key"],
                        route_id=meta["route"],
                        receiver=meta["receiver"],
                        labels=meta["labels"],
                        alerts=[Alert.decode(fp, v) for fp, v in raw.items()],
                        raw=raw,
                        muted_by=orjson.loads(muted_raw) if muted_raw else [],
                    )
                )
        return out

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
