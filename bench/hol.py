"""Head-of-line benchmark: does a bad receiver delay a healthy one? (issue 11, point 1)

    bench/hol [--groups=40] [--bad=fail,hang] [--outage=60] [--group-wait=1] [--group-interval=5m]
              [--servers=alertmanager,alerter-split,alerter-single] [--max-wait=120]

Two webhook receivers, each a local sink in its own process: `good` answers at once; `bad`
answers 500 (--bad=fail) or holds every answer (--bad=hang) for --outage seconds from the first
post, then answers 200. One route per receiver (the bad one matches team="bad"), grouping by
alertname; group_wait --group-wait, group_interval --group-interval, repeat_interval 1h. Every
second for --groups seconds, one new alert, so one new group, is posted for each receiver.

Servers, each freshly started: Alertmanager 0.25 (`alertmanager`); alerter split, `alerter web`
and two `alerter worker` processes on a private redis-server (`alerter-split`, docker-compose's
shape); alerter all-in-one, `alerter` with its two worker threads on a private redis-server
(`alerter-single`). For each server and each kind of bad receiver it prints:

* healthy groups: how many were notified, the lateness of each group's first notification
  against its post time + group_wait (median, max; a group never notified counts as infinitely
  late), duplicates, and the issue's goal: every one within group_wait + 1 s;
* bad groups: requests per group during the outage (min, median, max, and how many groups got
  none), and how many were delivered afterwards, the last how long after the outage ended;
* alerter: the most flush jobs queued in RQ and retries pending in Redis at once (sampled every
  0.5 s), which must stay bounded while the receiver is down.
"""

import argparse
import math
import statistics
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    Bench,
    BenchRedis,
    ForeignLoad,
    Server,
    add_run_options,
    machine_summary,
    post_batches,
    print_reproduce,
    require_binaries,
    rfc3339,
    run_main,
    sink_dump,
    sink_outage,
    start_sink,
    table,
    wait_for,
    wait_quiet,
)

SERVERS = ("alertmanager", "alerter-split", "alerter-single")
QUEUE = "rq:queue:alerter"
RETRIES = "alerter:retries"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--groups", type=int, default=40, help="new groups per receiver, one a second")
    p.add_argument("--bad", default="fail,hang", help="kinds of bad receiver to run: fail, hang")
    p.add_argument("--outage", type=float, default=60.0, help="seconds the bad receiver is bad")
    p.add_argument("--group-wait", type=float, default=1.0, help="seconds")
    p.add_argument("--group-interval", default="5m", help="a Go duration, as in the config")
    p.add_argument("--servers", default=",".join(SERVERS))
    p.add_argument(
        "--max-wait", type=float, default=120.0, help="give up this many seconds after the outage ended"
    )
    add_run_options(p)
    return p.parse_args()


def write_config(path: Path, good: str, bad: str, group_wait: float, group_interval: str) -> Path:
    """Two receivers, the bad one on a route of its own; valid for both servers."""
    path.write_text(
        f"""route:
  receiver: good
  group_by: [alertname]
  group_wait: {int(group_wait * 1000)}ms
  group_interval: {group_interval}
  repeat_interval: 1h
  routes:
    - receiver: bad
      matchers: ['team="bad"']
receivers:
  - name: good
    webhook_configs:
      - url: {good}
        send_resolved: false
  - name: bad
    webhook_configs:
      - url: {bad}
        send_resolved: false
"""
    )
    return path


def alert(name: str, team: str) -> dict[str, Any]:
    """A firing alert (no endsAt: it fires until resolve_timeout, beyond the run)."""
    return {
        "labels": {"alertname": name, "team": team, "severity": "warning"},
        "annotations": {"summary": f"{name} for the head-of-line benchmark"},
        "startsAt": rfc3339(time.time()),
        "generatorURL": "http://prometheus:9090/graph",
    }


class QueueSampler:
    """The most RQ jobs queued and retries pending seen, sampled every 0.5 s (alerter only)."""

    def __init__(self, redis: BenchRedis | None) -> None:
        self.redis = redis
        self.most_jobs = self.most_retries = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        assert self.redis is not None
        while not self._stop.wait(0.5):
            pipe = self.redis.client.pipeline(transaction=False)
            pipe.llen(QUEUE)
            pipe.zcard(RETRIES)
            jobs, retries = pipe.execute()
            self.most_jobs, self.most_retries = max(self.most_jobs, jobs), max(self.most_retries, retries)

    def __enter__(self) -> "QueueSampler":
        if self.redis is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self.redis is not None:
            self._thread.join()


def start_server(bench: Bench, kind: str, cfg: Path) -> tuple[Server, BenchRedis | None]:
    if kind == "alertmanager":
        return bench.alertmanager(cfg), None
    redis = bench.redis()
    if kind == "alerter-single":
        return bench.alerter_single(cfg, redis.url), redis
    server = bench.alerter_web(cfg, redis.url, 2, 4)
    workers = [bench.alerter_worker(cfg, redis.url, n) for n in range(2)]
    wait_for(lambda: redis.client.scard("rq:workers") >= 2, 30, "2 alerter workers registered", workers[0])
    return server, redis


