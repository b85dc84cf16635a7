"""In-process micro-benchmarks: the CPU cost of alerter's hot paths without HTTP servers around.

    bench/inprocess --what=ingest [--batches=1500] [--resend] [--notimes]
                                                     POST /api/v2/alerts, 64-alert batches
    bench/inprocess --what=notify [--groups=3000]    flush batches of one-alert groups to a webhook
    bench/inprocess --what=history [--groups=3000]   record one delivery attempt per group
    bench/inprocess --what=reads [--alerts=100000]   GET /api/v2/alerts and /alerts/groups

Each runs alerter's code in this process (Flask's test client for the API, the dispatcher for
flushes) on a private redis-server, prints wall time, CPU time per unit and the command that
reproduces it. `--profile` adds cProfile's top functions (which slows everything down: compare
figures only between runs with the same setting). These figures are for deciding between two
versions of the code; bench/ingest, bench/scale and bench/notify measure the real deployment.
"""

from __future__ import annotations

import argparse
import cProfile
import http.server
import pstats
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import make_alert, print_reproduce, require_binaries, rfc3339, run_main

from app import history
from app.notify.pipeline import IntegrationTarget, NotifyTask
from app.runtime import Runtime
from app.settings import Settings
from app.web import create_app
from tests.support.redis_server import RedisServer


def runtime(redis: RedisServer, workdir: Path, url: str, group_wait: str) -> Runtime:
    config = {
        "route": {"receiver": "w", "group_by": ["alertname"], "group_wait": group_wait},
        "receivers": [{"name": "w", "webhook_configs": [{"url": url, "send_resolved": False}]}],
    }
    path = workdir / "am.yml"
    path.write_text(yaml.safe_dump(config))
    return Runtime(Settings(config_file=str(path), storage_path=str(workdir)), redis.client())


def bodies(count: int, groups: int, offset: int = 0, timestamps: bool = True) -> list[bytes]:
    """`count` 64-alert request bodies; without `timestamps` the alerts carry neither startsAt
    nor endsAt, as amtool and scripts post them (bench/ingest's notimes scenario)."""
    now = time.time()
    starts, ends = (rfc3339(now - 60), rfc3339(now + 3600)) if timestamps else (None, None)
    return [
        orjson.dumps([make_alert(offset + b * 64 + i, groups, starts, ends) for i in range(64)])
        for b in range(count)
    ]


def measure(what: str, units: int, unit: str, work: Callable[[], None], profile: bool) -> None:
    prof = cProfile.Profile() if profile else None
    wall, cpu = time.perf_counter(), time.process_time()
    if prof:
        prof.enable()
    work()
    if prof:
        prof.disable()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    per = cpu / units * 1000
    print(f"{what}: {units:,} {unit} in {wall:.2f} s wall, {cpu:.2f} s CPU: {per:.3f} ms CPU per {unit[:-1]}")
    if prof:
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)


def ingest(args: argparse.Namespace, redis: RedisServer, workdir: Path) -> None:
    client = create_app(runtime(redis, workdir, "http://127.0.0.1:9/", "1h")).test_client()
    batches = bodies(args.batches, 1000, timestamps=not args.notimes)
    # Warm the caches; with --resend, store every alert first so that each timed one merges.
    for body in batches if args.resend else batches[:50]:
        client.post("/api/v2/alerts", data=body, content_type="application/json")

    def post_all() -> None:
        for body in batches:
            r = client.post("/api/v2/alerts", data=body, content_type="application/json")
            assert r.status_code == 200, r.data

    before = redis.client().info("commandstats")["cmdstat_evalsha"]
    measure("POST /api/v2/alerts (64 alerts each)", args.batches, "requests", post_all, args.profile)
    after = redis.client().info("commandstats")["cmdstat_evalsha"]
    per_call = (after["usec"] - before["usec"]) / (after["calls"] - before["calls"])
    print(f"Redis: {per_call:.0f} us CPU per EVALSHA (the ingest script, one per request)")


class _Sink(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


def notify(args: argparse.Namespace, redis: RedisServer, workdir: Path) -> None:
    sink = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    rt = runtime(redis, workdir, f"http://127.0.0.1:{sink.server_port}/", "1h")
    client = create_app(rt).test_client()
    for body in bodies(-(-args.groups // 64), args.groups):
        client.post("/api/v2/alerts", data=body, content_type="application/json")
    gids = rt.store.group_ids()

    def flush_all() -> None:
        pending = []
        for i in range(0, len(gids), args.batch):
            pending += rt.dispatcher.flush_many(gids[i : i + args.batch], "http://am")
        for result in pending:
            result.result()  # the sends run on the notifier's threads
        history.flush()  # the notification history's writes are part of a notification's cost

    measure(
        f"flush batches of {args.batch} (webhook sink)", len(gids), "notifications", flush_all, args.profile
    )
    sink.shutdown()


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
    parser.add_argument("--groups", type=int, default=3000, help="notify, history: one-alert groups")
    parser.add_argument("--batch", type=int, default=50, help="notify: groups per flush batch")
    parser.add_argument("--alerts", type=int, default=100_000, help="reads: alerts stored")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions")
    args = parser.parse_args()
    require_binaries([])
    with RedisServer() as redis, tempfile.TemporaryDirectory(prefix="alerter-inprocess-") as tmp:
        run = {"ingest": ingest, "notify": notify, "history": history_writes, "reads": reads}[args.what]
        run(args, redis, Path(tmp))
    args.keep = False  # print_reproduce leaves --keep out; this benchmark has none
    print_reproduce("inprocess", args)
    return 0


if __name__ == "__main__":
    run_main(main)
