"""Which Redis holds the cluster's state, as the status page shows it.

Alertmanager's status page shows its gossip peers; alerter's state lives in Redis instead, so
the operator also needs to see which server that is, whether it is the master, and (behind
Sentinel) which master the Sentinels name now. Never the URL itself: it may hold a password.
"""

from __future__ import annotations

from typing import Any

from redis.cluster import RedisCluster
from redis.sentinel import SentinelConnectionPool

from app.runtime import Runtime


def _address(kwargs: dict[str, Any]) -> str:
    if kwargs.get("path"):
        return f"unix:{kwargs['path']}"
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"


def redis_view(rt: Runtime) -> dict[str, Any]:
    """The Redis this process talks to: mode, address, role, version, replicas, Sentinel."""
    if rt.settings.embedded:
        return {"mode": "embedded", "storagePath": rt.settings.storage_path}
    if isinstance(rt.client, RedisCluster):
        return _cluster_view(rt.client)
    info = rt.client.info()
    pool = rt.client.connection_pool
    sentinel = None
    if isinstance(pool, SentinelConnectionPool):
        host, port = pool.get_master_address()
        sentinels = pool.sentinel_manager.sentinels
        sentinel = {
            "service": pool.service_name,
            "master": f"{host}:{port}",
            "sentinels": [_address(s.connection_pool.connection_kwargs) for s in sentinels],
        }
        address = sentinel["master"]
    else:
        address = _address(pool.connection_kwargs)
    return {
        "mode": "sentinel" if sentinel else "redis",
        "address": address,
        "role": info.get("role", ""),
        "version": info.get("redis_version", ""),
        "connectedReplicas": info.get("connected_slaves", 0),
        "usedMemoryBytes": info.get("used_memory", 0),
        "uptimeSeconds": info.get("uptime_in_seconds", 0),
        "sentinel": sentinel,
    }


def _cluster_view(client: RedisCluster) -> dict[str, Any]:
    """A Redis Cluster as one server: its masters' addresses, their replicas and memory added up,
    the lowest version and uptime (a node restarted lately, or one not upgraded yet, shows)."""
    infos = {node.name: client.get_redis_connection(node).info() for node in client.get_primaries()}
    return {
        "mode": "cluster",
        "address": ", ".join(sorted(infos)),
        "role": "master",
        "version": min(str(i.get("redis_version", "")) for i in infos.values()),
        "connectedReplicas": sum(int(i.get("connected_slaves", 0)) for i in infos.values()),
        "usedMemoryBytes": sum(int(i.get("used_memory", 0)) for i in infos.values()),
        "uptimeSeconds": min(int(i.get("uptime_in_seconds", 0)) for i in infos.values()),
        "sentinel": None,
    }
