"""Silences: kept in Redis so a silence made through one instance mutes on every instance.

Creation, update and expiry follow Alertmanager: an update keeps the id only when the matchers
are unchanged and the time change is one Alertmanager allows (see `_can_update`); otherwise the
old silence is expired and a new one with a new id replaces it. Every change bumps a version
counter, so each process re-reads the silences only when they changed, and goes through the
process's `Writer` (app/durability.py), so that a silence the API acknowledged outlives a crash.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import orjson
import redis

from app import metrics, redis_scripts
from app.alerts import Alert
from app.durability import Writer, deletions
from app.matchers import Matcher, matches_all
from app.redis_keys import Keys
from app.rediscluster import register
from app.timeutil import format_rfc3339

if TYPE_CHECKING:
    from app.silencelimits import SilenceLimits

PENDING, ACTIVE, EXPIRED = "pending", "active", "expired"


class SilenceError(ValueError):
    """A silence Alertmanager would refuse (HTTP 400)."""


class SilenceNotFound(LookupError):
    def __init__(self) -> None:
        super().__init__("silence not found")


@dataclass(frozen=True)
class Silence:
    id: str
    matchers: tuple[Matcher, ...]
    starts_at: float
    ends_at: float
    updated_at: float
    created_by: str
    comment: str
    annotations: dict[str, str] = field(default_factory=dict, compare=False)

    def state(self, now: float) -> str:
        if now < self.starts_at:
            return PENDING
        if self.ends_at < now:
            return EXPIRED
        return ACTIVE

    def mutes(self, labels: Mapping[str, str], now: float) -> bool:
        return self.state(now) == ACTIVE and matches_all(list(self.matchers), labels)

    def to_api(self, now: float) -> dict[str, Any]:
        out = {
            "id": self.id,
            "matchers": [matcher_to_api(m) for m in self.matchers],
            "startsAt": format_rfc3339(self.starts_at),
            "endsAt": format_rfc3339(self.ends_at),
            "updatedAt": format_rfc3339(self.updated_at),
            "createdBy": self.created_by,
            "comment": self.comment,
            "status": {"state": self.state(now)},
        }
        # Alertmanager (0.32+) writes the field with `omitempty`: a silence without annotations
        # has no `annotations` key, whatever its spec's `required` list says.
        if self.annotations:
            out["annotations"] = self.annotations
        return out

    def encode(self) -> str:
        fields: dict[str, Any] = {
            "id": self.id,
            "m": [[m.name, m.op, m.value] for m in self.matchers],
            "s": self.starts_at,
            "e": self.ends_at,
            "u": self.updated_at,
            "by": self.created_by,
            "c": self.comment,
        }
        # Only when there are some, so a silence without annotations is stored byte for byte as
        # before they existed (the GC's compare-delete and older readers see the same value).
        if self.annotations:
            fields["a"] = self.annotations
        return orjson.dumps(fields).decode()

    @classmethod
    def decode(cls, raw: str | bytes) -> Silence:
        """Read a stored silence; one stored before silences had annotations has no "a"."""
        d = orjson.loads(raw)
        matchers = tuple(Matcher(*m) for m in d["m"])
        return cls(d["id"], matchers, d["s"], d["e"], d["u"], d["by"], d["c"], d.get("a") or {})


def matcher_to_api(m: Matcher) -> dict[str, Any]:
    return {"name": m.name, "value": m.value, "isRegex": m.op in ("=~", "!~"), "isEqual": m.op in ("=", "=~")}


def _can_update(prev: Silence, new: Silence, now: float) -> bool:
    if prev.matchers != new.matchers:
        return False
    state = prev.state(now)
    if state == ACTIVE:
        return int(prev.starts_at) == int(new.starts_at) and new.ends_at >= now
    if state == PENDING:
        return new.starts_at >= now
    return False


def sort_for_api(silences: list[Silence], now: float) -> list[Silence]:
    """Alertmanager's order: active by soonest end, pending by soonest start, expired by latest end."""

    def key(s: Silence) -> tuple[int, float]:
        state = s.state(now)
        if state == ACTIVE:
            return (0, s.ends_at)
        if state == PENDING:
            return (1, s.starts_at)
        return (2, -s.ends_at)

    return sorted(silences, key=key)


