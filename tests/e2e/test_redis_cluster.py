"""alerter on a real three-master Redis Cluster (docs/scaling.md, "alerter on Redis Cluster").

One cluster (three `redis-server --cluster-enabled yes`, joined by `redis-cli --cluster create`
with no replicas) and one plain Redis for RQ's queue serve the whole module; each test runs its
own alerter processes under its own `--cluster.label`, so their keys never meet. The tests check
what the receivers got and how often, and where the keys went: every master holds groups.
"""

from __future__ import annotations

import os
import re
import signal
import ssl
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from redis.cluster import RedisCluster
from redis.crc import key_slot

from app import backend, metrics
from app.durability import ClusterReplicaAcks
from app.redis_keys import Keys, shard_tags
from app.respencoder import CommandPacker
from app.retries import BACKOFF_JITTER, BACKOFF_START
from app.settings import Settings
from tests.e2e.conftest import Deployment, alert, start_split, webhook_receiver, write_config
from tests.support.http_sink import HttpSink
from tests.support.ports import HOST, free_port
from tests.support.processes import ManagedProcess, alerter_command, holds, wait_until
from tests.support.redis_server import RedisClusterNodes, RedisServer, TLSFiles

# Long enough that no repeat comes within a test: every request a receiver gets is a change.
NO_REPEAT = {"repeat_interval": "1h"}


@pytest.fixture(scope="module")
def cluster() -> Iterator[RedisClusterNodes]:
    with RedisClusterNodes(masters=3) as nodes:
        yield nodes


@pytest.fixture(scope="module")
def queue_redis() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
def on_cluster(
    cluster: RedisClusterNodes, queue_redis: RedisServer, request: pytest.FixtureRequest
) -> Iterator:
    """A factory: alerter (one web, two workers) on the cluster under a label of the test's own."""
    label = re.sub(r"\W", "-", request.node.name)
    started: list[Deployment] = []

    def start(config: Path, *extra: str, webs: int = 1) -> Deployment:
        flags = [
            f"--redis.url={cluster.url}",
            f"--redis.queue-url={queue_redis.url}",
            f"--cluster.label={label}",
            *extra,
        ]
        dep = start_split(config, flags, webs=webs, workers=2)
        started.append(dep)
        return dep

    yield start
    for dep in started:
        dep.stop()


def group_keys_per_master(cluster: RedisClusterNodes, label: str) -> list[int]:
    """How many aggregation groups each master holds under `label`."""
    counts = []
    for node in cluster.nodes:
        with node.client() as c:
            counts.append(sum(1 for _ in c.scan_iter(match=f"{label}:{{*}}:group:*", count=1000)))
    return counts


def stored_alerts(cluster: RedisClusterNodes, label: str, hash_name: str = "alerts") -> int:
    """How many alerts the shards' alerts hashes (or another per-shard hash, as "alert-times")
    hold under `label`, on every master."""
    stored = 0
    for node in cluster.nodes:
        with node.client() as c:
            stored += sum(c.hlen(key) for key in c.scan_iter(match=f"{label}:{{*}}:{hash_name}", count=1000))
    return stored


