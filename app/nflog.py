"""The notification log: what each receiver integration was last told about each group.

Alertmanager gossips this log between replicas and still double-sends when gossip is slow. Here
the log lives in Redis and a lease (SET NX with a TTL) on (group, integration, content) lets
exactly one worker send a given notification: the holder commits the entry and drops the lease
in one step after a successful send, drops it after a failure, and a crashed holder's lease
simply expires so that another worker can retry. A commit returns once the process's `Writer`
(app/durability.py) made it durable, so a notification logged as sent is not sent again after a
crash of the embedded process or a Redis failover.

On a Redis Cluster each shard has its own log hash, holding its groups' entries, and its own
leases (app/redis_keys.py): a batch of reads, leases or commits costs one call per shard it
touches.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import time
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import orjson
import redis

from app import metrics, redis_scripts
from app.durability import Change, Writer, deletions
from app.notify.message import (
    REASON_ALL_RESOLVED,
    REASON_FIRST,
    REASON_NEW_ALERTS,
    REASON_NEW_RESOLVED,
    REASON_NONE,
    REASON_REPEAT,
)
from app.redis_keys import Keys
from app.rediscluster import Call, register, run_script

log = logging.getLogger(__name__)

# Lease tokens: the pid (read each time: forked processes share this module's state), a random
# part in case a pid is reused, and a counter; cheaper than a uuid4 per notification.
_TOKEN_RANDOM = os.urandom(6).hex()
_token_numbers = itertools.count()


def _token_prefix() -> str:
    """What this process's tokens start with; a batch of leases reads it once."""
    return f"{os.getpid()}.{_TOKEN_RANDOM}."


@dataclass(frozen=True, slots=True)
class Entry:
    firing: frozenset[str]
    resolved: frozenset[str]
    timestamp: float
    expires_at: float

    def encode(self) -> str:
        return _encode_entry(self.firing, self.resolved, self.timestamp, self.expires_at)

    @classmethod
    def decode(cls, raw: str) -> Entry:
        d = orjson.loads(raw)
        return cls(frozenset(d["f"]), frozenset(d["r"]), d["ts"], d["x"])


def _encode_entry(
    firing: frozenset[str], resolved: frozenset[str], timestamp: float, expires_at: float
) -> str:
    """An entry's stored text; commits encode without making an Entry (one per notification)."""
    entry = {"f": sorted(firing), "r": sorted(resolved), "ts": timestamp, "x": expires_at}
    return orjson.dumps(entry).decode()


# An entry as read (None when absent) with its raw text, which acquire() compares against.
LogRead = tuple["Entry | None", str]


class Lease(NamedTuple):
    """A lease as taken. A named tuple rather than a frozen dataclass: one is made per
    notification, and a frozen dataclass sets each field through object.__setattr__."""

    field: str
    key: str
    token: str
    seen: str  # the log entry as read when the lease was taken; the commit must find it unchanged
    taken_at: float  # time.monotonic() before the lease was asked for

    def age(self) -> float:
        return time.monotonic() - self.taken_at


# What acquire() says: "ok" (the lease is ours), "busy" (another worker holds it: it sends, or
# its lease expires and a later flush retries), "changed" (another worker committed meanwhile,
# so decide again).
Verdict = Literal["ok", "busy", "changed"]


def notify_reason(
    entry: Entry | None,
    firing: frozenset[str],
    resolved: frozenset[str],
    send_resolved: bool,
    repeat_interval: float,
    now: float,
) -> str:
    """Alertmanager's dedup decision for one integration of one group, as its NotifyReason text
    (REASON_NONE: nothing to send); notifications carry it as `notification_reason`."""
    if entry is None:
        return REASON_FIRST if firing else REASON_NONE
    if not firing <= entry.firing:
        # After a notification that all was resolved, new alerts start the group over.
        return REASON_NEW_ALERTS if entry.firing else REASON_FIRST
    if not firing:
        # All resolved: tell the receiver only if it was told something fired, whatever
        # send_resolved says, so the log forgets those alerts.
        return REASON_ALL_RESOLVED if entry.firing else REASON_NONE
    if send_resolved and not resolved <= entry.resolved:
        return REASON_NEW_RESOLVED
    return REASON_REPEAT if entry.timestamp < now - repeat_interval else REASON_NONE


