"""Cluster membership through heartbeats in Redis, and each process's view of it in
Alertmanager's cluster metrics."""

from __future__ import annotations

import fakeredis
from prometheus_client import REGISTRY

from app import metrics
from app.cluster import HEALTH_SCORE_MAX, Membership
from app.redis_keys import Keys

NOW = 1_700_000_000.0
RECONNECT_TIMEOUT = 3600


def member(client: fakeredis.FakeRedis, role: str, address: str, config: str = "c1") -> Membership:
    return Membership(
        client,
        Keys("t"),
        role=role,
        address=address,
        config_hash=lambda: config,
        interval=0.2,
        timeout=15,
        forget_after=RECONNECT_TIMEOUT,
    )


def gauge(name: str) -> float | None:
    """A cluster gauge's value, as /metrics of a process that joined the cluster shows it."""
    metrics.expose_cluster_series("test")
    return REGISTRY.get_sample_value(name)


def test_live_peers_are_listed_sorted_and_silent_ones_drop_out() -> None:
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    web, worker = member(client, "web", "am1:9093"), member(client, "worker", "", config="c2")
    web.beat(NOW)
    worker.beat(NOW - 10)
    peers = web.peers(NOW)
    assert [p.name for p in peers] == sorted([web.name, worker.name])
    assert {p.role: p.config_hash for p in peers} == {"web": "c1", "worker": "c2"}
    assert [p.name for p in web.peers(NOW + 6)] == [web.name]  # the worker's beat is 16 s old
    # Forgotten after --cluster.reconnect-timeout of silence: first the worker, then the web instance.
    assert web.prune(NOW + RECONNECT_TIMEOUT - 5) == 1
    assert [p.role for p in web.peers(NOW)] == ["web"]
    assert web.prune(NOW + RECONNECT_TIMEOUT + 1) == 1


def test_a_stopped_member_leaves_at_once() -> None:
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    web = member(client, "web", "am1:9093")
    web.beat(NOW)
    web.stop()
    assert web.peers(NOW) == []


def test_a_peer_whose_heartbeat_expired_is_failed_until_forgotten() -> None:
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    web = member(client, "web", "am1:9093")
    crashed, live = member(client, "worker", "w1"), member(client, "worker", "w2", config="c2")
    crashed.beat(NOW - 20)  # older than the 15 s peer timeout, and never deleted
    live.beat(NOW - 5)
    web.tick(NOW)
    assert gauge("alertmanager_cluster_members") == 2  # itself and the live worker
    assert gauge("alertmanager_cluster_failed_peers") == 1
    assert gauge("alerter_cluster_config_mismatch_peers") == 1
    assert gauge("alertmanager_cluster_health_score") == 0

    live.stop()  # a clean stop leaves: neither a member nor failed
    web.prune(NOW + RECONNECT_TIMEOUT)  # the crashed worker is forgotten
    web.tick(NOW + RECONNECT_TIMEOUT)
    assert gauge("alertmanager_cluster_members") == 1
    assert gauge("alertmanager_cluster_failed_peers") == 0


def test_cut_off_from_redis_a_process_sees_its_peers_fail_and_its_health_worsen() -> None:
    server = fakeredis.FakeServer()
    client = fakeredis.FakeRedis(server=server)
    web, worker = member(client, "web", "am1:9093"), member(client, "worker", "w1")
    worker.beat(NOW)
    web.tick(NOW)
    assert gauge("alertmanager_cluster_members") == 2

    server.connected = False
    web.tick(NOW + 10)  # the worker's last beat, as last read, is 10 s old: still a member
    assert gauge("alertmanager_cluster_members") == 2
    assert gauge("alertmanager_cluster_health_score") == 1
    web.tick(NOW + 16)
    assert gauge("alertmanager_cluster_members") == 1
    assert gauge("alertmanager_cluster_failed_peers") == 1
    for i in range(HEALTH_SCORE_MAX + 3):
        web.tick(NOW + 17 + i)
    assert gauge("alertmanager_cluster_health_score") == HEALTH_SCORE_MAX

    server.connected = True
    worker.beat(NOW + 30)
    web.tick(NOW + 30)
    assert gauge("alertmanager_cluster_members") == 2
    assert gauge("alertmanager_cluster_failed_peers") == 0
    assert gauge("alertmanager_cluster_health_score") == HEALTH_SCORE_MAX - 1


def test_a_member_that_starts_says_so_with_its_name() -> None:
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    web = member(client, "web", "am1:9093")
    web.start()
    try:
        assert gauge("alertmanager_cluster_enabled") == 1
        assert REGISTRY.get_sample_value("alertmanager_cluster_peer_info", {"peer": web.name}) == 1
    finally:
        web.stop()