def test_groups_spread_over_the_masters_and_notify_once_each(on_cluster, cluster, tmp_path: Path) -> None:
    """30 groups from two web instances' posts: one webhook call per group, the groups on every
    master, the API's alerts and groups read back across them; then one resolution each, and
    the sweep collects the resolved alerts from every shard."""
    names = [f"Alert{n:02d}" for n in range(30)]
    with HttpSink() as sink:
        config = write_config(tmp_path / "am.yml", [webhook_receiver(sink.url)], route=NO_REPEAT)
        dep = on_cluster(config, "--alerts.gc-interval=1s", webs=2)
        batch = [alert(name, instance=f"{name.lower()}:9100") for name in names]
        dep.post(batch)  # to both web instances, as an HA pair of Prometheus servers does
        sink.wait_for(30, timeout=30)
        told = Counter(r.json["groupLabels"]["alertname"] for r in sink.requests)
        assert told == Counter(names), told
        label = "test_groups_spread_over_the_masters_and_notify_once_each"
        per_master = group_keys_per_master(cluster, label)
        assert sum(per_master) == 30 and all(per_master), per_master
        assert stored_alerts(cluster, label) == 30  # each alert once: its one group's shard

        alerts = dep.get("/api/v2/alerts")
        assert sorted(a["labels"]["alertname"] for a in alerts) == names
        assert all(a["status"]["state"] == "active" and a["receivers"] == [{"name": "hook"}] for a in alerts)
        groups = dep.get("/api/v2/alerts/groups")
        assert sorted(g["labels"]["alertname"] for g in groups) == names
        # The status page's views add up every master.
        redis_view = dep.get("/api/alerter/v1/redis")
        assert redis_view["mode"] == "cluster" and len(redis_view["address"].split(", ")) == 3
        timers = dep.get("/api/alerter/v1/workers")["timers"]
        assert timers["groups"] == 30 and timers["armed"] == 30, timers

        dep.post([alert(name, ends_in=-1, started_ago=30, instance=f"{name.lower()}:9100") for name in names])
        sink.wait_for(60, timeout=30)
        resolved = Counter(r.json["groupLabels"]["alertname"] for r in sink.requests[30:])
        assert resolved == Counter(names), resolved
        assert all(r.json["status"] == "resolved" for r in sink.requests[30:])
        wait_until(lambda: group_keys_per_master(cluster, label) == [0, 0, 0], 15, message="groups stayed")
        wait_until(lambda: stored_alerts(cluster, label) == 0, 15, message="the resolved alerts stayed")
        holds(lambda: len(sink.requests) == 60, 2.5, lambda: f"{len(sink.requests)} requests, not 60")


def test_alerts_without_times_are_stored_split_in_their_shards(on_cluster, cluster, tmp_path: Path) -> None:
    """Alerts posted without startsAt and endsAt (amtool, scripts) keep their times apart in their
    shard's alert-times hash: a re-send keeps each startsAt and takes the new annotations, the
    API lists them whole, and a resolution posted with times makes them whole again, notified,
    then collected from every shard with nothing left in either hash."""
    names = [f"Bare{n:02d}" for n in range(12)]
    label = "test_alerts_without_times_are_stored_split_in_their_shards"
    with HttpSink() as sink:
        config = write_config(tmp_path / "am.yml", [webhook_receiver(sink.url)], route=NO_REPEAT)
        dep = on_cluster(config, "--alerts.gc-interval=1s")
        bare = [{"labels": {"alertname": n, "instance": "x:1"}, "annotations": {"s": "1"}} for n in names]
        dep.post(bare)
        sink.wait_for(12, timeout=30)
        assert stored_alerts(cluster, label) == stored_alerts(cluster, label, "alert-times") == 12
        first = {a["labels"]["alertname"]: a["startsAt"] for a in dep.get("/api/v2/alerts")}
        dep.post([{**a, "annotations": {"s": "2"}} for a in bare])
        listed = dep.get("/api/v2/alerts")
        assert {a["labels"]["alertname"]: a["startsAt"] for a in listed} == first
        assert all(a["annotations"] == {"s": "2"} and a["status"]["state"] == "active" for a in listed)

        dep.post([alert(name, ends_in=-1, started_ago=30, instance="x:1") for name in names])
        sink.wait_for(24, timeout=30)
        assert all(r.json["status"] == "resolved" for r in sink.requests[12:])
        assert stored_alerts(cluster, label, "alert-times") == 0  # whole again
        wait_until(lambda: stored_alerts(cluster, label) == 0, 15, message="the resolved alerts stayed")


