"""The notification history: every delivery attempt of every group, bounded, shared in Redis.

The notification log (app/nflog.py) keeps what each integration was last told, which is all
deduplication needs. An operator in an incident asks more: when did this group go out, to which
integration, from which worker, after how many tries, and what did the receiver answer. The
notifier records each attempt here (`record_attempt`, or `record_attempts` for many) and the UI's history
pages read it back through `HistoryLog`.

Bounded twice: a group keeps its last PER_GROUP attempts (enough for a couple of flushes of a
receiver failing and retried with backoff), and the housekeeping sweep forgets a group whose
latest attempt is older than --data.retention, the notification log's own retention.

Writes stay off the send path: `record_attempt` only queues the record, and one background
thread per process writes what queued during the last WRITE_DELAY seconds in one script call
(RECORD_ATTEMPTS): about 10 us of the sending process's CPU per attempt, where a round trip per
attempt would have cost a worker sending thousands of notifications a second several times that.
The price: a process killed with SIGKILL loses at most the last WRITE_DELAY of its records (a
normal exit writes them), and a Redis outage drops what queued meanwhile. The history is a record
for people; nothing in alerter decides anything from it.
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import orjson
import redis

from app import redis_scripts
from app.redis_keys import Keys
from app.rediscluster import register
from app.timeutil import format_rfc3339

if TYPE_CHECKING:
    from app.nflog import NotificationLog
    from app.notify.pipeline import NotifyTask

log = logging.getLogger(__name__)

PER_GROUP = 30
WRITE_DELAY = 0.1
# At most this many records per script call, so that a backlog never holds Redis up for long.
WRITE_BATCH = 1000
# Records waiting to be written; beyond this (Redis unreachable for long) the oldest are dropped.
MAX_PENDING = 50_000
# An error text longer than this is cut: a receiver's whole HTML error page helps nobody here.
MAX_ERROR = 500

AttemptOutcome = Literal["sent", "retrying", "failed"]


_HOST = socket.gethostname()


class _Pending(NamedTuple):
    """One queued record; a named tuple, as a frozen dataclass sets each field through
    object.__setattr__ and a worker queues one per notification."""

    client: redis.Redis
    keys: Keys
    gid: str
    at: float
    record: bytes
    group: bytes


class _Writer:
    """The process's queue of records and the thread that writes them in batches."""

    def __init__(self) -> None:
        self._pending: deque[_Pending] = deque()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        # One flush at a time: a flush returns only once what queued before it is written, even
        # when the thread had already taken part of it.
        self._flushing = threading.Lock()
        self._pid = 0  # the process whose thread runs; a forked child starts its own
        self._warned_at = -1e9

    def add(self, items: list[_Pending]) -> None:
        """Queue records; one wake-up for all of them (a sender's batch of commits brings many)."""
        if self._pid != os.getpid():
            self._start()
        pending = self._pending
        for item in items:
            if len(pending) >= MAX_PENDING:
                pending.popleft()
            pending.append(item)
        self._wake.set()

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pending.clear()  # a forked child's copy of its parent's queue is the parent's
            self._pid = os.getpid()
            threading.Thread(target=self._run, name="history-writer", daemon=True).start()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            time.sleep(WRITE_DELAY)  # let the batch fill
            self._wake.clear()
            self.flush()

    def flush(self) -> None:
        """Write everything queued now, in script calls of at most WRITE_BATCH records."""
        with self._flushing:
            self._flush()

    def _flush(self) -> None:
        batches: dict[int, list[_Pending]] = {}
        while self._pending:
            try:
                item = self._pending.popleft()
            except IndexError:  # add() dropped the oldest (queue full) meanwhile
                break
            batches.setdefault(id(item.client), []).append(item)
        for items in batches.values():
            try:
                _write(items)
            except redis.RedisError as err:
                if time.monotonic() - self._warned_at > 10:
                    self._warned_at = time.monotonic()
                    log.warning(
                        "notification history not written: Redis unreachable",
                        extra={"fields": {"records": len(items), "err": str(err)}},
                    )


def _write(items: list[_Pending]) -> None:
    client, keys = items[0].client, items[0].keys
    # EVALSHA, not EVAL: EVAL sends the script's text with every call and Redis hashes it to find
    # the script. Registering is a hash of the text here, once per write of a batch.
    record = register(client, redis_scripts.RECORD_ATTEMPTS)
    for start in range(0, len(items), WRITE_BATCH):
        args: list[str | float | bytes | int] = [keys.history_stem, PER_GROUP]
        for item in items[start : start + WRITE_BATCH]:
            args += [item.gid, item.at, item.record, item.group]
        record(keys=[keys.history_index, keys.history_groups], args=args)


_writer = _Writer()
atexit.register(_writer.flush)


