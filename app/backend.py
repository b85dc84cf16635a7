"""The Redis alerter talks to: a real server, or the embedded in-process fakeredis.

Embedded mode keeps the whole shared state in one process and writes it under
`--storage.path` (Alertmanager keeps its silences and notification log there), restoring it at
start, so that a restart forgets neither what was silenced nor what was already sent.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import fakeredis
import orjson
import redis

from app.settings import Settings
from app.store import Keys

log = logging.getLogger(__name__)

SNAPSHOT_FILE = "alerter-state.json"


def connect(settings: Settings) -> redis.Redis:
    """A client for the configured Redis; in embedded mode, for a fresh in-process server."""
    if settings.embedded:
        return fakeredis.FakeRedis(server=fakeredis.FakeServer())
    return redis.Redis.from_url(
        settings.redis_url,
        socket_timeout=settings.tcp_timeout,
        socket_connect_timeout=settings.tcp_timeout,
        health_check_interval=30,
    )


def _snapshot_path(settings: Settings) -> Path:
    return Path(settings.storage_path) / SNAPSHOT_FILE


def save_snapshot(client: redis.Redis, keys: Keys, settings: Settings) -> int:
    """Write every hash, set and sorted set under the key prefix to the snapshot file.

    Leases and in-flight marks (strings with a TTL) are left out: after a restart they must
    not block anything. The file is replaced atomically so a crash mid-write keeps the old one.
    """
    state: dict[str, dict[str, object]] = {}
    for raw_key in client.scan_iter(match=f"{keys.prefix}:*", count=1000):
        key = raw_key.decode()
        kind = client.type(raw_key).decode()
        if kind == "hash":
            value: object = {k.decode(): v.decode() for k, v in client.hgetall(raw_key).items()}
        elif kind == "set":
            value = sorted(m.decode() for m in client.smembers(raw_key))
        elif kind == "zset":
            value = {m.decode(): s for m, s in client.zrange(raw_key, 0, -1, withscores=True)}
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
    pipe.execute()
    log.info("restored state from %s", path, extra={"fields": {"keys": len(state)}})
    return len(state)
