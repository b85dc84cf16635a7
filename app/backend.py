"""The Redis alerter talks to: a real server, or the embedded in-process fakeredis.

Embedded mode keeps the whole shared state in one process and writes it under
`--storage.path` (Alertmanager keeps its silences and notification log there), restoring it at
start, so that a restart forgets neither what was silenced nor what was already sent.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import orjson
import redis
from redis.sentinel import Sentinel

from app.redis_keys import Keys
from app.settings import Settings

log = logging.getLogger(__name__)

SNAPSHOT_FILE = "alerter-state.json"


def connect(settings: Settings, blocking_wait: float = 0.0) -> redis.Redis:
    """A client for the configured Redis; in embedded mode, for a fresh in-process server.

    `--redis.url` (or REDIS_URL) names one server. `--cluster.peer` names the Redis nodes that
    hold the shared state: when they are Sentinels, the client asks them for the master of the
    service `--cluster.label` (default "alerter") and follows failovers; otherwise the first
    peer is the server.

    `blocking_wait`: the longest blocking command this client will send (RQ's dequeue); its
    read timeout is that much longer than --cluster.tcp-timeout, so an idle wait never reads
    as a lost connection.
    """
    if settings.embedded:
        # Imported here: the clustered web and worker processes never need it, and it costs
        # each of them a few MB of RSS.
        import fakeredis

        return fakeredis.FakeRedis(server=fakeredis.FakeServer())
    options = _client_options(settings)
    options["socket_timeout"] = settings.tcp_timeout + blocking_wait
    if settings.redis_url:
        return redis.Redis.from_url(settings.redis_url, **options)
    peers = [parse_peer(p) for p in settings.cluster_peers]
    if _peers_are_sentinels(peers, _plain(options), settings.settle_timeout):
        sentinel = Sentinel([(h, p) for h, p, _ in peers], sentinel_kwargs=_plain(options), **options)
        return sentinel.master_for(settings.sentinel_service, db=peers[0][2])
    host, port, db = peers[0]
    return redis.Redis(host=host, port=port, db=db, **options)


def parse_peer(text: str) -> tuple[str, int, int]:
    """`host:port`, `redis://host:port/db` or `rediss://...` to (host, port, db)."""
    url = urlparse(text if "://" in text else f"redis://{text}")
    if url.scheme not in ("redis", "rediss") or not url.hostname:
        raise ValueError(f"--cluster.peer {text!r}: want host:port or a redis:// or rediss:// URL")
    try:
        port = url.port or 6379
    except ValueError:
        raise ValueError(f"--cluster.peer {text!r}: the port is not a number") from None
    path = url.path.strip("/") or "0"
    if not path.isdigit():
        raise ValueError(f"--cluster.peer {text!r}: the path must be a database number such as /0")
    return url.hostname, port, int(path)


def _client_options(settings: Settings) -> dict[str, Any]:
    options: dict[str, Any] = {
        "socket_connect_timeout": settings.tcp_timeout,
        "health_check_interval": max(1, int(settings.probe_interval)),
    }
    options.update(settings.redis_tls_options())
    return options


def _plain(options: dict[str, Any]) -> dict[str, Any]:
    """Options for one-off connections to peers (no periodic health checks)."""
    return {k: v for k, v in options.items() if k != "health_check_interval"}


def _peers_are_sentinels(peers: list[tuple[str, int, int]], options: dict[str, Any], wait: float) -> bool:
    """Ask the peers what they are, waiting up to `wait` (--cluster.settle-timeout) for one to
    answer: alerter must not mistake a Sentinel it could not reach for a Redis server."""
    deadline = time.monotonic() + wait
    while True:
        for host, port, _ in peers:
            try:
                info = redis.Redis(host=host, port=port, **options).info("server")
            except redis.RedisError:
                continue
            return info.get("redis_mode") == "sentinel"
        if time.monotonic() >= deadline:
            names = ", ".join(f"{h}:{p}" for h, p, _ in peers)
            raise ConnectionError(
                f"no --cluster.peer answered within --cluster.settle-timeout ({names}); "
                "check that Redis or its Sentinels run and are reachable"
            )
        time.sleep(0.5)


def _snapshot_path(settings: Settings) -> Path:
    return Path(settings.storage_path) / SNAPSHOT_FILE


def save_snapshot(client: redis.Redis, keys: Keys, settings: Settings) -> int:
    """Write every hash, set, sorted set and list under the key prefix to the snapshot file.

    Leases and in-flight marks (strings with a TTL) are left out: after a restart they must
    not block anything. The file is replaced atomically so a crash mid-write keeps the old one.
    """
    state: dict[str, dict[str, object]] = {}
    for raw_key in client.scan_iter(match=keys.everything, count=1000):
        key = raw_key.decode()
        kind = client.type(raw_key).decode()
        if kind == "hash":
            value: object = {k.decode(): v.decode() for k, v in client.hgetall(raw_key).items()}
        elif kind == "set":
            value = sorted(m.decode() for m in client.smembers(raw_key))
        elif kind == "zset":
            value = {m.decode(): s for m, s in client.zrange(raw_key, 0, -1, withscores=True)}
        elif kind == "list":
            value = [item.decode() for item in client.lrange(raw_key, 0, -1)]
        else:
            continue
        state[key] = {"type": kind, "value": value}
    path = _snapshot_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".snapshot-")
    with os.fdopen(fd, "wb") as f:
        f.write(orjson.dumps(state))
    os.replace(tmp, path)
    return len(state)


def load_snapshot(client: redis.Redis, settings: Settings) -> int:
    """Restore a snapshot written by save_snapshot; returns how many keys were restored."""
    path = _snapshot_path(settings)
    if not path.exists():
        return 0
    try:
        state = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as err:
        raise RuntimeError(
            f"cannot read {path}: {err}; move the file away to start with an empty state"
        ) from err
    pipe = client.pipeline(transaction=False)
    for key, item in state.items():
        value = item["value"]
        if not value:
            continue
        if item["type"] == "hash":
            pipe.hset(key, mapping=value)
        elif item["type"] == "set":
            pipe.sadd(key, *value)
        elif item["type"] == "zset":
            pipe.zadd(key, value)
        elif item["type"] == "list":
            pipe.delete(key)
            pipe.rpush(key, *value)
    pipe.execute()
    log.info("restored state from %s", path, extra={"fields": {"keys": len(state)}})
    return len(state)