class SilenceStore:
    """Silences in the P:silences hash. Writes return once `writer` made them durable (the
    write-ahead log in embedded mode, a replica's acknowledgement on Redis), so an answered
    silence outlives a crash. `limits` (app.silencelimits, from the flags) bounds and logs the
    writes made through the API."""

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        retention: float,
        writer: Writer | None = None,
        limits: SilenceLimits | None = None,
    ) -> None:
        self.r = client
        self.keys = keys
        self.retention = retention
        self.writer = writer if writer is not None else Writer()
        self.limits = limits
        self.version_key = keys.silences_version
        self._lock = threading.Lock()
        # (version, silences, the latest end among them): one tuple, replaced whole.
        self._cache: tuple[bytes | None, list[Silence], float] = (b"unset", [], -math.inf)
        self._checked_at = -math.inf  # time.monotonic() of the last version check
        self._put = register(client, redis_scripts.PUT_SILENCES)
        self._delete_unchanged = register(client, redis_scripts.DELETE_UNCHANGED)

    def all(self, max_age: float = 0.0) -> list[Silence]:
        """Every stored silence, re-read from Redis only when another process changed them.

        With `max_age` the version check itself is skipped for that long after the last one:
        a worker flushing thousands of groups a second checks once per --cluster.gossip-interval,
        as an Alertmanager replica sees its peers' silences a gossip round late. The API always
        checks, so a client reads its own writes through any instance.

        Each call is a silence query in Alertmanager's metrics, whoever asks (a flush's silence
        stage, the API, a scrape's counts, the GC), and scans every silence it returns: alerter
        has no index that would let a query skip some.
        """
        metrics.silence_queries.inc()
        # What prometheus_client's time() and count_exceptions() would do, without their context
        # managers: a flush's silence stage queries once per group.
        started = time.perf_counter()
        try:
            silences = self._read(max_age)
        except Exception:
            metrics.silence_query_errors.inc()
            raise
        finally:
            metrics.silence_query_duration.observe(max(time.perf_counter() - started, 0))
        if silences:  # adding 0 changes nothing, and costs the counter's lock
            metrics.silences_scanned.inc(len(silences))
        return silences

    def none_muting(self, now: float, max_age: float) -> bool:
        """Whether the silences as last read, less than `max_age` seconds ago, hold none that is
        active or pending at `now` (none ends after it); False when the read is older (`all`
        then checks the version). Asks nothing of Redis and counts no query.

        No lock: the cache is one tuple, replaced whole, so this reads a consistent triple (a
        flush's silence stage comes here once per group)."""
        if max_age > 0 and time.monotonic() - self._checked_at < max_age:
            version, _, last_end = self._cache
            return version != b"unset" and last_end < now
        return False

    def _read(self, max_age: float) -> list[Silence]:
        if max_age > 0 and time.monotonic() - self._checked_at < max_age:
            version, silences, _ = self._cache  # no lock, as in none_muting
            if version != b"unset":
                return silences
        checked_at = time.monotonic()
        version = self.r.get(self.version_key)
        with self._lock:
            self._checked_at = checked_at
            if version is not None and version == self._cache[0]:
                return self._cache[1]
        silences = [Silence.decode(raw) for raw in self.r.hvals(self.keys.silences)]
        last_end = max((s.ends_at for s in silences), default=-math.inf)
        with self._lock:
            self._cache = (version, silences, last_end)
        return silences

    def get(self, sid: str) -> Silence:
        raw = self.r.hget(self.keys.silences, sid)
        if raw is None:
            raise SilenceNotFound()
        return Silence.decode(raw)

    def _write(self, *silences: Silence) -> None:
        encoded = [(s.id, s.encode()) for s in silences]
        self.writer.run(
            self._put,
            keys=[self.keys.silences, self.version_key],
            args=[part for pair in encoded for part in pair],
            changes=lambda _: [("set", self.keys.silences, sid, raw) for sid, raw in encoded],
        )

    def set(self, new: Silence, now: float | None = None) -> str:
        """Create or update a silence the way Alertmanager does; returns the id in effect."""
        now = time.time() if now is None else now
        if new.ends_at <= new.starts_at:
            raise SilenceError("Failed to create silence: start time must be before end time")
        if new.ends_at < now:
            raise SilenceError("Failed to create silence: end time can't be in the past")
        prev = self.get(new.id) if new.id else None
        if prev is not None and _can_update(prev, new, now):
            updated = replace(new, updated_at=now)
            if self.limits is not None:
                self.limits.check_size(updated, self.retention)
                self.limits.changed("update silence", updated)
            self._write(updated)
            return new.id
        replaced = []
        if prev is not None and prev.state(now) != EXPIRED:
            replaced.append(_expired(prev, now))
        created = replace(new, id=str(uuid.uuid4()), starts_at=max(new.starts_at, now), updated_at=now)
        if self.limits is not None:
            # As Alertmanager: the count before the size, expired silences counted until
            # collected. Checked against Redis just before the write: two processes creating
            # at the same moment may each pass, as two Alertmanager replicas may.
            self.limits.check_count(self.r.hlen(self.keys.silences))
            self.limits.check_size(created, self.retention)
            for old in replaced:
                self.limits.changed("expire silence", old)
            self.limits.changed("create silence", created)
        self._write(*replaced, created)
        return created.id

    def expire(self, sid: str, now: float | None = None) -> None:
        now = time.time() if now is None else now
        sil = self.get(sid)
        if sil.state(now) == EXPIRED:
            return  # Alertmanager's expire is idempotent: a second DELETE is a 200
        expired = _expired(sil, now)
        if self.limits is not None:
            self.limits.changed("expire silence", expired)
        self._write(expired)

    def silenced_by(self, labels: Mapping[str, str], now: float) -> list[str]:
        return sorted(s.id for s in self.all() if s.mutes(labels, now))

    def gc(self, now: float) -> int:
        """Drop silences that expired more than --data.retention ago."""
        stale: list[str] = []
        for s in self.all():
            if s.ends_at + self.retention < now:
                stale += [s.id, s.encode()]
        if not stale:
            return 0
        removed = int(
            self.writer.run(
                self._delete_unchanged,
                keys=[self.keys.silences],
                args=stale,
                changes=lambda _: deletions(self.keys.silences, stale),
            )
        )
        self.r.incr(self.version_key)
        return removed


