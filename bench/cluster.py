"""Redis CPU of alerter's work on one plain Redis and on a three-master Redis Cluster.

    bench/cluster [--batches=300] [--ticks=500] [--groups=2000]

Runs alerter's store and timer loop in this process against a private redis-server, then against
a private three-master cluster (tests/support/redis_server.py, `redis-cli --cluster create`), and
prints for each the Redis CPU (INFO cpu: the redis-server processes' user + system CPU, added
over the masters) and the script calls (INFO commandstats, EVALSHA). A third run, "layout", puts
the cluster layout's keys (and its call per shard) on the plain redis-server: what the calls
cost apart from cluster mode's own work.

  spread    ingest of 64-alert batches whose alerts are in 64 groups, re-sent (every alert is
            stored once first, untimed): the costliest shape for the cluster layout, whose
            batch becomes one script call per shard it touches (about 40 of the 64);
  grouped   the same with the 64 alerts of a batch in one group (a Prometheus rule's alerts):
            one call per batch in both layouts;
  idle tick one pass of an idle worker's timer loop (claims, retries, the wait-time read), which
            on a cluster claims every shard;
  notify    --groups one-alert groups fall due at once: the timer loop's claim, then the flush
            jobs RQ would run (workers/flush.py, FLUSH_BATCH groups a job, each job's groups of
            one shard), one after the other as in one worker, to a webhook sink in a process of
            its own, history included. RQ's own bookkeeping is left out (it is on the queue's
            Redis, not the cluster); also printed: the busiest master's share.

Redis CPU per operation, not throughput: on a shared machine the other processes stretch wall
time far more than the CPU Redis spends. The servers' CPU when idle (a cluster's gossip and
cron) is measured first and taken off. The load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import redis
from redis.cluster import RedisCluster

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml
from common import Bench, print_reproduce, require_binaries, run_main, sink_count, start_sink, wait_for

from app import history
from app.alerts import Alert
from app.dispatcher import group_id
from app.jobs import bind_runtime
from app.labels import fingerprint
from app.redis_keys import Keys
from app.retries import RetrySchedule
from app.runtime import FLUSH_BATCH, Runtime
from app.settings import Settings
from app.store import AlertStore, GroupRef
from app.timers import TimerLoop
from tests.support.redis_server import RedisClusterNodes, RedisServer
from workers.flush import flush_groups

BATCH = 64


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batches", type=int, default=300, help="timed ingest batches per shape (default 300)")
    p.add_argument("--ticks", type=int, default=500, help="timed idle timer-loop passes (default 500)")
    p.add_argument("--groups", type=int, default=2000, help="one-alert groups notified (default 2000)")
    p.add_argument("--keep", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args()


def redis_cpu(servers: Sequence[redis.Redis]) -> float:
    return sum(float(s.info("cpu")["used_cpu_user"]) + float(s.info("cpu")["used_cpu_sys"]) for s in servers)


def evalsha_calls(servers: Sequence[redis.Redis]) -> int:
    return sum(int(s.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0)) for s in servers)


def batches(spread: bool, count: int) -> list[list[tuple[Alert, tuple[GroupRef, ...]]]]:
    """`count` batches of BATCH alerts, in BATCH groups each (spread) or in one group a batch;
    their endsAt an hour from now, so that a second call re-sends the same alerts, later."""
    now = time.time()
    out = []
    for b in range(count):
        batch = []
        for i in range(BATCH):
            name = f"Bench{i if spread else b}"
            labels = {"alertname": name, "instance": f"host{b}-{i}:9100"}
            ref = GroupRef(group_id("bench", name), name, "bench", "hook", {"alertname": name}, 3600, 3600)
            alert = Alert(labels, {}, 1e9, now + 3600, "", now, fingerprint=fingerprint(labels))
            batch.append((alert, (ref,)))
        out.append(batch)
    return out


def idle_cpu(servers: Sequence[redis.Redis], seconds: float = 3.0) -> float:
    """The servers' own Redis CPU a second with nothing to do (a cluster's nodes gossip and run
    their cron: a few ms a second), which `measure` takes off what it measures."""
    cpu = redis_cpu(servers)
    time.sleep(seconds)
    return (redis_cpu(servers) - cpu) / seconds


def measure(servers: Sequence[redis.Redis], idle: float, work: Callable[[], None]) -> tuple[float, int]:
    """Redis CPU seconds (less the servers' idle CPU meanwhile) and EVALSHA calls `work` cost."""
    cpu, calls, started = redis_cpu(servers), evalsha_calls(servers), time.monotonic()
    work()
    spent = redis_cpu(servers) - cpu - idle * (time.monotonic() - started)
    return spent, evalsha_calls(servers) - calls


def run(
    name: str, client: redis.Redis, servers: Sequence[redis.Redis], args: argparse.Namespace, layout: bool
) -> None:
    """Every figure for one Redis; `layout`: with the cluster layout's keys and calls."""
    keys = Keys(name, cluster=layout)
    store = AlertStore(client, keys)
    idle = idle_cpu(servers)
    print(f"{name:8} idle     {idle * 1e3:6.2f} ms Redis CPU a second, taken off the figures below")
    for shape in ("spread", "grouped"):
        for batch in batches(shape == "spread", args.batches):  # stored once, untimed
            store.put(batch, time.time())
        work = batches(shape == "spread", args.batches)

        def resend(work: list[list[tuple[Alert, tuple[GroupRef, ...]]]] = work) -> None:
            for batch in work:
                store.put(batch, time.time())

        cpu, calls = measure(servers, idle, resend)
        alerts = BATCH * len(work)
        print(
            f"{name:8} {shape:8} {cpu / alerts * 1e6:6.1f} µs Redis CPU per alert, "
            f"{calls / len(work):5.1f} script calls per batch"
        )
    loop = TimerLoop(
        client, keys, RetrySchedule(client, keys), lambda gids, retry: None, lambda: None,
        inflight_ttl=15, sweep_interval=3600,
    )  # fmt: skip
    loop.tick()  # the housekeeping lock, taken once

    def ticks() -> None:
        for _ in range(args.ticks):
            loop.tick()
            loop._wait_time()

    cpu, calls = measure(servers, idle, ticks)
    per_second = cpu / args.ticks * 10 * 1e3  # the loop polls every 0.1 s when idle
    print(
        f"{name:8} idle tick {cpu / args.ticks * 1e6:6.1f} µs Redis CPU per tick ({per_second:.1f} ms/s "
        f"a worker at 10 ticks/s), {calls / args.ticks:5.1f} script calls per tick"
    )


def notify(
    name: str, settings: Settings, servers: Sequence[redis.Redis], sink: Any, args: argparse.Namespace
) -> None:
    """Redis CPU per notification: `args.groups` one-alert groups claimed and flushed."""
    rt = Runtime(settings)
    bind_runtime(rt)
    now = time.time()
    alerts = []
    for n in range(args.groups):
        labels = {"alertname": f"Notify{n}", "instance": "host:9100"}
        alerts.append(Alert(labels, {}, now - 60, now + 3600, "", now, fingerprint=fingerprint(labels)))
    for start in range(0, len(alerts), BATCH):
        rt.dispatcher.put_alerts(alerts[start : start + BATCH], now)
    timers = TimerLoop(
        rt.client, rt.keys, rt.retries, lambda gids, retry: None, lambda: None,
        inflight_ttl=15, sweep_interval=3600,
    )  # fmt: skip
    before = sink_count(sink)["count"]
    idle = idle_cpu(servers)
    each = [redis_cpu([s]) for s in servers]

    def flush_all() -> None:
        while True:
            found = timers.claim_due_by_shard(now + 7200)  # past every group's group_wait
            for gids in found:
                for start in range(0, len(gids), FLUSH_BATCH):
                    flush_groups(gids[start : start + FLUSH_BATCH])  # what RQ runs
            if all(len(gids) < timers.batch for gids in found):
                break
        wait_for(lambda: sink_count(sink)["count"] - before >= args.groups, 120, "every notification")
        rt.notifier.drain(30)
        history.flush()

    cpu, _ = measure(servers, idle, flush_all)
    busiest = max(redis_cpu([s]) - e for s, e in zip(servers, each, strict=True)) / sum(
        redis_cpu([s]) - e for s, e in zip(servers, each, strict=True)
    )
    print(
        f"{name:8} notify   {cpu / args.groups * 1e6:6.1f} µs Redis CPU per notification "
        f"(the busiest server {busiest:.0%} of it)"
    )


def main() -> int:
    args = parse_args()
    require_binaries([], "redis-cli")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    with Bench("cluster") as bench, RedisServer() as plain, RedisClusterNodes(masters=3) as cluster:
        sink = start_sink(bench)
        config = bench.dir / "am.yml"
        route = {"receiver": "w", "group_by": ["alertname"], "group_wait": "1h", "group_interval": "1h"}
        webhook = {"url": f"{sink.url}/", "send_resolved": False}
        config.write_text(
            yaml.safe_dump({"route": route, "receivers": [{"name": "w", "webhook_configs": [webhook]}]})
        )
        client = plain.client(socket_timeout=None)
        run("plain", client, [client], args, layout=False)
        run("layout", client, [client], args, layout=True)
        masters = [node.client(socket_timeout=None) for node in cluster.nodes]
        client = RedisCluster(host=cluster.nodes[0].host, port=cluster.nodes[0].port)
        run("cluster", client, masters, args, layout=True)
        common = {"config_file": str(config), "storage_path": str(bench.dir), "cluster_label": "notify"}
        notify("plain", Settings(redis_url=plain.url, **common), [plain.client()], sink, args)
        cluster_settings = Settings(redis_url=cluster.url, redis_queue_url=plain.url, **common)
        notify("cluster", cluster_settings, masters, sink, args)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print_reproduce("cluster", args)
    return 0


if __name__ == "__main__":
    run_main(main)
