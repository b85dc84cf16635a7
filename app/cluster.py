"""The cluster view: every web and worker process publishes a heartbeat in Redis.

Alertmanager learns its peers through gossip; here each process writes its name, address, role
and config hash every `--cluster.gossip-interval`, and a peer whose heartbeat is older than
`--cluster.peer-timeout` is gone. `GET /api/v2/status` lists the live peers, so `amtool cluster
show` works, and processes running different configs show up there and in a metric.

Each process also keeps its own view of the table for Alertmanager's cluster metrics: members
are itself and the peers whose heartbeat it last read within the peer timeout; a failed peer is
one whose heartbeat expired without the process leaving (a clean stop deletes its heartbeat),
until `--cluster.reconnect-timeout` forgets it, as Alertmanager forgets a lost peer. A process
cut off from Redis keeps its last read, so its peers turn failed one by one as their heartbeats
age, the way a partitioned Alertmanager sees its peers fail.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson
import redis

from app import metrics
from app.redis_keys import Keys

log = logging.getLogger(__name__)

# memberlist's awareness score: up by one for each failed round, down by one for each good
# one, and never above its multiplier's range (0..7). Here a round is a heartbeat.
HEALTH_SCORE_MAX = 7


def config_hash(original: str) -> str:
    return hashlib.sha256(original.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Peer:
    name: str
    address: str
    role: str
    config_hash: str
    seen_at: float

    def to_api(self) -> dict[str, str]:
        return {"name": self.name, "address": self.address}


def peer_name(role: str, address: str) -> str:
    """Stable for the life of the process, unique across hosts and processes."""
    return f"{socket.gethostname()}/{role}/{address or os.getpid()}"


class Membership:
    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        *,
        role: str,
        address: str,
        config_hash: Callable[[], str],
        interval: float,
        timeout: float,
        forget_after: float,
        name: str = "",
    ) -> None:
        """`timeout` (--cluster.peer-timeout): a heartbeat older than that is a failed peer's;
        `forget_after` (--cluster.reconnect-timeout): a failed peer silent for that long is
        deleted from the table."""
        self.r = client
        self.key = keys.peers
        self.role = role
        self.address = address
        # --cluster.peer-name when given: like memberlist's node names it must be unique, since
        # two processes under one name share one entry of the cluster view.
        self.name = name or peer_name(role, address)
        self._config_hash = config_hash
        self.interval = max(interval, 0.05)
        self.timeout = timeout
        self.forget_after = max(forget_after, timeout)
        self._stop = threading.Event()
        self._known: list[Peer] = []  # every heartbeat as last read, expired ones included
        self._health = 0

    def beat(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        record = {"address": self.address, "role": self.role, "config": self._config_hash(), "ts": now}
        self.r.hset(self.key, self.name, orjson.dumps(record))

    def _read(self) -> list[Peer]:
        """Every heartbeat in the table, sorted by name, live or not."""
        out = []
        for name, raw in self.r.hgetall(self.key).items():
            d = orjson.loads(raw)
            out.append(Peer(name.decode(), d["address"], d["role"], d["config"], d["ts"]))
        return sorted(out, key=lambda p: p.name)

    def peers(self, now: float | None = None) -> list[Peer]:
        """Live peers, sorted by name as Alertmanager lists them."""
        now = time.time() if now is None else now
        return [p for p in self._read() if p.seen_at >= now - self.timeout]

    def prune(self, now: float) -> int:
        """Forget peers silent for --cluster.reconnect-timeout (a crashed process leaves its last
        beat, and counts as a failed peer until then)."""
        stale = [p.name for p in self._read() if p.seen_at < now - self.forget_after]
        return self.r.hdel(self.key, *stale) if stale else 0

    def tick(self, now: float | None = None) -> None:
        """One heartbeat round: write ours, read everyone's, and publish this process's view in
        the cluster metrics (from the last read when Redis cannot be reached)."""
        now = time.time() if now is None else now
        try:
            started = time.perf_counter()
            self.r.ping()
            metrics.redis_roundtrip.set(time.perf_counter() - started)
            self.beat(now)
            self._known = self._read()
            self._health = max(self._health - 1, 0)
        except redis.RedisError as err:
            self._health = min(self._health + 1, HEALTH_SCORE_MAX)
            log.debug("heartbeat not written: Redis unreachable", extra={"fields": {"err": str(err)}})
        others = [p for p in self._known if p.name != self.name]
        live = [p for p in others if p.seen_at >= now - self.timeout]
        mine = self._config_hash()
        metrics.cluster_members.set(1 + len(live))
        metrics.cluster_failed_peers.set(len(others) - len(live))
        metrics.cluster_health_score.set(self._health)
        metrics.cluster_config_mismatch.set(sum(1 for p in live if p.config_hash != mine))

    def _run(self) -> None:
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(self.interval)

    def start(self) -> None:
        metrics.expose_cluster_series(self.name)
        threading.Thread(target=self._run, name="heartbeat", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(redis.RedisError):
            self.r.hdel(self.key, self.name)
