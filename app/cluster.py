"""The cluster view: every web and worker process publishes a heartbeat in Redis.

Alertmanager learns its peers through gossip; here each process writes its name, address, role
and config hash every `--cluster.gossip-interval`, and a peer whose heartbeat is older than
`--cluster.peer-timeout` is gone. `GET /api/v2/status` lists the live peers, so `amtool cluster
show` works, and processes running different configs show up there and in a metric.
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
from prometheus_client import Gauge

from app.metrics import redis_roundtrip
from app.redis_keys import Keys

log = logging.getLogger(__name__)

peers_gauge = Gauge("alertmanager_cluster_members", "Number of cluster members.", multiprocess_mode="livemax")
config_mismatch_gauge = Gauge(
    "alerter_cluster_config_mismatch_peers",
    "Live peers whose loaded configuration differs from this process's.",
    multiprocess_mode="livemax",
)


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
        name: str = "",
    ) -> None:
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
        self._stop = threading.Event()

    def beat(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        record = {"address": self.address, "role": self.role, "config": self._config_hash(), "ts": now}
        self.r.hset(self.key, self.name, orjson.dumps(record))

    def peers(self, now: float | None = None) -> list[Peer]:
        """Live peers, sorted by name as Alertmanager lists them."""
        now = time.time() if now is None else now
        out = []
        for name, raw in self.r.hgetall(self.key).items():
            d = orjson.loads(raw)
            if d["ts"] >= now - self.timeout:
                out.append(Peer(name.decode(), d["address"], d["role"], d["config"], d["ts"]))
        return sorted(out, key=lambda p: p.name)

    def prune(self, now: float) -> int:
        """Forget peers silent for ten peer timeouts (a crashed process leaves its last beat)."""
        stale = [
            name
            for name, raw in self.r.hgetall(self.key).items()
            if orjson.loads(raw)["ts"] < now - 10 * self.timeout
        ]
        return self.r.hdel(self.key, *stale) if stale else 0

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                started = time.perf_counter()
                self.r.ping()
                redis_roundtrip.set(time.perf_counter() - started)
                self.beat()
                live = self.peers()
                peers_gauge.set(len(live))
                mine = self._config_hash()
                config_mismatch_gauge.set(sum(1 for p in live if p.config_hash != mine))
            except redis.RedisError as err:
                log.debug("heartbeat not written: Redis unreachable", extra={"fields": {"err": str(err)}})
            self._stop.wait(self.interval)

    def start(self) -> None:
        threading.Thread(target=self._run, name="heartbeat", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(redis.RedisError):
            self.r.hdel(self.key, self.name)
