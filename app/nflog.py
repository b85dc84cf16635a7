"""The notification log: what each receiver integration was last told about each group.

Alertmanager gossips this log between replicas and still double-sends when gossip is slow. Here
the log lives in Redis and a lease (SET NX with a TTL) on (group, integration, content) lets
exactly one worker send a given notification: the holder commits the entry and drops the lease
in one step after a successful send, drops it after a failure, and a crashed holder's lease
simply expires so that another worker can retry.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Literal

import orjson
import redis

from app.store import DELETE_UNCHANGED_SCRIPT, Keys

_ACQUIRE = """
local current = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if current ~= ARGV[2] then return 'changed' end
if redis.call('SET', KEYS[2], ARGV[3], 'NX', 'PX', ARGV[4]) then return 'ok' end
return 'busy'
"""

# Record a send, unless another worker committed a newer notification for this integration
# while ours was in flight (a slow receiver, or a pause): writing ours then would roll the log
# back and make the next flush send the newer content again.
_COMMIT = """
local written = 0
if (redis.call('HGET', KEYS[1], ARGV[1]) or '') == ARGV[4] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  written = 1
end
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
return written
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

_REFRESH = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


@dataclass(frozen=True, slots=True)
class Entry:
    firing: frozenset[str]
    resolved: frozenset[str]
    timestamp: float
    expires_at: float

    def encode(self) -> str:
        return orjson.dumps(
            {
                "f": sorted(self.firing),
                "r": sorted(self.resolved),
                "ts": self.timestamp,
                "x": self.expires_at,
            }
        ).decode()

    @classmethod
    def decode(cls, raw: str) -> Entry:
        d = orjson.loads(raw)
        return cls(frozenset(d["f"]), frozenset(d["r"]), d["ts"], d["x"])


# An entry as read (None when absent) with its raw text, which acquire() compares against.
LogRead = tuple["Entry | None", str]


@dataclass(frozen=True, slots=True)
class Lease:
    field: str
    key: str
    token: str
    seen: str  # the log entry as read when the lease was taken; the commit must find it unchanged


def needs_update(
    entry: Entry | None,
    firing: frozenset[str],
    resolved: frozenset[str],
    send_resolved: bool,
    repeat_interval: float,
    now: float,
) -> bool:
    """Alertmanager's dedup decision for one integration of one group."""
    if entry is None:
        return bool(firing)
    if not firing <= entry.firing:
        return True
    if not firing:
        # All resolved: tell the receiver only if it was told something fired, whatever
        # send_resolved says, so the log forgets those alerts.
        return bool(entry.firing)
    if send_resolved and not resolved <= entry.resolved:
        return True
    return entry.timestamp < now - repeat_interval


class NotificationLog:
    """Entries in one Redis hash (field = group id + integration), leases as expiring strings."""

    def __init__(self, client: redis.Redis, keys: Keys, retention: float) -> None:
        self.r = client
        self.keys = keys
        self.retention = retention
        self._acquire = client.register_script(_ACQUIRE)
        self._commit = client.register_script(_COMMIT)
        self._release = client.register_script(_RELEASE)
        self._refresh = client.register_script(_REFRESH)
        self._delete_unchanged = client.register_script(DELETE_UNCHANGED_SCRIPT)

    @staticmethod
    def field(gid: str, receiver: str, integration: str, index: int) -> str:
        return f"{gid}:{receiver}/{integration}/{index}"

    def read(self, field: str) -> LogRead:
        """The entry and its raw text ('' when absent), which acquire() compares against."""
        return _log_read(self.r.hget(self.keys.nflog, field))

    def read_many(self, fields: list[str]) -> list[LogRead]:
        """read() for many entries in one round trip."""
        if not fields:
            return []
        return [_log_read(raw) for raw in self.r.hmget(self.keys.nflog, fields)]

    def acquire(
        self, field: str, seen: str, firing: frozenset[str], resolved: frozenset[str], ttl: float
    ) -> tuple[Literal["ok", "busy", "changed"], Lease | None]:
        """Take the lease to send this content, if the entry is still what the caller read.

        "busy": another worker holds it (it sends, or its lease expires and a later flush
        retries); "changed": another worker committed meanwhile, so decide again.
        """
        content = "|".join([field, ",".join(sorted(firing)), ",".join(sorted(resolved))])
        key = self.keys.lease(hashlib.sha1(content.encode()).hexdigest())
        token = uuid.uuid4().hex
        result = self._acquire(keys=[self.keys.nflog, key], args=[field, seen, token, int(ttl * 1000)])
        verdict = result.decode() if isinstance(result, bytes) else result
        return verdict, (Lease(field, key, token, seen) if verdict == "ok" else None)

    def refresh(self, lease: Lease, ttl: float) -> bool:
        """Extend a lease while its holder is still retrying; False if it was lost."""
        return bool(self._refresh(keys=[lease.key], args=[lease.token, int(ttl * 1000)]))

    def commit(
        self,
        lease: Lease,
        firing: frozenset[str],
        resolved: frozenset[str],
        now: float,
        repeat_interval: float,
    ) -> bool:
        """Record a successful send and drop the lease, atomically; False when a newer entry
        was committed meanwhile and is kept."""
        expiry = min(self.retention, 2 * repeat_interval) if repeat_interval > 0 else self.retention
        entry = Entry(firing, resolved, now, now + expiry)
        args = [lease.field, entry.encode(), lease.token, lease.seen]
        return bool(self._commit(keys=[self.keys.nflog, lease.key], args=args))

    def release(self, lease: Lease) -> None:
        self._release(keys=[lease.key], args=[lease.token])

    def gc(self, now: float) -> int:
        """Drop expired entries; an entry rewritten meanwhile is kept."""
        stale: list[str] = [""]
        for field, raw in self.r.hscan_iter(self.keys.nflog, count=1000):
            if Entry.decode(raw.decode()).expires_at <= now:
                stale += [field.decode(), raw.decode()]
        if len(stale) == 1:
            return 0
        return int(self._delete_unchanged(keys=[self.keys.nflog], args=stale))


def _log_read(raw: bytes | None) -> LogRead:
    if raw is None:
        return None, ""
    text = raw.decode()
    return Entry.decode(text), text
