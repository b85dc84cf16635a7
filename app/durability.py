"""Acknowledged means kept: a silence answered with 200, or a notification logged as sent,
outlives a SIGKILL of the embedded process and a Redis failover.

Silences and the notification log change only through Lua write scripts (app/redis_scripts.py),
and every one of those runs through a `Writer`, which returns only once the write would outlive
a crash:

- embedded (`WriteAheadLog`): the write's changes are appended to a log file under
  `--storage.path` and fsync'd; at start the log is replayed over the last snapshot, and each
  snapshot drops the log it covers. Without it a write lived only in memory until the next
  snapshot, up to `--cluster.pushpull-interval` later.
- Redis (`ReplicaAcks`): Redis replicates asynchronously, so a write acknowledged by the master
  alone dies with it. When the master has a replica online, the script and `WAIT 1` go in one
  pipeline, so the answer comes once a replica holds the write, or after `--cluster.probe-timeout`.
- Redis Cluster (`ClusterReplicaAcks`): the same, on the master that holds the write's slot.
- `Writer` itself runs the script and nothing more: for stores whose client has nothing to wait
  for (unit tests, in-process benchmarks).

docs/ha.md says what each costs and what can still be lost.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import orjson
import redis
from redis.cluster import RedisCluster
from redis.commands.core import Script

log = logging.getLogger(__name__)

T = TypeVar("T")

# One change to a hash field, as the write-ahead log records it: ("set", key, field, value), or
# ("del", key, field, value as read), a delete that happens only if the field still holds that
# value (the GC sweeps' DELETE_UNCHANGED), so that replaying it in order has the same outcome.
Change = tuple[str, str, str, str]
Changes = Callable[[Any], Sequence[Change]]

SEGMENT_PREFIX = "alerter-wal-"
SEGMENT_SUFFIX = ".log"

# A replica acknowledges its replication offset every second; one that has not for longer has
# stopped (frozen, cut off) though its master still lists it as online until repl-timeout (60 s):
# waiting for it would only make every write wait out the timeout.
MAX_REPLICA_LAG = 2


class WriteNotDurable(RuntimeError):
    """The write is applied in memory but could not be made to outlive a crash."""


def deletions(key: str, stale: Sequence[str]) -> list[Change]:
    """The changes of a DELETE_UNCHANGED call whose ARGV is `stale` (field, value, field, ...)."""
    return [("del", key, stale[i], stale[i + 1]) for i in range(0, len(stale), 2)]


def fsync_directory(path: Path) -> None:
    """Make a file created, renamed or deleted in `path` outlive a machine crash."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Writer:
    """Runs a write script as it is: nothing in the client outlives the process anyway."""

    def run(self, script: Script, keys: list[str], args: list[Any], changes: Changes) -> Any:
        """Run `script` and return its reply once the write is as durable as this writer makes it.

        `changes(reply)` says what the write changed, for a writer that logs it.
        """
        return script(keys=keys, args=args)

    def checkpoint(self, save: Callable[[], T]) -> T:
        """Run `save`, which saves the whole state (a snapshot); returns what it returns."""
        return save()


