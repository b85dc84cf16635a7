"""Notification benchmark: how late is each group's first notification, and how many per second.

    bench/notify [--groups=10000] [--workers=1,2,4] [--group-wait=5] [--max-wait=150] [--profile=DIR]
                 [--redis=plain|cluster] [--rounds=1]

For Alertmanager 0.25 and for alerter with 1, 2 and 4 `alerter worker` processes (web tier
`alerter web` on a private redis-server, or with --redis=cluster on a private three-master Redis
Cluster with RQ's queue on a redis-server of its own, `--redis.queue-url`), each run freshly
started:

* one route grouping by alertname, group_wait --group-wait seconds, group_interval 1h,
  repeat_interval 24h, one webhook receiver: a fast local sink (asyncio, keep-alive, in its own
  process) that records the arrival time of every notification and its group;
* --groups alerts with distinct alertnames (so --groups groups, one alert each, startsAt = now)
  are posted in batches of 64 over 4 connections; each group's due time is the moment its batch
  was sent + group_wait;
* the run waits until every group was notified (or --max-wait seconds past the last due time).

Prints, per run: lateness of each group's first delivery against its due time (p50/p99/max;
a group never notified counts as infinitely late), notifications/s (delivered / (last arrival -
first arrival)), duplicate deliveries, CPU use, and the goals: p99 lateness < 1 s at 10,000
groups, notifications/s from 1 to 2 workers >= 1.7x. --profile=DIR records py-spy profiles of the
alerter workers during delivery and prints their hotspots.
"""

import argparse
import math
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    Bench,
    BenchRedis,
    ForeignLoad,
    Profiler,
    add_run_options,
    cpu_seconds,
    machine_summary,
    make_alert,
    pct,
    post_batches,
    print_reproduce,
    ratio,
    require_binaries,
    rfc3339,
    run_main,
    sink_count,
    sink_dump,
    start_sink,
    summarize_profile,
    table,
    wait_for,
    wait_quiet,
    write_config,
)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--groups", type=int, default=10_000)
    p.add_argument("--group-wait", type=float, default=5.0, help="seconds")
    p.add_argument("--workers", default="1,2,4", help="alerter worker counts to run")
    p.add_argument("--servers", default="alertmanager,alerter")
    p.add_argument("--web-workers", type=int, default=2)
    p.add_argument("--web-threads", type=int, default=4)
    p.add_argument(
        "--max-wait", type=float, default=150.0, help="give up this many seconds after the last group was due"
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run the whole sequence this many times, interleaved, and print each round's ratios "
        "and their medians (this VM's speed drifts between runs minutes apart)",
    )
    p.add_argument("--profile", default=None, help="directory for py-spy profiles of the alerter workers")
    p.add_argument(
        "--redis",
        choices=("plain", "cluster"),
        default="plain",
        help="alerter on one redis-server, or on a three-master Redis Cluster (RQ on a plain one)",
    )
    add_run_options(p)
    args = p.parse_args()
    if args.rounds < 1:
        p.error(f"--rounds={args.rounds}: give 1 or more (how many times to run the sequence)")
    return args


def gw_text(seconds: float) -> str:
    return f"{int(seconds * 1000)}ms"


