"""A Redis Cluster master SIGKILLed: its replica takes over its slots, and alerter goes on.

Deployment: a three-master cluster with a replica each (`--cluster-node-timeout 2000`), a plain
Redis for the queue, one `alerter web` and two `alerter worker` with `--cluster.peer-timeout=3s`,
group_wait 1s, group_interval 2s, repeat_interval 1h. Thirty groups are told before the kill;
their log entries were acknowledged by the replicas (ClusterReplicaAcks), so the promoted
replicas know they were sent. Thirty new groups are posted after the kill (a post refused while
the dead master's slots have no master yet is posted again, as Prometheus does). Every group is
told exactly once.

The second test kills a master while a notification of one of its shards is in flight: its lease
is on that master and the receiver (which answers after 0.1 s) has it, so its commit is lost with
the master. Groups keep appearing before, during and after the failover, posted by two
Prometheus servers every second. Every group is told, and the only notifications told twice are
those in flight at the kill (tests/ha/harness.py, `failover_duplicates`).
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from pathlib import Path

import redis
import requests
from redis.crc import key_slot

from app.redis_keys import Keys
from tests.e2e.conftest import Deployment, alert, start_split, webhook_receiver, write_config
from tests.ha.harness import (
    PlannedGroup,
    Pusher,
    Scenario,
    SlowSink,
    assert_explained,
    failover_duplicates,
    group_name,
    no_more_arrive,
    print_duplicates,
)
from tests.support.http_sink import HttpSink
from tests.support.processes import holds, wait_until
from tests.support.redis_server import RedisClusterNodes, RedisServer


def test_a_killed_master_is_replaced_and_every_group_is_told_once(tmp_path: Path) -> None:
    first = [f"Before{n:02d}" for n in range(30)]
    second = [f"After{n:02d}" for n in range(30)]
    refused: list[int] = []
    with (
        RedisClusterNodes(masters=3, replicas=1) as cluster,
        RedisServer() as queue,
        HttpSink() as sink,
    ):
        dep = deploy(tmp_path, cluster, queue, sink.url, "failover")
        try:
            dep.post([alert(name, instance="i:1") for name in first])
            sink.wait_for(30, timeout=30)
            # A send is logged after it reached the sink (its commit is batched): kill only once
            # every entry is on the replicas, or a send not yet logged is rightly sent again.
            wait_until(
                lambda: logged_on_replicas(cluster, Keys("failover", cluster=True)) == 30,
                30,
                message="the replicas never held the 30 log entries",
            )
            victim = cluster.owner(0)
            victim.kill()
            killed_at = time.monotonic()
            wait_until(
                lambda: cluster.owner(0) is not victim,
                30,
                message="no replica took over",
                ignore=(Exception,),
            )
            print(f"a replica took over {time.monotonic() - killed_at:.1f}s after the kill")
            for start in range(0, len(second), 3):
                body = [alert(name, instance="i:1") for name in second[start : start + 3]]
                while (
                    r := requests.post(f"{dep.web_urls[0]}/api/v2/alerts", json=body, timeout=10)
                ).status_code != 200:
                    refused.append(r.status_code)
                    time.sleep(0.2)
            sink.wait_for(60, timeout=60)
            told = Counter(r.json["groupLabels"]["alertname"] for r in sink.requests)
            assert told == Counter(first + second), told
            holds(lambda: len(sink.requests) == 60, 3.0, lambda: f"{len(sink.requests)} requests, not 60")
        finally:
            dep.stop()
    print(f"posts refused after the kill: {refused}")


SINK_DELAY = 0.1
COMMIT_SLACK = 1.0  # from the receiver's answer to the worker's commit, on a loaded machine
PEER_TIMEOUT = 3.0
GROUP_INTERVAL = 2.0
GROUPS = 40
APPEAR_EVERY = 0.25


def test_a_master_killed_with_a_send_in_flight_loses_no_group_and_sends_twice_only_that(
    tmp_path: Path,
) -> None:
    keys = Keys("inflight", cluster=True)
    with (
        RedisClusterNodes(masters=3, replicas=1) as cluster,
        RedisServer() as queue,
        SlowSink(SINK_DELAY) as sink,
    ):
        dep = deploy(tmp_path, cluster, queue, sink.url, "inflight")
        pusher: Pusher | None = None
        try:
            t0 = time.time()
            groups = [
                PlannedGroup(f"InFlight{i:02d}", appears_at=t0 + 1 + i * APPEAR_EVERY) for i in range(GROUPS)
            ]
            pusher = Pusher(lambda: dep.web_urls, Scenario(groups)).start()
            wait_until(lambda: len(sink.requests) >= 5, 30, message="no notifications before the kill")
            victim, slot = wait_until(
                lambda: master_holding_a_lease(cluster, keys),
                GROUPS * APPEAR_EVERY,
                interval=0.005,
                message="no send lease was ever seen on a master",
            )
            in_sink = len(sink.requests)
            victim.kill()
            killed_at = time.time()
            wait_until(
                lambda: cluster.owner(slot) is not victim,
                30,
                message="no replica took over",
                ignore=(Exception,),
            )
            promoted_at = time.time()
            wanted = {g.name for g in groups}
            try:
                wait_until(
                    lambda: {group_name(r) for r in sink.requests} >= wanted,
                    max(0.0, groups[-1].appears_at - time.time()) + 30,
                    interval=0.2,
                )
            except AssertionError:
                missing = sorted(wanted - {group_name(r) for r in sink.requests})
                raise AssertionError(f"groups never told: {missing}") from None
            # A resend follows a lease's expiry and a retry or the next tick; then nothing comes.
            no_more_arrive(sink, PEER_TIMEOUT + 2 * GROUP_INTERVAL + 1, t0, "once every group was told")
        finally:
            if pusher is not None:
                pusher.stop()
            dep.stop()
        dups = failover_duplicates(sink.requests, t0, killed_at, promoted_at, SINK_DELAY + COMMIT_SLACK)
        print(
            f"\nmaster :{victim.port} killed at t={killed_at - t0:.2f}s holding a send lease, "
            f"{in_sink} notifications received by then; its slots taken over "
            f"{promoted_at - killed_at:.2f}s later; {len(sink.requests)} notifications in all, "
            f"duplicates from the failover: {len(dups.in_flight)}"
        )
        print_duplicates(dups)
        assert not pusher.stats.errors, pusher.stats.errors
        assert_explained(dups)


def deploy(
    tmp_path: Path, cluster: RedisClusterNodes, queue: RedisServer, sink_url: str, label: str
) -> Deployment:
    """One `alerter web` and two workers on the cluster, RQ on `queue`, group_wait 1s,
    group_interval 2s, repeat_interval 1h, one webhook to `sink_url`."""
    config = write_config(tmp_path / "am.yml", [webhook_receiver(sink_url)], route={"repeat_interval": "1h"})
    flags = [
        f"--redis.url={cluster.url}",
        f"--redis.queue-url={queue.url}",
        f"--cluster.label={label}",
        f"--cluster.peer-timeout={PEER_TIMEOUT:g}s",
    ]
    return start_split(config, flags, webs=1, workers=2)


def master_holding_a_lease(cluster: RedisClusterNodes, keys: Keys) -> tuple[RedisServer, int] | None:
    """A master holding a send lease now, and the lease's slot."""
    for node in cluster.nodes:
        if not node.running:
            continue
        with node.client() as c:
            if c.execute_command("ROLE")[0] != b"master":
                continue
            for key in c.keys(keys.lease_pattern):
                return node, key_slot(key)
    return None


def logged_on_replicas(cluster: RedisClusterNodes, keys: Keys) -> int:
    """The notification log entries the replicas hold, over every shard."""
    total = 0
    for node in cluster.nodes:
        if not node.running:
            continue
        with node.client() as c:
            if c.info("replication")["role"] != "slave":
                continue
            c.execute_command("READONLY")
            for shard in keys.shards():
                with contextlib.suppress(redis.ResponseError):  # MOVED: another master's shard
                    total += c.hlen(shard.nflog)
    return total