class NotificationLog:
    """Entries in one Redis hash per shard (field = group id + integration), leases as expiring
    strings."""

    def __init__(
        self, client: redis.Redis, keys: Keys, retention: float, writer: Writer | None = None
    ) -> None:
        self.r = client
        self.keys = keys
        self.retention = retention
        self.writer = writer if writer is not None else Writer()
        self._acquire_many = register(client, redis_scripts.ACQUIRE_LEASES)
        self._commit_many = register(client, redis_scripts.COMMIT_LEASES)
        self._release = register(client, redis_scripts.RELEASE_LEASE)
        self._refresh = register(client, redis_scripts.REFRESH_LEASE)
        self._delete_unchanged = register(client, redis_scripts.DELETE_UNCHANGED)

    @staticmethod
    def field(gid: str, receiver: str, integration: str, index: int) -> str:
        return f"{gid}:{receiver}/{integration}/{index}"

    def _shard(self, field: str) -> Keys:
        """The keys of the shard of the group a log field belongs to."""
        return self.keys.shard(field.partition(":")[0]) if self.keys.cluster else self.keys

    def _by_shard(self, fields: list[str]) -> dict[Keys, list[int]]:
        """The positions of `fields` per shard (one shard in the plain layout, found without
        looking at each field: per field, that cost 3 % of a worker's CPU per notification)."""
        if not self.keys.cluster:
            return {self.keys: list(range(len(fields)))} if fields else {}
        out: dict[Keys, list[int]] = {}
        for i, field in enumerate(fields):
            out.setdefault(self._shard(field), []).append(i)
        return out

    def read_many(self, fields: list[str]) -> list[LogRead]:
        """Each entry and its raw text ('' when absent), which acquire() compares against, in one
        round trip."""
        if not fields:
            return []
        # alertmanager_nflog_query_duration_seconds: one observation per round trip, which
        # answers the queries (alertmanager_nflog_queries_total) of every field at once.
        with metrics.nflog_query_duration.time():
            shards = self._by_shard(fields)
            if len(shards) == 1:
                raws = self.r.hmget(next(iter(shards)).nflog, fields)
            else:
                pipe = self.r.pipeline(transaction=False)
                for shard, positions in shards.items():
                    pipe.hmget(shard.nflog, [fields[i] for i in positions])
                raws = [None] * len(fields)
                for positions, found in zip(shards.values(), pipe.execute(), strict=True):
                    for i, raw in zip(positions, found, strict=True):
                        raws[i] = raw
        return [_log_read(raw) for raw in raws]

    def acquire(
        self, field: str, seen: str, firing: frozenset[str], resolved: frozenset[str], ttl: float
    ) -> tuple[Verdict, Lease | None]:
        """Take the lease to send this content, if the entry is still what the caller read."""
        return self.acquire_many([(field, seen, firing, resolved)], ttl)[0]

    def acquire_many(
        self, wanted: list[tuple[str, str, frozenset[str], frozenset[str]]], ttl: float
    ) -> list[tuple[Verdict, Lease | None]]:
        """acquire() for (field, seen, firing, resolved) items in one round trip: a flush batch
        takes all its leases at once instead of one round trip per notification."""
        if not wanted:
            return []
        prefix, taken_at = _token_prefix(), time.monotonic()
        leases = [
            Lease(
                field,
                self.lease_key(field, firing, resolved),
                f"{prefix}{next(_token_numbers)}",
                seen,
                taken_at,
            )
            for field, seen, firing, resolved in wanted
        ]
        shards = self._by_shard([lease.field for lease in leases])
        calls: list[Call] = []
        for shard, positions in shards.items():
            keys: list[str] = [shard.nflog]
            args: list[str | int] = [int(ttl * 1000)]
            for i in positions:
                # Unpacked once: indexing and three attribute reads per item, and a generator for
                # the keys, cost about 2,000 instructions per notification (callgrind, leases,
                # commits and history of batches of 4: 208,500 -> 206,600).
                field, key, token, seen, _ = leases[i]
                keys.append(key)
                args += (field, seen, token)
            calls.append((keys, args))
        replies: list[Any] = [None] * len(leases)
        answers = run_script(self.r, self._acquire_many, calls)
        for positions, verdicts in zip(shards.values(), answers, strict=True):
            for i, verdict in zip(positions, verdicts, strict=True):
                replies[i] = verdict
        out: list[tuple[Verdict, Lease | None]] = []
        for reply, lease in zip(replies, leases, strict=True):
            verdict = reply.decode() if isinstance(reply, bytes) else reply
            out.append((verdict, lease if verdict == "ok" else None))
        return out

    def lease_key(self, field: str, firing: frozenset[str], resolved: frozenset[str]) -> str:
        """One lease per (group, integration, content): a different content is a different send."""
        content = "|".join([field, ",".join(sorted(firing)), ",".join(sorted(resolved))])
        return self._shard(field).lease(hashlib.sha1(content.encode()).hexdigest())

    def refresh(self, lease: Lease, ttl: float) -> bool:
        """Extend a lease whose holder has yet to send or is sending; False if it was lost."""
        return self.refresh_many([lease], ttl)[0]

    def refresh_many(self, leases: list[Lease], ttl: float) -> list[bool]:
        """refresh() for many leases in one round trip: a worker keeps every lease it holds
        alive while the sends wait or run, however long a receiver takes."""
        calls: list[Call] = [([lease.key], [lease.token, int(ttl * 1000)]) for lease in leases]
        return [bool(kept) for kept in run_script(self.r, self._refresh, calls)]

    def commit(
        self,
        lease: Lease,
        firing: frozenset[str],
        resolved: frozenset[str],
        now: float,
        repeat_interval: float,
    ) -> bool:
        """Record a successful send and drop the lease, atomically; False when a newer entry
        was committed meanwhile and is kept. Returns once the entry is durable (see `Writer`)."""
        return self.commit_many([(lease, firing, resolved, repeat_interval)], now)[0]

    def commit_many(
        self, sent: list[tuple[Lease, frozenset[str], frozenset[str], float]], now: float
    ) -> list[bool]:
        """commit() for (lease, firing, resolved, repeat_interval) items, in one round trip (one
        per shard on a cluster): a worker commits the sends it finished together at once instead
        of one round trip each."""
        written = [False] * len(sent)
        for shard, positions in self._by_shard([item[0].field for item in sent]).items():
            done = self._commit_shard(shard, [sent[i] for i in positions], now)
            for i, ok in zip(positions, done, strict=True):
                written[i] = ok
        return written

    def _commit_shard(
        self, shard: Keys, sent: list[tuple[Lease, frozenset[str], frozenset[str], float]], now: float
    ) -> list[bool]:
        """commit_many() for the sends of one shard: one COMMIT_LEASES call."""
        keys, args, encoded = [shard.nflog], [], []
        # Each lease unpacked once, as in acquire_many: its four attribute reads per item cost
        # about 2,000 instructions per notification (callgrind, leases, commits and history of
        # batches of 4: 206,600 -> 204,600).
        for (field, key, token, seen, _), firing, resolved, repeat_interval in sent:
            expiry = min(self.retention, 2 * repeat_interval) if repeat_interval > 0 else self.retention
            entry = _encode_entry(firing, resolved, now, now + expiry)
            encoded.append(entry)
            keys.append(key)
            args += (field, entry, token, seen)

        def changes(replies: list[int]) -> list[Change]:
            return [
                ("set", shard.nflog, lease.field, entry)
                for (lease, *_), entry, reply in zip(sent, encoded, replies, strict=True)
                if reply == 1
            ]

        replies = self.writer.run(self._commit_many, keys=keys, args=args, changes=changes)
        written = [reply == 1 for reply in replies]
        if log.isEnabledFor(logging.DEBUG):  # the fields cost more than the disabled call
            for (lease, *_), ok in zip(sent, written, strict=True):
                log.debug("notification logged", extra={"fields": {"entry": lease.field, "written": ok}})
        return written

    def release(self, lease: Lease) -> bool:
        """Drop a lease after a failed send; False when it was no longer the caller's."""
        return bool(self._release(keys=[lease.key], args=[lease.token]))

    def gc(self, now: float) -> int:
        """Drop expired entries; an entry rewritten meanwhile is kept."""
        return sum(self._gc_shard(shard, now) for shard in self.keys.shards())

    def _gc_shard(self, shard: Keys, now: float) -> int:
        stale: list[str] = []
        for field, raw in self.r.hscan_iter(shard.nflog, count=1000):
            if Entry.decode(raw.decode()).expires_at <= now:
                stale += [field.decode(), raw.decode()]
        if not stale:
            return 0
        return int(
            self.writer.run(
                self._delete_unchanged,
                keys=[shard.nflog],
                args=stale,
                changes=lambda _: deletions(shard.nflog, stale),
            )
        )


def _log_read(raw: bytes | None) -> LogRead:
    if raw is None:
        return None, ""
    text = raw.decode()
    return Entry.decode(text), text