def test_an_alert_in_groups_of_two_shards(on_cluster, tmp_path: Path) -> None:
    """A route with `continue` puts one alert into two groups (here of two different shards,
    hence two copies of the alert): each receiver is told once, the API lists the alert once
    with both receivers, and one resolution reaches both."""
    with HttpSink() as one, HttpSink() as two:
        route = {
            **NO_REPEAT,
            "routes": [
                {"receiver": "one", "group_by": ["alertname"], "continue": True},
                {"receiver": "two", "group_by": ["instance"]},
            ],
        }
        receivers = [webhook_receiver(one.url, "one"), webhook_receiver(two.url, "two")]
        dep = on_cluster(write_config(tmp_path / "am.yml", receivers, route=route))
        dep.post([alert("Split", instance="x:1")])
        one.wait_for(1, timeout=15)
        two.wait_for(1, timeout=15)
        alerts = dep.get("/api/v2/alerts")
        assert len(alerts) == 1
        assert sorted(r["name"] for r in alerts[0]["receivers"]) == ["one", "two"]

        dep.post([alert("Split", ends_in=-1, started_ago=30, instance="x:1")])
        one.wait_for(2, timeout=15)
        two.wait_for(2, timeout=15)
        assert [r.json["status"] for r in one.requests] == ["firing", "resolved"]
        assert [r.json["status"] for r in two.requests] == ["firing", "resolved"]


def test_a_silence_mutes_on_the_cluster(on_cluster, tmp_path: Path) -> None:
    """A silence created through the API mutes its alert on every shard; the other group is told."""
    with HttpSink() as sink:
        dep = on_cluster(write_config(tmp_path / "am.yml", [webhook_receiver(sink.url)], route=NO_REPEAT))
        now = time.time()
        silence = {
            "matchers": [{"name": "alertname", "value": "Quiet", "isRegex": False, "isEqual": True}],
            "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 60)),
            "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 3600)),
            "createdBy": "test",
            "comment": "cluster",
        }
        r = requests.post(f"{dep.web_urls[0]}/api/v2/silences", json=silence, timeout=10)
        assert r.status_code == 200, r.text
        silence_id = r.json()["silenceID"]
        assert [s["id"] for s in dep.get("/api/v2/silences")] == [silence_id]

        dep.post([alert("Quiet", instance="q:1"), alert("Loud", instance="l:1")])
        sink.wait_for(1, timeout=15)
        # group_wait 1s, group_interval 2s: a muted group would have been told by now too.
        holds(
            lambda: len(sink.requests) == 1, 3.0, lambda: f"{[r.json['groupLabels'] for r in sink.requests]}"
        )
        assert sink.requests[0].json["groupLabels"] == {"alertname": "Loud"}
        quiet = next(a for a in dep.get("/api/v2/alerts") if a["labels"]["alertname"] == "Quiet")
        assert quiet["status"] == {
            "state": "suppressed",
            "silencedBy": [silence_id],
            "inhibitedBy": [],
            "mutedBy": [],
        }


@pytest.mark.parametrize(
    ("command", "extra", "says"),
    [
        (("worker",), (), "--redis.queue-url"),
        (("web", "--web.workers=1"), (), "--redis.queue-url"),
        (("worker",), ("--alerts.per-alertname-limit=5",), "--alerts.per-alertname-limit"),
        (("worker",), ("--cluster.label=a{b}",), "--cluster.label"),
    ],
)
def test_what_a_cluster_cannot_honour_stops_the_start(
    cluster: RedisClusterNodes,
    queue_redis: RedisServer,
    tmp_path: Path,
    command: tuple[str, ...],
    extra: tuple[str, ...],
    says: str,
) -> None:
    """A cluster node without --redis.queue-url, or with a flag the cluster layout cannot honour:
    the process (a worker; a web instance, whose gunicorn worker refuses to boot) exits at start
    with a message naming the flag."""
    config = write_config(tmp_path / "am.yml", [webhook_receiver("http://127.0.0.1:9/")])
    queue = [f"--redis.queue-url={queue_redis.url}"] if extra else []
    listen = f"--web.listen-address=127.0.0.1:{free_port()}"
    proc = ManagedProcess(
        alerter_command(
            *command, f"--config.file={config}", f"--redis.url={cluster.url}", listen, *queue, *extra
        )
    )
    assert proc.wait(timeout=30) != 0
    assert says in proc.log_text(), proc.log_text()