def run_one(bench: Bench, kind: str, bad_mode: str, args: argparse.Namespace) -> dict[str, Any]:
    wait_quiet(args.quiet_wait)
    good, bad = start_sink(bench), start_sink(bench)
    cfg = write_config(
        bench.dir / f"config-{kind}-{bad_mode}.yml",
        f"http://127.0.0.1:{good.port}/good",
        f"http://127.0.0.1:{bad.port}/bad",
        args.group_wait,
        args.group_interval,
    )
    server, redis = start_server(bench, kind, cfg)
    time.sleep(1)

    n = args.groups
    good_names = [f"Good{i:03d}" for i in range(n)]
    bad_names = [f"Bad{i:03d}" for i in range(n)]
    posted: dict[str, float] = {}
    outage_end = time.time() + args.outage
    sink_outage(bad, bad_mode, outage_end)
    foreign = ForeignLoad(bench)
    with QueueSampler(redis) as sampler:
        began = time.monotonic()
        for i in range(n):
            batch = [alert(good_names[i], "good"), alert(bad_names[i], "bad")]
            post_batches(
                server.port, [batch], 1, on_send=lambda _i, t, i=i: posted.update({good_names[i]: t})
            )
            time.sleep(max(0.0, began + i + 1 - time.monotonic()))
        deadline = outage_end + args.max_wait
        while time.time() < deadline:
            goods, bads = sink_dump(good), sink_dump(bad)
            delivered = {g for _, g, _, status in bads if status == 200}
            if len({g for _, g, _, _ in goods}) >= n and len(delivered) >= n:
                break
            time.sleep(1.0)
        time.sleep(1.0)  # late duplicates, if any
        goods, bads = sink_dump(good), sink_dump(bad)
    foreign_cores = foreign.cores()
    bench.stop_all()

    first: dict[str, float] = {}
    per_group: dict[str, int] = defaultdict(int)
    for t, group, _n, _status in goods:
        per_group[group] += 1
        first[group] = min(first.get(group, math.inf), t)
    lateness = [first.get(g, math.inf) - (posted[g] + args.group_wait) for g in good_names]
    during: dict[str, int] = dict.fromkeys(bad_names, 0)
    delivered_at: dict[str, float] = {}
    for t, group, _n, status in bads:
        if t < outage_end and group in during:
            during[group] += 1
        if status == 200:  # a held answer (t before the outage's end) was given at its end
            delivered_at[group] = min(delivered_at.get(group, math.inf), max(t, outage_end))
    attempts = sorted(during.values())
    return {
        "label": f"{kind}, {bad_mode}",
        "healthy": sum(1 for g in good_names if g in first),
        "p50": statistics.median(lateness),
        "max": max(lateness),
        "duplicates": sum(c - 1 for c in per_group.values() if c > 1),
        "attempts": (attempts[0], statistics.median(attempts), attempts[-1]),
        "unattempted": sum(1 for a in attempts if a == 0),
        "delivered": len(delivered_at),
        "last_after": max(delivered_at.values(), default=math.inf) - outage_end,
        "jobs": sampler.most_jobs if redis else None,
        "retries": sampler.most_retries if redis else None,
        "foreign_cores": foreign_cores,
    }


def fmt_s(x: float) -> str:
    return "never" if math.isinf(x) else f"{x:.2f}"


def main() -> int:
    args = parse_args()
    servers = [s for s in args.servers.split(",") if s]
    modes = [m for m in args.bad.split(",") if m]
    unknown = [s for s in servers if s not in SERVERS] + [m for m in modes if m not in ("fail", "hang")]
    if unknown:
        sys.exit(f"unknown --servers or --bad value(s): {', '.join(unknown)}")
    require_binaries(servers)
    print(f"machine: {machine_summary()}")
    print(
        f"{args.groups} new groups a second per receiver; the bad receiver is bad for {args.outage:g} s "
        f"from the first post; group_wait {args.group_wait:g}s, group_interval {args.group_interval}\n",
        flush=True,
    )
    results = []
    with Bench("hol", keep=args.keep) as bench:
        for mode in modes:
            for kind in servers:
                r = run_one(bench, kind, mode, args)
                results.append(r)
                queued = (
                    f"; most RQ jobs queued {r['jobs']}, retries pending {r['retries']}"
                    if r["jobs"] is not None
                    else ""
                )
                print(
                    f"== {r['label']}: healthy {r['healthy']}/{args.groups} notified, lateness median "
                    f"{fmt_s(r['p50'])} s, max {fmt_s(r['max'])} s, {r['duplicates']} duplicates; bad: "
                    f"requests per group during the outage {r['attempts'][0]}/{r['attempts'][1]:g}/"
                    f"{r['attempts'][2]} (min/median/max), {r['unattempted']} groups with none, "
                    f"{r['delivered']}/{args.groups} delivered, the last {fmt_s(r['last_after'])} s after "
                    f"the outage{queued}; other processes on the machine: {r['foreign_cores']:.2f} cores"
                    + ("  ** DISTURBED RUN **" if r["foreign_cores"] > 0.2 else ""),
                    flush=True,
                )
    print()
    rows = [
        [
            r["label"],
            f"{r['healthy']}/{args.groups}",
            fmt_s(r["p50"]),
            fmt_s(r["max"]),
            "PASS" if r["max"] < 1.0 else "FAIL",
            f"{r['attempts'][0]}/{r['attempts'][1]:g}/{r['attempts'][2]}",
            str(r["unattempted"]),
            f"{r['delivered']}/{args.groups}",
            "-" if r["jobs"] is None else f"{r['jobs']}/{r['retries']}",
        ]
        for r in results
    ]
    header = [
        "run",
        "healthy notified",
        "late p50 s",
        "max s",
        "goal max < 1 s",
        "bad requests min/med/max",
        "bad with none",
        "bad delivered",
        "most jobs/retries",
    ]
    print(table(rows, header))
    print_reproduce("hol", args)
    return 0


if __name__ == "__main__":
    run_main(main)
