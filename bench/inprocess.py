"""In-process micro-benchmarks: the CPU cost of alerter's hot paths without HTTP servers around.

    bench/inprocess --what=ingest [--batches=1500] [--resend] [--notimes] [--size=64] [--callgrind]
                                                     POST /api/v2/alerts, 64-alert batches
                                                     (--size=256: bench/ingest's batch256)
    bench/inprocess --what=notify [--groups=3000] [--rq] [--callgrind]
                                                     flush batches of one-alert groups to a webhook
                                                     (--rq: as RQ jobs, RQ's own cost included)
    bench/inprocess --what=history [--groups=3000]   record one delivery attempt per group
    bench/inprocess --what=reads [--alerts=100000]   GET /api/v2/alerts and /alerts/groups

Each runs alerter's code in this process (Flask's test client for the API, the timer claim and
the dispatcher for flushes) on a private redis-server, prints wall time, CPU time per unit and
the command that reproduces it. The notify run's webhook sink is bench/common.py's, in a process
of its own, so that its CPU is not counted; it also prints the Redis commands per notification
(all of them, those the Lua scripts run included, from INFO commandstats), the round trips
(client calls and pipelines this process made) and Redis's CPU. `--profile` adds cProfile's top
functions over every thread of the process, by own time (env PROFILE_SORT=cumulative, or another
pstats key, for another order; PROFILE_TOP for more than 25 functions; profiling slows everything
down: compare figures only between runs with the same setting). The ingest run prints Redis's
commands per request too. With `--callgrind` (ingest, notify) it runs this process and
redis-server under valgrind's callgrind and prints the instructions each spends per timed request
or notification instead of times (this process's over all its threads, which valgrind runs one at
a time; the notify run's sink stays outside valgrind). On a shared machine CPU times move by
10-25 % between identical runs; ingest's instruction counts by well under 1 %, notify's by a few
% (up to 15 % while another process keeps the machine busy: its threads hand sends and commits to
each other, and how many wait, wake or share a commit follows the wall clock), so compare
versions with interleaved runs there. These figures are for deciding between two versions of the
code; bench/ingest, bench/scale and bench/notify measure the real deployment.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import os
import pstats
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import yaml
from redis import ConnectionPool, Redis
from redis.connection import AbstractConnection

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import (
    Bench,
    make_alert,
    print_reproduce,
    require_binaries,
    rfc3339,
    run_main,
    sink_count,
    start_sink,
)

from app import history
from app.dispatcher import Dispatcher, FlushDone, FlushResult
from app.gcpause import collect_young_less_often, freeze_startup_objects
from app.jobs import QUEUE_NAME, bind_runtime
from app.notify import transport
from app.notify.pipeline import IntegrationTarget, NotifyTask
from app.respencoder import CommandPacker
from app.rqcompat import StoppingWorker
from app.runtime import FLUSH_BATCH, Runtime
from app.settings import Settings
from app.timers import TimerLoop
from app.web import create_app
from tests.support.ports import HOST
from tests.support.redis_server import RedisServer
from workers.flush import flush_groups


def runtime(
    redis: RedisServer, workdir: Path, url: str, group_wait: str, peer_timeout: float | None = None
) -> Runtime:
    """A runtime on `redis` with one webhook receiver at `url`; `peer_timeout` (the send leases'
    TTL among others) when given."""
    config = {
        "route": {"receiver": "w", "group_by": ["alertname"], "group_wait": group_wait},
        "receivers": [{"name": "w", "webhook_configs": [{"url": url, "send_resolved": False}]}],
    }
    path = workdir / "am.yml"
    path.write_text(yaml.safe_dump(config))
    settings = Settings(config_file=str(path), storage_path=str(workdir))
    if peer_timeout is not None:
        settings = dataclasses.replace(settings, peer_timeout=peer_timeout)
    # Packed as alerter's own clients pack commands (app/backend.py).
    client = Redis.from_pool(ConnectionPool(host=HOST, port=redis.port, command_packer=CommandPacker()))
    return Runtime(settings, client)


def bodies(count: int, groups: int, offset: int = 0, timestamps: bool = True, size: int = 64) -> list[bytes]:
    """`count` request bodies of `size` alerts; without `timestamps` the alerts carry neither
    startsAt nor endsAt, as amtool and scripts post them (bench/ingest's notimes scenario)."""
    now = time.time()
    starts, ends = (rfc3339(now - 60), rfc3339(now + 3600)) if timestamps else (None, None)
    return [
        orjson.dumps([make_alert(offset + b * size + i, groups, starts, ends) for i in range(size)])
        for b in range(count)
    ]


def measure(what: str, units: int, unit: str, work: Callable[[], None], profile: bool) -> None:
    profiler = _AllThreads() if profile else None
    wall, cpu, waits = time.perf_counter(), time.process_time(), _waits()
    if profiler:
        profiler.start()
    work()
    if profiler:
        profiler.stop()
    wall, cpu, waits = time.perf_counter() - wall, time.process_time() - cpu, _waits() - waits
    per = cpu / units * 1000
    print(
        f"{what}: {units:,} {unit} in {wall:.2f} s wall, {cpu:.2f} s CPU: {per:.3f} ms CPU per {unit[:-1]}"
        f" ({waits / units:.1f} voluntary context switches per {unit[:-1]})"
    )
    if profiler:
        profiler.print_stats(int(os.environ.get("PROFILE_TOP", 25)))


def _waits() -> int:
    """This process's voluntary context switches so far: a thread waiting (for a socket, a lock,
    a wake-up) costs CPU that a profile hardly shows. Preemptions by other processes are left
    out: on a shared machine they measure the neighbours."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw


class _AllThreads:
    """cProfile in the measuring thread and in every thread started meanwhile (the send pool's,
    the lease keeper, the history writer): a notification's cost is mostly on those threads.
    Each thread's profile counts its own CPU time, not the time it waited for a lock, a socket
    or the interpreter lock."""

    def __init__(self) -> None:
        self.profiles: list[cProfile.Profile] = []

    def start(self) -> None:
        threading.setprofile(self._start_in_thread)
        self._start_in_thread()

    def _start_in_thread(self, *_: Any) -> None:
        sys.setprofile(None)  # threading's hook: replaced by this thread's own profiler
        profile = cProfile.Profile(time.thread_time)  # CPU time: waits and hand-overs left out
        self.profiles.append(profile)
        profile.enable()

    def stop(self) -> None:
        threading.setprofile(None)
        self.profiles[0].disable()  # the measuring thread's; the other threads are idle now

    def print_stats(self, top: int) -> None:
        # A thread that finished no call while profiled has no stats, which pstats refuses.
        finished = [done for done in map(_Finished, self.profiles) if done.stats]
        stats = pstats.Stats(*finished)
        stats.sort_stats(os.environ.get("PROFILE_SORT", "tottime")).print_stats(top)


class _Finished:
    """A profile's finished calls only. pstats would disable each profile from this thread and
    close the calls its own thread is still in (waits) with this thread's clock: nonsense times."""

    def __init__(self, profile: cProfile.Profile) -> None:
        profile.snapshot_stats()  # type: ignore[attr-defined]
        self.stats = profile.stats  # type: ignore[attr-defined]

    def create_stats(self) -> None:
        """pstats asks for it; the stats are taken already."""


class _RedisCost:
    """What a run cost Redis: the commands it executed (a script's own commands included), the
    round trips this process made (a pipeline is one) and Redis's CPU time."""

    def __init__(self, client: Redis) -> None:
        self.client = client
        self.round_trips = 0
        self._send = AbstractConnection.send_packed_command

    def __enter__(self) -> _RedisCost:
        self.before = self._snapshot()
        send = self._send

        def counted(conn: AbstractConnection, *args: Any, **kwargs: Any) -> None:
            self.round_trips += 1
            send(conn, *args, **kwargs)

        AbstractConnection.send_packed_command = counted  # type: ignore[method-assign]
        return self

    def __exit__(self, *_: Any) -> None:
        AbstractConnection.send_packed_command = self._send  # type: ignore[method-assign]
        self.after = self._snapshot()

    def _snapshot(self) -> tuple[dict[str, int], float]:
        stats = self.client.info("commandstats")
        calls = {
            name.removeprefix("cmdstat_"): s["calls"] for name, s in stats.items() if name != "cmdstat_info"
        }
        cpu = self.client.info("cpu")
        return calls, cpu["used_cpu_sys"] + cpu["used_cpu_user"]

    def report(self, units: int, unit: str) -> str:
        (calls0, cpu0), (calls1, cpu1) = self.before, self.after
        diff = {name: n - calls0.get(name, 0) for name, n in calls1.items()}
        ranked = sorted(((n, name) for name, n in diff.items() if n), reverse=True)
        total = sum(n for n, _ in ranked)
        each = ", ".join(f"{name.upper()} {n / units:.2f}" for n, name in ranked)
        return (
            f"Redis: {total / units:.2f} commands per {unit} ({each}); "
            f"{self.round_trips / units:.2f} round trips per {unit}; "
            f"{(cpu1 - cpu0) / units * 1e6:.0f} us Redis CPU per {unit}"
        )


def ingest(args: argparse.Namespace, redis: RedisServer, workdir: Path) -> None:
    client = create_app(runtime(redis, workdir, "http://127.0.0.1:9/", "1h")).test_client()
    batches = bodies(args.batches, 1000, timestamps=not args.notimes, size=args.size)
    # Warm the caches; with --resend, store every alert first so that each timed one merges.
    for body in batches if args.resend else batches[:50]:
        client.post("/api/v2/alerts", data=body, content_type="application/json")

    def post_all() -> None:
        for body in batches:
            r = client.post("/api/v2/alerts", data=body, content_type="application/json")
            assert r.status_code == 200, r.data

    if args.callgrind:
        counts = _instructions({"alerter": _CALLGRIND_SELF, "Redis": redis}, post_all)
        each = ", ".join(f"{name} {n / args.batches / 1e6:.3f}M" for name, n in counts.items())
        print(f"POST /api/v2/alerts ({args.size} alerts each): instructions per request (callgrind): {each}")
        return
    before = redis.client().info("commandstats")["cmdstat_evalsha"]
    with _RedisCost(redis.client()) as cost:
        measure(
            f"POST /api/v2/alerts ({args.size} alerts each)", args.batches, "requests", post_all, args.profile
        )
    after = redis.client().info("commandstats")["cmdstat_evalsha"]
    per_call = (after["usec"] - before["usec"]) / (after["calls"] - before["calls"])
    print(f"Redis: {per_call:.0f} us CPU per EVALSHA (the ingest script, one per request)")
    print(cost.report(args.batches, "request"))


# --callgrind: this process runs under valgrind (main() starts it so, with the output file in
# this variable) and so does its redis-server (_CallgrindRedis).
_CALLGRIND_ENV = "ALERTER_BENCH_CALLGRIND_OUT"
_CALLGRIND_SELF = "this process"


class _CallgrindRedis(RedisServer):
    """A private redis-server under callgrind; its counts go to `callgrind.out` in its directory."""

    start_timeout = 60.0

    def _argv(self) -> list[str]:
        return ["valgrind", "--tool=callgrind", f"--callgrind-out-file={self.out}", *super()._argv()]

    @property
    def out(self) -> Path:
        return self.dir / "callgrind.out"


def _instructions(targets: dict[str, Any], work: Callable[[], None]) -> dict[str, int]:
    """The instructions each target (this process, or a _CallgrindRedis) executes during `work`:
    its counters zeroed before and dumped after (callgrind_control), the dump's total read."""
    where = {
        name: (os.getpid(), Path(os.environ[_CALLGRIND_ENV]))
        if target == _CALLGRIND_SELF
        else (target.process.pid, target.out)
        for name, target in targets.items()
    }
    for pid, _ in where.values():
        subprocess.run(["callgrind_control", "-z", str(pid)], check=True, capture_output=True)
    work()
    for pid, _ in where.values():
        subprocess.run(["callgrind_control", "-d", str(pid)], check=True, capture_output=True)
    counts = {}
    for name, (_, out) in where.items():
        dump = max(out.parent.glob(f"{out.name}.*"), key=lambda p: p.stat().st_mtime)
        m = re.search(r"^summary: (\d+)$", dump.read_text(errors="replace"), re.M)
        assert m, f"no summary in {dump}"
        counts[name] = int(m.group(1))
    return counts


def notify(args: argparse.Namespace, redis: RedisServer, workdir: Path) -> None:
    """The groups' timers fire all at once: the timer loop's claim, then the flush jobs (one per
    FLUSH_BATCH groups) that RQ would run, one after the other as in one worker. With `--rq` the
    claims are queued as `alerter worker`'s timer loop queues them (Runtime.enqueue_flushes) and
    an RQ worker of `alerter worker`'s class runs them in burst mode, so that RQ's own commands
    and Python per job (registries, heartbeats, status) are counted too."""
    with Bench("inprocess") as bench:
        sink = start_sink(bench)
        freeze_startup_objects()  # as `alerter worker` does before it loads the config
        collect_young_less_often()
        # Under callgrind a send waits seconds for its turn, not milliseconds: leases that live an
        # hour are not refreshed before their sends (a Redis call each), as at full speed.
        rt = runtime(redis, workdir, f"{sink.url}/", "1h", 3600.0 if args.callgrind else None)
        bind_runtime(rt)
        client = create_app(rt).test_client()
        for body in bodies(-(-args.groups // 64), args.groups):
            client.post("/api/v2/alerts", data=body, content_type="application/json")
        groups = len(rt.store.group_ids())
        claimed: list[str] = []
        timers = TimerLoop(
            rt.client,
            rt.keys,
            rt.retries,
            lambda gids, _retry: claimed.extend(gids),
            lambda: None,
            inflight_ttl=rt.settings.peer_timeout,
            sweep_interval=3600,
        )

        finished = _GroupsDone(rt.dispatcher)
        # A worker's first send to a receiver builds its transport (an SSL context loading the
        # CA bundle, about a tenth of the instructions of a 1,000-group run): before the timing,
        # which is of a worker that has sent before.
        for receiver in rt.config.receivers.values():
            for _, _, cfg in receiver.integrations():
                transport.transport_for(cfg.http_config)

        def flush_all() -> None:
            due = time.time() + 7200  # past every group's group_wait
            while len(got := timers.claim_due(due)) == timers.batch:
                claimed.extend(got)
                if args.rq:
                    rt.enqueue_flushes(got)
            claimed.extend(got)
            if args.rq:
                rt.enqueue_flushes(got)
                worker = StoppingWorker([QUEUE_NAME], connection=rt.queue.connection, on_stop=lambda: None)
                worker.work(burst=True, logging_level="WARNING")
            else:
                for i in range(0, len(claimed), args.batch):
                    flush_groups(claimed[i : i + args.batch])  # what RQ runs: the job waits for its sends
            # A job that saw its sends stall (under --profile or callgrind) left them to the send
            # pool: wait until every group's sends are over (committed too).
            if not finished.wait(groups, 60):
                raise SystemExit("groups still unfinished 60 s after the last flush job")
            if not rt.notifier.drain(30):
                raise SystemExit("sends still running 30 s after the sink got the last one")
            history.flush()  # the notification history's writes are part of a notification's cost

        what = f"claim and flush batches of {args.batch} (webhook sink)"
        if args.callgrind:
            counts = _instructions({"alerter": _CALLGRIND_SELF, "Redis": redis}, flush_all)
            each = ", ".join(f"{name} {n / groups / 1e6:.4f}M" for name, n in counts.items())
            print(f"{what}: instructions per notification (callgrind, {groups:,} notifications): {each}")
        else:
            with _RedisCost(redis.client()) as cost:
                measure(what, groups, "notifications", flush_all, args.profile)
            print(cost.report(groups, "notification"))
        delivered = sink_count(sink)["count"]
        if delivered != groups:
            raise SystemExit(f"the sink got {delivered:,} notifications for {groups:,} groups")


class _GroupsDone:
    """Counts the groups whose flush is over (sends answered and committed), so that the run can
    wait for the last without polling the sink: a poll is an HTTP request, and under callgrind
    the number of polls (and their instructions) followed the machine's load."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.count = 0
        self.cond = threading.Condition()
        flush_many = dispatcher.flush_many

        def counted(gids: list[str], external_url: str, done: FlushDone, retry: bool = False) -> int:
            def each(result: FlushResult | None) -> None:
                done(result)
                with self.cond:
                    self.count += 1
                    self.cond.notify()

            return flush_many(gids, external_url, each, retry=retry)

        dispatcher.flush_many = counted  # type: ignore[method-assign]

    def wait(self, groups: int, timeout: float) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: self.count >= groups, timeout)


def history_writes(args: argparse.Namespace, redis: RedisServer, workdir: Path) -> None:
    """What the notification history adds to each delivery attempt (app/history.py): queueing
    the record in the notifier and writing it from the history's thread, both in this process."""
    rt = runtime(redis, workdir, "http://127.0.0.1:9/", "1h")
    client = create_app(rt).test_client()
    for body in bodies(-(-args.groups // 64), args.groups):
        client.post("/api/v2/alerts", data=body, content_type="application/json")
    [(name, index, cfg)] = rt.config.receivers["w"].integrations()
    now = time.time()
    tasks = [
        NotifyTask(g, rt.config.route, IntegrationTarget("w", name, index, cfg), g.alerts, [], now, now + 10)
        for g in rt.store.load_groups(rt.store.group_ids())
    ]

    def record_all() -> None:
        for task in tasks:
            history.record_attempt(rt.nflog, task, 1, "sent")
        history.flush()

    measure("record and write one attempt per group", len(tasks), "attempts", record_all, args.profile)


def reads(args: argparse.Namespace, redis: RedisServer, workdir: Path) -> None:
    client = create_app(runtime(redis, workdir, "http://127.0.0.1:9/", "1h")).test_client()
    for body in bodies(-(-args.alerts // 64), 1000):
        client.post("/api/v2/alerts", data=body, content_type="application/json")
    for path in ("/api/v2/alerts", "/api/v2/alerts/groups"):
        measure(
            f"GET {path} ({args.alerts:,} alerts)", 1, "requests", lambda p=path: client.get(p), args.profile
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--what", choices=["ingest", "notify", "history", "reads"], required=True)
    parser.add_argument("--batches", type=int, default=1500, help="ingest: requests to time")
    parser.add_argument("--resend", action="store_true", help="ingest: time re-sends of stored alerts")
    parser.add_argument("--notimes", action="store_true", help="ingest: alerts without startsAt and endsAt")
    parser.add_argument("--size", type=int, default=64, help="ingest: alerts per request")
    parser.add_argument("--groups", type=int, default=3000, help="notify, history: one-alert groups")
    parser.add_argument("--batch", type=int, default=FLUSH_BATCH, help="notify: groups per flush job")
    parser.add_argument(
        "--rq", action="store_true", help="notify: run the flush jobs through RQ (batches of FLUSH_BATCH)"
    )
    parser.add_argument("--alerts", type=int, default=100_000, help="reads: alerts stored")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions")
    parser.add_argument(
        "--callgrind",
        action="store_true",
        help="ingest, notify: instructions per request or notification (this process, Redis) under"
        " valgrind; slow: --batches=200, --groups=1000",
    )
    args = parser.parse_args()
    if args.rq and args.batch != FLUSH_BATCH:
        sys.exit(f"--rq queues the runtime's batches of {FLUSH_BATCH} groups: --batch does not apply")
    require_binaries([], *(["valgrind", "callgrind_control"] if args.callgrind else []))
    if args.callgrind and _CALLGRIND_ENV not in os.environ:
        if args.what not in ("ingest", "notify"):
            sys.exit("--callgrind measures --what=ingest or --what=notify only")
        with tempfile.TemporaryDirectory(prefix="alerter-callgrind-") as tmp:
            out = str(Path(tmp) / "python.callgrind")
            argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, *sys.argv]
            return subprocess.run(
                argv, env={**os.environ, _CALLGRIND_ENV: out}, stderr=subprocess.DEVNULL
            ).returncode
    server = _CallgrindRedis() if args.callgrind else RedisServer()
    with server as redis, tempfile.TemporaryDirectory(prefix="alerter-inprocess-") as tmp:
        run = {"ingest": ingest, "notify": notify, "history": history_writes, "reads": reads}[args.what]
        run(args, redis, Path(tmp))
    args.keep = False  # print_reproduce leaves --keep out; this benchmark has none
    print_reproduce("inprocess", args)
    return 0


if __name__ == "__main__":
    run_main(main)