def test_resharding_while_alerts_come_and_groups_flush(on_cluster, cluster, tmp_path: Path) -> None:
    """Slots move from one master to another (`redis-cli --cluster reshard`, keys and all) while
    a Prometheus-like sender posts new groups and the workers flush them: every group is still
    told exactly once, and the moved shards' groups are on the new master. A post that meets a
    slot half-moved may be refused (5xx); the sender posts it again, as Prometheus does."""
    source, target = cluster.nodes[0], cluster.nodes[1]
    moved = 1500  # the lowest slots of the first master: 5 or 6 shards
    tags_moved = [t for t in shard_tags() if key_slot(t.encode()) < moved]
    assert all(cluster.owner(key_slot(t.encode())) is source for t in tags_moved)
    names: list[str] = []
    refused: list[int] = []
    failures: list[BaseException] = []
    resharded = threading.Event()
    with HttpSink() as sink:
        dep = on_cluster(write_config(tmp_path / "am.yml", [webhook_receiver(sink.url)], route=NO_REPEAT))

        def send() -> None:
            """New groups, three a post, until the resharding is over (and 90 at least)."""
            try:
                while not resharded.is_set() or len(names) < 90:
                    batch = [f"Move{len(names) + k:04d}" for k in range(3)]
                    body = [alert(name, instance="i:1") for name in batch]
                    while (
                        r := requests.post(f"{dep.web_urls[0]}/api/v2/alerts", json=body, timeout=10)
                    ).status_code != 200:
                        refused.append(r.status_code)
                        time.sleep(0.1)
                    names.extend(batch)
                    time.sleep(0.05)
            except BaseException as err:
                failures.append(err)

        sender = threading.Thread(target=send)
        sender.start()
        started = time.monotonic()
        cluster.reshard(source, target, moved)
        took = time.monotonic() - started
        posted_meanwhile = len(names)
        resharded.set()
        sender.join(timeout=60)
        assert not sender.is_alive() and not failures, failures
        assert all(cluster.owner(key_slot(t.encode())) is target for t in tags_moved)
        sink.wait_for(len(names), timeout=60)
        told = Counter(r.json["groupLabels"]["alertname"] for r in sink.requests)
        assert told == Counter(names), told
        holds(lambda: len(sink.requests) == len(names), 2.5, lambda: f"{len(sink.requests)} requests")
    label = "test_resharding_while_alerts_come_and_groups_flush"
    with target.client() as c:
        on_target = sum(
            1 for t in tags_moved for _ in c.scan_iter(match=f"{label}:{{{t}}}:group:*", count=1000)
        )
    assert on_target > 0, "no group lives in a moved shard: the test moved nothing alerter uses"
    print(
        f"resharding {moved} slots took {took:.1f}s, {posted_meanwhile} groups posted meanwhile, "
        f"{on_target} groups in moved shards, posts refused: {refused}"
    )


