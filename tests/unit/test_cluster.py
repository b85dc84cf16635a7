"""Cluster membership through heartbeats in Redis."""

from __future__ import annotations

import fakeredis

from app.cluster import Membership
from app.redis_keys import Keys

NOW = 1_700_000_000.0


def member(client: fakeredis.FakeRedis, role: str, address: str, config: str = "c1") -> Membership:
    return Membership(
        client, Keys("t"), role=role, address=address, config_hash=lambda: config, interval=0.2, timeout=15
    )


def test_live_peers_are_listed_sorted_and_silent_ones_drop_out() -> None:
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    web, worker = member(client, "web", "am1:9093"), member(client, "worker", "", config="c2")
    web.beat(NOW)
    worker.beat(NOW - 10)
    peers = web.peers(NOW)
    assert [p.name for p in peers] == sorted([web.name, worker.name])
    assert {p.role: p.config_hash for p in peers} == {"web": "c1", "worker": "c2"}
    assert [p.name for p in web.peers(NOW + 6)] == [web.name]  # the worker's beat is 16 s old
    # Forgotten after ten peer timeouts of silence: first the worker, then the web instance.
    assert web.prune(NOW + 10 * 15 - 5) == 1
    assert [p.role for p in web.peers(NOW)] == ["web"]
    assert web.prune(NOW + 10 * 15 + 1) == 1


def test_a_stopped_member_leaves_at_once() -> None:
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    web = member(client, "web", "am1:9093")
    web.beat(NOW)
    web.stop()
    assert web.peers(NOW) == []