def _expired(s: Silence, now: float) -> Silence:
    if s.state(now) == PENDING:
        return replace(s, starts_at=now, ends_at=now, updated_at=now)
    return replace(s, ends_at=now, updated_at=now)


class SilenceStage:
    """The silence stage of a flush: silenced alerts are neither sent nor logged.

    Silences are read through the store's cache, at most `max_age` seconds old
    (--cluster.gossip-interval: how long Alertmanager takes to spread a silence to its peers).

    When that cache, read less than `max_age` ago, holds no silence that is active or pending,
    the stage makes no silence query (nothing counted in the query metrics), as Alertmanager's
    silencer makes none for an alert when no silence was added since its last query and none
    applied to it (its "super fast path"). A query per flushed group, with its counter, timer and
    histogram, was about 4 us of a worker's 100-250 us of CPU per notification.
    """

    def __init__(self, store: SilenceStore, max_age: float) -> None:
        self.store = store
        self.max_age = max_age

    def __call__(self, alerts: list[Alert], group: object, route: object, now: float) -> list[Alert]:
        if self.store.none_muting(now, self.max_age):
            return alerts
        active = [s for s in self.store.all(max_age=self.max_age) if s.state(now) == "active"]
        if not active:
            return alerts
        kept = [a for a in alerts if not any(s.mutes(a.labels, now) for s in active)]
        metrics.notifications_suppressed.labels(metrics.SUPPRESSED_BY_SILENCE).inc(len(alerts) - len(kept))
        return kept