def run_one(
    bench: Bench, kind: str, workers: int, args: argparse.Namespace, profiler: Profiler
) -> dict[str, Any]:
    wait_quiet(args.quiet_wait)
    sink = start_sink(bench)
    label = "alertmanager" if kind == "alertmanager" else f"alerter x{workers}"
    cfg = write_config(
        bench.dir / f"config-{kind}-{workers}.yml",
        f"http://127.0.0.1:{sink.port}/notify",
        group_wait=gw_text(args.group_wait),
    )
    # Every Redis alerter uses, RQ's queue first (on a cluster, the masters follow).
    redises: list[BenchRedis] = []
    worker_pids: list[int] = []
    if kind == "alertmanager":
        server = bench.alertmanager(cfg)
        busy_pids = lambda: server.pids()  # noqa: E731
    else:
        queue = bench.redis()
        redises, url, extra = [queue], queue.url, []
        if args.redis == "cluster":
            masters = bench.redis_cluster()
            redises += masters
            url, extra = masters[0].url, [f"--redis.queue-url={queue.url}"]
        server = bench.alerter_web(cfg, url, args.web_workers, args.web_threads, extra)
        procs = [bench.alerter_worker(cfg, url, n, extra) for n in range(workers)]
        worker_pids = [p.pid for p in procs]
        wait_for(
            lambda: queue.client.scard("rq:workers") >= workers,
            30,
            f"{workers} alerter workers registered",
            procs[0],
        )
        busy_pids = lambda: worker_pids  # noqa: E731
    time.sleep(1)

    n = args.groups
    starts = rfc3339(time.time())
    alerts = [make_alert(i, n, starts, "", name="NotifyBench", width=5) for i in range(n)]
    for a in alerts:
        del a["endsAt"]  # firing until resolve_timeout (5m), far beyond the run
    batches = [alerts[i : i + 64] for i in range(0, n, 64)]
    sent_at: dict[int, float] = {}
    cpu0 = cpu_seconds(busy_pids())
    sink_cpu0 = cpu_seconds([sink.proc.pid])
    redis_cpu0 = redis_cpu(redises)
    cmd0 = command_calls(redises)
    foreign = ForeignLoad(bench)
    post_s = post_batches(server.port, batches, 4, on_send=lambda idx, t: sent_at.__setitem__(idx, t))
    # Redis's CPU from here on is the flushes' (group_wait holds them back until the posting is
    # done): what one notification costs the one Redis (docs/scaling.md).
    redis_cpu_posted = redis_cpu(redises)
    reads_posted = read_events(redises)
    due = {}
    for idx, batch in enumerate(batches):
        for a in batch:
            due[a["labels"]["alertname"]] = sent_at[idx] + args.group_wait
    first_due, last_due = min(due.values()), max(due.values())
    if kind != "alertmanager" and profiler.enabled:
        time.sleep(max(0.0, first_due - 0.5 - time.time()))
        profiler.start(f"notify-x{workers}", worker_pids, 600)
    deadline = last_due + args.max_wait
    delivered = 0
    while time.time() < deadline:
        delivered = sink_count(sink)["count"]
        if delivered >= n:
            break
        time.sleep(0.25)
    time.sleep(1.0)  # late duplicates, if any
    foreign_cores, stolen_cores = foreign.cores(), foreign.stolen()
    profiles = profiler.finish(early=True)
    cpu = cpu_seconds(busy_pids()) - cpu0
    sink_cpu = cpu_seconds([sink.proc.pid]) - sink_cpu0
    redis_cpu_end = redis_cpu(redises)
    reads_end = read_events(redises)
    commands = +(command_calls(redises) - cmd0)
    stats = sink_count(sink)
    records = sink_dump(sink)
    bench.stop_all()

    first: dict[str, float] = {}
    per_group: dict[str, int] = defaultdict(int)
    for t, group, _n, _status in records:
        per_group[group] += 1
        if group not in first or t < first[group]:
            first[group] = t
    lateness = [first[g] - d if g in first else math.inf for g, d in due.items()]
    arrivals = sorted(first.values())
    span = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else 0.0
    unknown = sum(c for g, c in per_group.items() if g not in due)
    window = (arrivals[-1] - first_due) if arrivals else 0.0
    return {
        "label": label,
        "kind": kind,
        "workers": workers,
        "post_s": post_s,
        "post_spread": last_due - first_due,
        "delivered_groups": sum(1 for g in due if g in first),
        "notifications": len(records),
        "duplicates": sum(c - 1 for g, c in per_group.items() if g in due and c > 1),
        "unknown": unknown,
        "p50": pct(lateness, 50),
        "p99": pct(lateness, 99),
        "max": max(lateness),
        "min": min(lateness),
        "rate": (len(arrivals) - 1) / span if span else float("nan"),
        "window": window,
        "cpu_cores": cpu / window if window else 0.0,
        "redis_cores": (sum(redis_cpu_end.values()) - sum(redis_cpu0.values())) / window if window else 0.0,
        "redis_us_per_notification": {
            role: 1e6 * (redis_cpu_end[role] - redis_cpu_posted[role]) / len(records) if records else 0.0
            for role in redis_cpu_end
        },
        "redis_reads_per_notification": (reads_end - reads_posted) / len(records) if records else 0.0,
        "redis_commands": commands,
        "sink_cores": sink_cpu / window if window else 0.0,
        "foreign_cores": foreign_cores,
        "stolen_cores": stolen_cores,
        "sink": stats,
        "profiles": profiles,
    }