def record_attempt(
    nflog: NotificationLog, task: NotifyTask, attempt: int, outcome: AttemptOutcome, error: str = ""
) -> None:
    """Queue the record of one delivery attempt of `task` (written within WRITE_DELAY).

    `error` is the NotifyError's text, which by its contract names no secret.
    """
    record_attempts(nflog, [(task, attempt)], outcome, error)


def record_attempts(
    nflog: NotificationLog, attempts: list[tuple[NotifyTask, int]], outcome: AttemptOutcome, error: str = ""
) -> None:
    """`record_attempt` for (task, attempt) pairs with the same outcome, recorded at the same
    moment: a sender's batch of commits queues its records at once."""
    now = time.time()
    # Which process sent: host and pid, as the cluster view names a worker that has no
    # advertised address (host/worker/pid).
    worker = f"{_HOST}/{os.getpid()}"
    queued = []
    for task, attempt in attempts:
        target, group = task.target, task.group
        record = {
            "t": now,
            "r": target.receiver,
            "i": target.integration,
            "n": target.index,
            "o": outcome,
            "a": attempt,
            "w": worker,
            "f": len(task.firing),
            "s": len(task.resolved) if target.send_resolved else 0,
        }
        if error:
            record["e"] = error[:MAX_ERROR]
        meta = {"key": group.key, "receiver": target.receiver, "labels": group.labels}
        queued.append(_Pending(nflog.r, nflog.keys, group.gid, now, orjson.dumps(record), orjson.dumps(meta)))
    _writer.add(queued)


def flush() -> None:
    """Write the queued records now (tests, and a process about to save its state)."""
    _writer.flush()


@dataclass(frozen=True)
class GroupHistory:
    """A group as its latest attempt saw it, with that attempt and how many are kept."""

    gid: str
    key: str
    receiver: str
    labels: dict[str, str]
    latest: dict[str, Any] | None
    kept: int

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.gid,
            "groupKey": self.key,
            "receiver": self.receiver,
            "labels": self.labels,
            "latest": attempt_to_api(self.latest) if self.latest else None,
            "kept": self.kept,
        }


def attempt_to_api(record: dict[str, Any]) -> dict[str, Any]:
    """A stored attempt (short keys, to keep thousands of them small) as the API shows it."""
    return {
        "at": format_rfc3339(record["t"]),
        "receiver": record["r"],
        "integration": record["i"],
        "index": record["n"],
        "outcome": record["o"],
        "attempt": record["a"],
        "worker": record["w"],
        "firing": record["f"],
        "resolved": record["s"],
        "error": record.get("e", ""),
    }


class HistoryLog:
    """Reads of the history, and the sweep that bounds it in time."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.r = client
        self.keys = keys
        self._drop_old = register(client, redis_scripts.DROP_OLD_HISTORIES)

    def groups(self) -> list[GroupHistory]:
        """Every group with a recorded attempt, the latest attempted first."""
        gids = [g.decode() for g in self.r.zrevrange(self.keys.history_index, 0, -1)]
        if not gids:
            return []
        metas = self.r.hmget(self.keys.history_groups, gids)
        pipe = self.r.pipeline(transaction=False)
        for gid in gids:
            pipe.lindex(self.keys.history(gid), 0)
            pipe.llen(self.keys.history(gid))
        replies = pipe.execute()
        out = []
        for n, (gid, meta) in enumerate(zip(gids, metas, strict=True)):
            if meta is None:  # swept between the two reads
                continue
            latest, kept = replies[2 * n], replies[2 * n + 1]
            out.append(_group(gid, meta, orjson.loads(latest) if latest else None, kept))
        return out

    def group(self, gid: str) -> tuple[GroupHistory, list[dict[str, Any]]] | None:
        """One group and its kept attempts, newest first; None when nothing is recorded."""
        pipe = self.r.pipeline(transaction=False)
        pipe.hget(self.keys.history_groups, gid)
        pipe.lrange(self.keys.history(gid), 0, -1)
        meta, raw = pipe.execute()
        if meta is None:
            return None
        attempts = [orjson.loads(r) for r in raw]
        return _group(gid, meta, attempts[0] if attempts else None, len(attempts)), attempts

    def gc(self, now: float, retention: float, batch: int = 1000) -> int:
        """Forget groups whose latest attempt is older than `retention` seconds."""
        dropped = 0
        keys = [self.keys.history_index, self.keys.history_groups]
        while True:
            n = int(self._drop_old(keys=keys, args=[now - retention, self.keys.history_stem, batch]))
            dropped += n
            if n < batch:
                return dropped


def _group(gid: str, meta: bytes, latest: dict[str, Any] | None, kept: int) -> GroupHistory:
    m = orjson.loads(meta)
    return GroupHistory(gid, m["key"], m["receiver"], m["labels"], latest, kept)
