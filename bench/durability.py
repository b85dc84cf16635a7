"""What "acknowledged means kept" costs (app/durability.py): a silence write and a notification's
log commit, each timed without and with the step that makes it outlive a crash.

    bench/durability [--writes=2000] [--threads=1,2] [--dir=PATH]

embedded   fakeredis in this process, as the embedded alerter runs it: a plain Writer (the
           write lives in memory until the next snapshot) against the WriteAheadLog (one JSON line
           appended and fdatasync'd per write) in --dir (default: a temporary directory; point
           it at the disk that holds --storage.path to measure that disk).
redis      a private redis-server master: with one replica and a plain Writer (asynchronous
           replication), with one replica and ReplicaAcks (EVAL + WAIT 1 in one pipeline), and
           alone with ReplicaAcks (no replica online: no WAIT is sent).

A silence write is `SilenceStore.set` of a new silence (what POST /api/v2/silences does after
parsing); a commit is `NotificationLog.commit` of a lease taken beforehand (what a worker does
after each successful send). With --threads=2 two threads write at once (the embedded process
runs two worker threads; concurrent writers share an fsync). Printed per variant and thread
count: mean and p99 wall time per write (what the API client or the worker waits), and this
process's CPU per write (with fakeredis that includes the store's own work; a Redis server's
CPU is not counted).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import fakeredis
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import machine_summary, pct, print_reproduce, require_binaries, run_main, table

from app import metrics
from app.durability import ReplicaAcks, WriteAheadLog, Writer
from app.matchers import Matcher
from app.nflog import NotificationLog
from app.redis_keys import Keys
from app.silence import Silence, SilenceStore
from tests.support.redis_server import RedisServer

Variant = tuple[str, redis.Redis, Writer]


def silence(n: int) -> Silence:
    now = time.time()
    return Silence("", (Matcher("alertname", "=", f"Bench{n}"),), now, now + 3600, 0.0, "bench", "durability")


def run_threads(ops: list[Callable[[], None]], threads: int) -> tuple[list[float], float, float]:
    """Run `ops` spread over `threads` threads; (latency of each op, wall seconds, CPU seconds)."""
    latencies: list[float] = []
    lock = threading.Lock()

    def worker(part: list[Callable[[], None]]) -> None:
        mine = []
        for op in part:
            started = time.perf_counter()
            op()
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    parts = [ops[i::threads] for i in range(threads)]
    wall, cpu = time.perf_counter(), time.process_time()
    pool = [threading.Thread(target=worker, args=(part,)) for part in parts]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return latencies, time.perf_counter() - wall, time.process_time() - cpu


def silence_ops(client: redis.Redis, writer: Writer, prefix: str, count: int) -> list[Callable[[], None]]:
    store = SilenceStore(client, Keys(prefix), retention=3600, writer=writer)
    return [lambda n=n: store.set(silence(n)) for n in range(count)]


def commit_ops(client: redis.Redis, writer: Writer, prefix: str, count: int) -> list[Callable[[], None]]:
    """Commits of leases taken beforehand (untimed), one notification each."""
    nflog = NotificationLog(client, Keys(prefix), retention=3600, writer=writer)
    wanted = [
        (nflog.field(f"g{n}", "hook", "webhook", 0), "", frozenset([f"fp{n}"]), frozenset())
        for n in range(count)
    ]
    ops: list[Callable[[], None]] = []
    now = time.time()
    for i in range(0, count, 500):
        batch = wanted[i : i + 500]
        for (_, _, firing, _), (_, lease) in zip(batch, nflog.acquire_many(batch, ttl=600), strict=True):
            assert lease is not None, "a lease of the benchmark was not granted"
            ops.append(lambda lease=lease, firing=firing: nflog.commit(lease, firing, frozenset(), now, 3600))
    return ops


def measure(variant: Variant, writes: int, threads: int) -> list[str]:
    name, client, writer = variant
    row = [name, str(threads)]
    for make in (silence_ops, commit_ops):
        ops = make(client, writer, f"bench-{uuid.uuid4().hex[:8]}", writes)
        latencies, wall, cpu = run_threads(ops, threads)
        row += [
            f"{sum(latencies) / len(latencies) * 1e6:,.0f}",
            f"{pct(latencies, 99) * 1e6:,.0f}",
            f"{cpu / writes * 1e6:,.0f}",
            f"{writes / wall:,.0f}",
        ]
    return row


@contextmanager
def embedded_variants(directory: Path) -> Iterator[list[Variant]]:
    plain = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    logged = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    yield [
        ("embedded, memory only (before)", plain, Writer()),
        ("embedded, write-ahead log", logged, WriteAheadLog.recover(directory, logged)),
    ]


@contextmanager
def redis_variants() -> Iterator[list[Variant]]:
    with RedisServer() as master, RedisServer(replicaof=master) as replica, RedisServer() as alone:
        replica.wait_synced()
        replicated, single = master.client(), alone.client()
        waits = ReplicaAcks(replicated, timeout=0.5)
        assert waits.online_replicas() == 1, "the replica is not online"
        yield [
            ("redis + replica, async (before)", replicated, Writer()),
            ("redis + replica, WAIT 1", replicated, waits),
            ("redis alone, no replica online", single, ReplicaAcks(single, timeout=0.5)),
        ]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--writes", type=int, default=2000, help="silence writes, and commits, per run")
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--dir", default="", help="where the write-ahead log goes (default: a temp dir)")
    args = parser.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    require_binaries([])
    print(machine_summary())
    rows = []
    with tempfile.TemporaryDirectory(prefix="alerter-durability-", dir=args.dir or None) as tmp:
        for variants in (embedded_variants(Path(tmp)), redis_variants()):
            with variants as chosen:
                for variant in chosen:
                    for n in threads:
                        rows.append(measure(variant, args.writes, n))
    header = ["variant", "threads"] + [
        f"{what} {figure}"
        for what in ("silence", "commit")
        for figure in ("mean us", "p99 us", "CPU us", "per s")
    ]
    print(table(rows, header))
    timeouts = int(metrics.replica_ack_timeouts._value.get())
    print(f"WAIT timeouts (0.5 s each, counted in the mean): {timeouts}")
    args.keep = False  # print_reproduce leaves --keep out; this benchmark has none
    print_reproduce("durability", args)
    return 0


if __name__ == "__main__":
    run_main(main)