def redis_cpu(redises: list[BenchRedis]) -> dict[str, float]:
    """CPU seconds so far: of the one Redis, or on a cluster of RQ's queue Redis and of the
    masters together."""
    if len(redises) == 1:
        return {"redis": cpu_seconds([redises[0].proc.pid])}
    if not redises:
        return {}
    return {
        "masters": cpu_seconds([r.proc.pid for r in redises[1:]]),
        "queue": cpu_seconds([redises[0].proc.pid]),
    }


def read_events(redises: list[BenchRedis]) -> int:
    """Reads from clients' sockets so far, over every Redis (INFO stats total_reads_processed):
    about one per round trip a client made, pipelines and script calls counted once."""
    return sum(int(r.info("stats")["total_reads_processed"]) for r in redises)


def command_calls(redises: list[BenchRedis]) -> Counter[str]:
    """Commands run so far by every Redis, by name (INFO commandstats)."""
    calls: Counter[str] = Counter()
    for r in redises:
        for name, stat in r.info("commandstats").items():
            calls[name.removeprefix("cmdstat_")] += stat["calls"]
    return calls


def fmt_s(x: float) -> str:
    return "never" if math.isinf(x) else f"{x:.3f}"


def print_ratios(results: list[dict[str, Any]], rounds: int) -> None:
    """alerter against the Alertmanager run of the same round, and with several rounds the
    medians of those ratios."""
    ratios: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for n in range(1, rounds + 1):
        am = next((r for r in results if r["kind"] == "alertmanager" and r["round"] == n), None)
        if am is None:
            return
        for r in results:
            if r["kind"] != "alerter" or r["round"] != n:
                continue
            ratios[r["workers"]].append((r["rate"] / am["rate"], r["p99"] / am["p99"]))
            where = f" (round {n})" if rounds > 1 else ""
            print(
                f"alerter x{r['workers']} / Alertmanager{where}: notifications/s "
                f"{ratio(r['rate'], am['rate'])}, p99 lateness {fmt_s(r['p99'])} s vs {fmt_s(am['p99'])} s"
            )
    if rounds > 1:
        for w, pairs in sorted(ratios.items()):
            print(
                f"alerter x{w} / Alertmanager, median of {len(pairs)} rounds: notifications/s "
                f"{statistics.median(p[0] for p in pairs):.2f}x, "
                f"p99 lateness {statistics.median(p[1] for p in pairs):.2f}x Alertmanager's"
            )