def test_a_write_returns_once_the_replica_of_its_master_holds_it() -> None:
    """ClusterReplicaAcks: a notification-log write on a cluster with a replica per master waits
    for the replica of the master that holds the write's slot (WAIT on that master's
    connection), for shards on each of the three masters, with no acknowledgement timing out."""
    with RedisClusterNodes(masters=3, replicas=1) as replicated:
        client = RedisCluster(host=HOST, port=replicated.nodes[0].port)
        # A formed cluster's replicas may still be syncing: WAIT counts online ones only.
        wait_until(lambda: all_replicas_online(replicated), 30, message="a replica never came online")
        keys = Keys("acks", cluster=True)
        writer = ClusterReplicaAcks(client, timeout=5)
        script = client.register_script("return redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])")
        timeouts = metrics.replica_ack_timeouts._value.get()
        shards = keys.shards()[::21]  # 0, 21, 42, 63: each of the three masters' slot ranges
        for shard in shards:
            assert writer.run(script, [shard.nflog], ["f", "v"], changes=lambda _: []) == 1
        masters = {replicated.owner(key_slot(shard.nflog.encode())).port for shard in shards}
        assert len(masters) == 3 and len(writer._masters) == 3
        assert all(acks.online_replicas() == 1 for acks in writer._masters.values())
        assert metrics.replica_ack_timeouts._value.get() == timeouts


def test_the_cluster_client_honours_the_connection_flags(
    cluster: RedisClusterNodes, queue_redis: RedisServer
) -> None:
    """--cluster.probe-interval, --cluster.tcp-timeout and alerter's command packer reach the
    connections to every node (redis-py's cluster client passes none of them on by itself), and
    the queue gets its own Redis."""
    settings = Settings(
        redis_url=cluster.url, redis_queue_url=queue_redis.url, probe_interval=3, tcp_timeout=4
    )
    client = backend.connect(settings)
    assert isinstance(client, RedisCluster)
    for n in range(30):  # keys on every master: each node's pool opens a connection
        client.set(f"flags-{n}", n)
    connections = [
        c
        for node in client.get_primaries()
        for c in node.redis_connection.connection_pool._available_connections
    ]
    assert len({c.port for c in connections}) == 3
    assert {(c.health_check_interval, c.socket_timeout) for c in connections} == {(3, 4)}
    assert all(isinstance(c._command_packer, CommandPacker) for c in connections)
    queue = backend.connect_queue(settings)
    assert not isinstance(queue, RedisCluster)
    assert queue.connection_pool.connection_kwargs["port"] == queue_redis.port


def test_the_all_in_one_process_on_the_cluster(
    cluster: RedisClusterNodes, queue_redis: RedisServer, tmp_path: Path
) -> None:
    """`alerter` (web, timers and workers in one process) on the cluster: its post is told once."""
    with HttpSink() as sink:
        config = write_config(tmp_path / "am.yml", [webhook_receiver(sink.url)], route=NO_REPEAT)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = ManagedProcess(
            alerter_command(
                f"--config.file={config}",
                f"--redis.url={cluster.url}",
                f"--redis.queue-url={queue_redis.url}",
                "--cluster.label=all-in-one",
                f"--web.listen-address=127.0.0.1:{port}",
            )
        )
        try:
            proc.wait_http(f"{url}/-/ready", timeout=30)
            Deployment([url], [proc]).post([alert("AllInOne", instance="a:1")])
            sink.wait_for(1, timeout=15)
            assert sink.requests[0].json["groupLabels"] == {"alertname": "AllInOne"}
            holds(lambda: len(sink.requests) == 1, 2.5, lambda: f"{len(sink.requests)} requests, not 1")
        finally:
            proc.stop()


def test_tls_to_every_node_of_the_cluster(tmp_path: Path) -> None:
    """A cluster that serves TLS only, to clients and on its bus: `--cluster.tls-config` (alerter's
    TLS context, client certificate included) reaches the connections to every node, as it does
    the queue's Redis (TLS too: the file is the TLS of every Redis connection), and a post is
    told once."""
    tls = TLSFiles.create(tmp_path / "tls")
    tls_config = tls.write_tls_config(tmp_path / "tls.yml")
    with RedisClusterNodes(masters=3, tls=tls) as secure, RedisServer(tls=tls) as queue, HttpSink() as sink:
        settings = Settings(redis_url=secure.url, redis_queue_url=queue.url, tls_config_file=str(tls_config))
        client = backend.connect(settings)
        for n in range(30):  # keys on every master: each node's pool opens a connection
            client.set(f"tls-{n}", n)
        connections = [
            c
            for node in client.get_primaries()
            for c in node.redis_connection.connection_pool._available_connections
        ]
        assert len({c.port for c in connections}) == 3
        assert all(isinstance(c._sock, ssl.SSLSocket) for c in connections)
        config = write_config(tmp_path / "am.yml", [webhook_receiver(sink.url)], route=NO_REPEAT)
        flags = [
            f"--redis.url={secure.url}",
            f"--redis.queue-url={queue.url}",
            f"--cluster.tls-config={tls_config}",
        ]
        dep = start_split(config, flags, webs=1, workers=1)
        try:
            dep.post([alert("OverTLS", instance="a:1")])
            sink.wait_for(1, timeout=15)
            assert sink.requests[0].json["groupLabels"] == {"alertname": "OverTLS"}
        finally:
            dep.stop()