class WriteAheadLog(Writer):
    """Embedded mode: every write of a silence or a notification-log entry is appended to
    `alerter-wal-<n>.log` under --storage.path (one JSON line of `Change`s per write) and
    fsync'd before `run` returns.

    A process lock keeps the log in the order fakeredis applied the writes. Concurrent writers
    share one fsync where they can (a writer whose line an fsync already covered returns at once).
    A checkpoint switches to a new segment before the snapshot is read, and deletes the older
    segments once the snapshot is saved: every write the snapshot may lack is in a kept segment,
    and replaying a write that the snapshot has as well changes nothing.
    """

    def __init__(self, directory: Path, segment: int) -> None:
        self.dir = directory
        self._lock = threading.Lock()  # a script call and its append, in Redis's order
        self._sync_lock = threading.Lock()  # one fsync at a time; held while the segment changes
        self._checkpoint_lock = threading.Lock()
        self._appended = 0  # lines appended so far
        self._synced = 0  # lines known to be on disk
        self._segment = segment
        self._fd, self._size = self._open(segment)

    @classmethod
    def recover(cls, directory: Path, client: redis.Redis) -> WriteAheadLog:
        """Replay every segment under `directory` onto `client` (which holds the snapshot
        already), oldest first, and open a new segment for the writes to come."""
        directory.mkdir(parents=True, exist_ok=True)
        segments = _segments(directory)
        replayed = sum(_replay(path, client) for _, path in segments)
        if segments:
            log.info(
                "replayed the write-ahead log over the snapshot",
                extra={"fields": {"dir": str(directory), "segments": len(segments), "writes": replayed}},
            )
        return cls(directory, segments[-1][0] + 1 if segments else 1)

    def _open(self, segment: int) -> tuple[int, int]:
        fd = os.open(self.dir / _segment_name(segment), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fsync_directory(self.dir)
        return fd, os.fstat(fd).st_size

    def run(self, script: Script, keys: list[str], args: list[Any], changes: Changes) -> Any:
        with self._lock:
            reply = script(keys=keys, args=args)
            made = changes(reply)
            if not made:
                return reply
            self._append(orjson.dumps(made) + b"\n")
            self._appended += 1
            line = self._appended
        self._sync(line)
        return reply

    def _append(self, data: bytes) -> None:
        """Write one whole line, or nothing: a failed write (disk full) is cut off again, so that
        the next line does not follow half of this one."""
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as err:
            try:
                os.ftruncate(self._fd, self._size)
            except OSError:
                log.error(
                    "could not cut a failed write off the write-ahead log; the next start will refuse "
                    "to replay it",
                    extra={"fields": {"file": str(self.dir / _segment_name(self._segment))}},
                )
            raise self._not_durable(err) from err
        self._size += len(data)

    def _sync(self, line: int) -> None:
        with self._sync_lock:
            if self._synced >= line:
                return
            covered = self._appended  # every line counted here was written before this fsync
            try:
                os.fdatasync(self._fd)
            except OSError as err:
                raise self._not_durable(err) from err
            self._synced = covered

    def _not_durable(self, err: OSError) -> WriteNotDurable:
        return WriteNotDurable(
            f"the change is applied but could not be saved under --storage.path ({self.dir}): {err}; "
            "it would be lost by a restart. Free space or fix the disk, then retry."
        )

    def checkpoint(self, save: Callable[[], T]) -> T:
        with self._checkpoint_lock:
            with self._sync_lock, self._lock:
                os.fdatasync(self._fd)
                os.close(self._fd)
                self._synced = self._appended
                self._segment += 1
                self._fd, self._size = self._open(self._segment)
                current = self._segment
            saved = save()
            for number, path in _segments(self.dir):
                if number < current:
                    path.unlink()
            fsync_directory(self.dir)
            return saved


def _segment_name(number: int) -> str:
    return f"{SEGMENT_PREFIX}{number:08d}{SEGMENT_SUFFIX}"


def _segments(directory: Path) -> list[tuple[int, Path]]:
    found = []
    for path in directory.glob(f"{SEGMENT_PREFIX}*{SEGMENT_SUFFIX}"):
        number = path.name[len(SEGMENT_PREFIX) : -len(SEGMENT_SUFFIX)]
        if number.isdigit():
            found.append((int(number), path))
    return sorted(found)


def _replay(path: Path, client: redis.Redis) -> int:
    """Apply one segment's writes in order; returns how many. A last line without its newline is
    a write cut short by a crash before its fsync, so never acknowledged: it is dropped."""
    *lines, torn = path.read_bytes().split(b"\n")
    if torn:
        log.warning(
            "dropping a write cut short by a crash (it was never acknowledged)",
            extra={"fields": {"file": str(path), "bytes": len(torn)}},
        )
    for number, line in enumerate(lines, 1):
        try:
            for op, key, field, value in orjson.loads(line):
                if op == "set":
                    client.hset(key, field, value)
                elif op == "del":
                    if client.hget(key, field) == value.encode():
                        client.hdel(key, field)
                else:
                    raise ValueError(f"unknown change {op!r}")
        except (ValueError, TypeError) as err:
            raise RuntimeError(
                f"cannot replay {path}, line {number}: {err}; move the file away to start without "
                "the silences and notification-log entries it holds"
            ) from err
    return len(lines)


class ReplicaAcks(Writer):
    """Real Redis: when the master has a replica online, a write returns once a replica holds
    it (Redis `WAIT 1 <timeout>`, on the write's own connection: WAIT counts the replicas that
    have that connection's last write).

    Whether replicas are online is read from `INFO replication` at most every `recheck`
    seconds, and again after a WAIT timed out (a replica that went away, or a failover to a
    master without one): a master without replicas costs no extra round trip. A write no replica
    confirmed within `timeout` is acknowledged anyway, with a warning and
    `alerter_replica_ack_timeouts_total`: the write is applied on the master, and refusing it
    would have the client retry and create it twice.
    """

    def __init__(self, client: redis.Redis, timeout: float, recheck: float = 1.0) -> None:
        self.r = client
        self.timeout = timeout
        self.recheck = recheck
        self._online = 0
        self._checked_at = -math.inf

    def online_replicas(self) -> int:
        now = time.monotonic()
        if now - self._checked_at >= self.recheck:
            self._online = _count_online(self.r.info("replication"))
            self._checked_at = now
        return self._online

    def run(self, script: Script, keys: list[str], args: list[Any], changes: Changes) -> Any:
        if not self.online_replicas():
            return script(keys=keys, args=args)
        # EVAL with the script's text, not EVALSHA: on a server that does not know the script yet
        # (any master promoted by a failover) EVALSHA would fail, and the WAIT queued behind it
        # would still block until the timeout. Redis caches the compiled script by its hash.
        pipe = self.r.pipeline(transaction=False)
        pipe.eval(script.script, len(keys), *keys, *args)
        pipe.execute_command("WAIT", 1, max(1, int(self.timeout * 1000)))
        reply, acked = pipe.execute()
        if acked < 1:
            # Imported here: app.cli imports this module (through app.backend) before it points
            # prometheus_client at the web tier's shared metrics directory, which must come first.
            from app import metrics

            self._checked_at = -math.inf
            metrics.replica_ack_timeouts.inc()
            log.warning(
                "no replica confirmed a write within --cluster.probe-timeout; it is acknowledged "
                "anyway and is lost if the master fails before replicating it",
                extra={"fields": {"key": keys[0], "timeout": self.timeout}},
            )
        return reply


class ClusterReplicaAcks(Writer):
    """Redis Cluster: `ReplicaAcks` on the master that holds the write's keys (every write
    script keeps to one slot, app/redis_keys.py), since WAIT counts the replicas of the master
    the connection's last write went to. Each master keeps its own replica count.

    A write sent to a master that no longer holds the slot (resharding moved it, a failover
    promoted a replica) is refused before it runs (MOVED, ASK): the cluster's slot map is read
    again and the write goes to the new holder, once.
    """

    def __init__(self, client: RedisCluster, timeout: float, recheck: float = 1.0) -> None:
        self.r = client
        self.timeout = timeout
        self.recheck = recheck
        self._masters: dict[str, ReplicaAcks] = {}

    def run(self, script: Script, keys: list[str], args: list[Any], changes: Changes) -> Any:
        try:
            return self._holder(keys[0]).run(script, keys, args, changes)
        except redis.ResponseError as err:
            if not str(err).startswith(("MOVED", "ASK")):
                raise
        self.r.nodes_manager.initialize()
        return self._holder(keys[0]).run(script, keys, args, changes)

    def _holder(self, key: str) -> ReplicaAcks:
        """The writer of the master that holds `key`'s slot, as the client's slot map says."""
        node = self.r.get_node_from_key(key)
        acks = self._masters.get(node.name)
        if acks is None:
            acks = self._masters[node.name] = ReplicaAcks(
                self.r.get_redis_connection(node), self.timeout, self.recheck
            )
        return acks


def _count_online(info: dict[str, Any]) -> int:
    """Replicas in sync with the master that acknowledged within MAX_REPLICA_LAG seconds."""
    return sum(
        1
        for name, replica in info.items()
        if name.startswith("slave")
        and isinstance(replica, dict)
        and replica.get("state") == "online"
        and int(replica.get("lag", 0)) <= MAX_REPLICA_LAG
    )