def main() -> int:
    args = parse_args()
    require_binaries(args.servers.split(","))
    print(f"machine: {machine_summary()}")
    backend = "redis-server" if args.redis == "plain" else "three-master Redis Cluster, RQ on a redis-server"
    print(
        f"{args.groups:,} groups (one alert each), group_wait {args.group_wait:g}s, webhook sink on "
        f"loopback; alerter web {args.web_workers}x{args.web_threads} on a private {backend}\n",
        flush=True,
    )
    runs: list[tuple[str, int]] = []
    for s in [x for x in args.servers.split(",") if x]:
        if s == "alertmanager":
            runs.append(("alertmanager", 0))
        else:
            runs += [("alerter", int(w)) for w in args.workers.split(",") if w]
    results = []
    with Bench("notify", keep=args.keep) as bench:
        profiler = Profiler(bench, Path(args.profile).resolve() if args.profile else None)
        for round_no, (kind, workers) in ((n, run) for n in range(1, args.rounds + 1) for run in runs):
            r = run_one(bench, kind, workers, args, profiler)
            r["round"] = round_no
            if args.rounds > 1:
                r["label"] += f", round {round_no}"
            results.append(r)
            print(
                f"== {r['label']}: posted {args.groups:,} alerts in {r['post_s']:.2f} s "
                f"(due times spread over "
                f"{r['post_spread']:.2f} s)\n"
                f"   first deliveries: {r['delivered_groups']:,}/{args.groups:,} groups; lateness p50 "
                f"{fmt_s(r['p50'])} s, p99 {fmt_s(r['p99'])} s, max {fmt_s(r['max'])} s "
                f"(min {fmt_s(r['min'])} s)\n"
                f"   {r['rate']:,.0f} notifications/s; {r['notifications']:,} notifications received, "
                f"{r['duplicates']} duplicates, {r['unknown']} for unknown groups; cores busy while sending: "
                + (
                    f"workers {r['cpu_cores']:.2f}, redis {r['redis_cores']:.2f}"
                    if r["kind"] == "alerter"
                    else f"alertmanager {r['cpu_cores']:.2f}"
                )
                + f", webhook sink {r['sink_cores']:.2f}"
                + f"; other processes on the machine: {r['foreign_cores']:.2f} cores"
                + f", hypervisor steal {r['stolen_cores']:.2f} cores"
                + ("  ** DISTURBED RUN **" if r["foreign_cores"] > 0.2 else ""),
                flush=True,
            )
            if r["redis_commands"] and r["notifications"]:
                per = sorted(r["redis_commands"].items(), key=lambda kv: -kv[1])
                total = sum(c for _, c in per)
                print(
                    f"   Redis commands per notification (posting included): "
                    f"{total / r['notifications']:.1f} = "
                    + ", ".join(f"{k} {c / r['notifications']:.1f}" for k, c in per[:10])
                    + "\n   Redis CPU per notification (after the posting): "
                    + ", ".join(f"{role} {us:.0f} us" for role, us in r["redis_us_per_notification"].items())
                    + f"; {r['redis_reads_per_notification']:.2f} client round trips per notification"
                )
            if r["profiles"]:
                print(f"   py-spy profiles: {', '.join(map(str, r['profiles']))}")
                print("   " + summarize_profile(r["profiles"]).replace("\n", "\n   "))
    print()
    rows = [
        [
            r["label"],
            fmt_s(r["p50"]),
            fmt_s(r["p99"]),
            fmt_s(r["max"]),
            f"{r['rate']:,.0f}",
            "PASS" if r["p99"] < 1.0 else "FAIL",
        ]
        for r in results
    ]
    print(table(rows, ["run", "lateness p50 s", "p99 s", "max s", "notifications/s", "goal p99 < 1 s"]))
    by_workers = {r["workers"]: r for r in results if r["kind"] == "alerter" and r["round"] == 1}
    if 1 in by_workers and 2 in by_workers:
        s = by_workers[2]["rate"] / by_workers[1]["rate"]
        print(
            f"\nscaling 1 -> 2 workers: {s:.2f}x notifications/s "
            f"(goal >= 1.7x: {'PASS' if s >= 1.7 else 'FAIL'})"
        )
    if 1 in by_workers and 4 in by_workers:
        print(f"scaling 1 -> 4 workers: {by_workers[4]['rate'] / by_workers[1]['rate']:.2f}x notifications/s")
    print_ratios(results, args.rounds)
    print_reproduce("notify", args)
    return 0


if __name__ == "__main__":
    run_main(main)
