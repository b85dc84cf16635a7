"""A Redis Cluster master SIGKILLed: its replica takes over its slots, and alerter goes on.

Deployment: a three-master cluster with a replica each (`--cluster-node-timeout 2000`), a plain
Redis for the queue, one `alerter web` and two `alerter worker` with `--cluster.peer-timeout=3s`,
group_wait 1s, group_interval 2s, repeat_interval 1h. Thirty groups are told before the kill;
their log entries were acknowledged by the replicas (ClusterReplicaAcks), so the promoted
replicas know they were sent. Thirty new groups are posted after the kill (a post refused while
the dead master's slots have no master yet is posted again, as Prometheus does). Every group is
told exactly once.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from pathlib import Path

import redis
import requests

from app.redis_keys import Keys
from tests.e2e.conftest import alert, start_split, webhook_receiver, write_config
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
        config = write_config(
            tmp_path / "am.yml", [webhook_receiver(sink.url)], route={"repeat_interval": "1h"}
        )
        flags = [
            f"--redis.url={cluster.url}",
            f"--redis.queue-url={queue.url}",
            "--cluster.label=failover",
            "--cluster.peer-timeout=3s",
        ]
        dep = start_split(config, flags, webs=1, workers=2)
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