def test_a_failed_send_is_retried_on_the_cluster(on_cluster, tmp_path: Path) -> None:
    """A receiver that answers 500 once: the group's retry (its shard's P:{T}:retries) sends the
    notification again after the backoff, and once it passes nothing more is sent."""
    with HttpSink() as sink:
        # The group's next regular flush is 5 minutes away, so a second request within the wait
        # can only be the retry, after its backoff (0.5 s, +-50 %).
        route = {**NO_REPEAT, "group_interval": "5m"}
        dep = on_cluster(write_config(tmp_path / "am.yml", [webhook_receiver(sink.url)], route=route))
        sink.respond_with(500)
        dep.post([alert("Flaky", instance="f:1")])
        first, second = sink.wait_for(2, timeout=15)[:2]
        assert first.json["groupLabels"] == second.json["groupLabels"] == {"alertname": "Flaky"}
        assert second.received_at - first.received_at >= BACKOFF_START * (1 - BACKOFF_JITTER)
        holds(lambda: len(sink.requests) == 2, 3.0, lambda: f"{len(sink.requests)} requests, not 2")


def test_a_group_whose_route_a_reload_removed_goes(on_cluster, cluster, tmp_path: Path) -> None:
    """A reload that drops a route: the route's group is deleted at its next flush (its keys, in
    one transaction on its shard), and the re-sent alert is told through the route that takes it
    now."""
    with HttpSink() as sink:
        child = {"receiver": "hook", "matchers": ['team="a"'], "group_by": ["alertname"]}
        config = write_config(
            tmp_path / "am.yml", [webhook_receiver(sink.url)], route={**NO_REPEAT, "routes": [child]}
        )
        dep = on_cluster(config)
        label = "test_a_group_whose_route_a_reload_removed_goes"
        dep.post([alert("Moved", instance="m:1", team="a")])
        sink.wait_for(1, timeout=15)
        assert sum(group_keys_per_master(cluster, label)) == 1
        write_config(config, [webhook_receiver(sink.url)], route=NO_REPEAT)
        for proc in dep.processes:
            os.kill(proc.pid, signal.SIGHUP)
        wait_until(
            lambda: group_keys_per_master(cluster, label) == [0, 0, 0], 15, message="the old group stayed"
        )
        dep.post([alert("Moved", instance="m:1", team="a")])
        sink.wait_for(2, timeout=15)
        assert [r.json["groupKey"] for r in sink.requests] == [
            '{}/{team="a"}:{alertname="Moved"}',
            '{}:{alertname="Moved"}',
        ]
        assert sum(group_keys_per_master(cluster, label)) == 1


def all_replicas_online(cluster: RedisClusterNodes) -> bool:
    """Whether every master has a replica that finished its sync."""
    for node in cluster.nodes:
        with node.client(decode_responses=True) as c:
            info = c.info("replication")
            replicas = [v for k, v in info.items() if k.startswith("slave") and isinstance(v, dict)]
            states = [r.get("state") for r in replicas]
            if info["role"] == "master" and "online" not in states:
                return False
    return True
