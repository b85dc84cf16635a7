"""Scale benchmark: memory per active alert and API read latency at 100,000 alerts.

    bench/scale [--alerts=100000] [--groups=1000] [--requests=5] [--web-workers=2] [--web-threads=4]

For Alertmanager 0.25 and for alerter in its two shapes on a private redis-server, "alerter" (the
split deployment: web tier `alerter web` + one `alerter worker`) and "alerter-single" (`alerter`
alone: web, timers and flush threads in one process, what a small install runs), one after the
other, each freshly started with one route grouping by alertname and group_wait 1h (nothing is
sent):

1. measure memory empty, then load --alerts firing alerts in --groups groups (batches of 64 over
   4 connections), wait 3 s, measure again;
2. time --requests sequential `GET /api/v2/alerts` and `GET /api/v2/alerts/groups` (p50, max),
   checking that every alert and group comes back;
3. measure memory once more (reads allocate).

Memory: Alertmanager's RSS; for alerter, Redis `used_memory` plus the RSS of every alerter process
(gunicorn master and workers, the RQ worker). PSS (shared pages of forked workers counted once)
and Redis `used_memory_rss` are printed too. Bytes per alert are given both as total/alerts and as
(loaded - empty)/alerts.
"""

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    Bench,
    ForeignLoad,
    Profiler,
    add_run_options,
    children,
    free_port,
    http_get,
    load_alerts,
    machine_summary,
    mb,
    print_reproduce,
    pss,
    ratio,
    require_binaries,
    rss,
    run_main,
    summarize_profile,
    table,
    wait_for,
    wait_quiet,
    write_config,
)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--alerts", type=int, default=100_000)
    p.add_argument("--groups", type=int, default=1_000)
    p.add_argument("--requests", type=int, default=5, help="timed GETs per endpoint")
    p.add_argument("--web-workers", type=int, default=2)
    p.add_argument("--web-threads", type=int, default=4)
    p.add_argument(
        "--servers",
        default="alertmanager,alerter,alerter-single",
        help="comma list of alertmanager, alerter (split: web tier + worker), alerter-single (one process)",
    )
    p.add_argument(
        "--profile",
        default=None,
        help="directory for py-spy profiles of alerter's web workers during the GETs",
    )
    add_run_options(p)
    return p.parse_args()


def memory(kind: str, procs: dict[str, list[int]], redis: Any) -> dict[str, int]:
    out = {}
    for name, pids in procs.items():
        out[f"rss:{name}"] = sum(rss(p) for p in pids)
        out[f"pss:{name}"] = sum(pss(p) for p in pids)
    if redis is not None:
        info = redis.info("memory")
        out["redis_used_memory"] = int(info["used_memory"])
        out["redis_used_memory_rss"] = int(info["used_memory_rss"])
    rss_total = sum(v for k, v in out.items() if k.startswith("rss:"))
    out["total"] = rss_total + out.get("redis_used_memory", 0)
    out["total_pss"] = sum(v for k, v in out.items() if k.startswith("pss:")) + out.get(
        "redis_used_memory", 0
    )
    return out


def time_get(port: int, path: str, n: int) -> tuple[list[float], Any]:
    times, doc = [], None
    for _ in range(n):
        t = time.perf_counter()
        status, body = http_get(port, path, timeout=300)
        times.append(time.perf_counter() - t)
        if status != 200:
            raise RuntimeError(f"GET {path}: HTTP {status}: {body[:200]!r}")
        doc = json.loads(body)
    return times, doc


def run_one(bench: Bench, kind: str, args: argparse.Namespace, profiler: Profiler) -> dict[str, Any]:
    wait_quiet(args.quiet_wait)
    cfg = write_config(bench.dir / f"config-{kind}.yml", f"http://127.0.0.1:{free_port()}/", group_wait="1h")
    redis = None
    if kind == "alertmanager":
        server = bench.alertmanager(cfg)
        procs = lambda: {"alertmanager": server.pids()}  # noqa: E731
    elif kind == "alerter":
        redis = bench.redis()
        server = bench.alerter_web(cfg, redis.url, args.web_workers, args.web_threads)
        worker = bench.alerter_worker(cfg, redis.url, 1)
        wait_for(lambda: redis.client.scard("rq:workers") >= 1, 30, "alerter worker registered", worker)
        procs = lambda: {"web": server.pids(), "worker": [worker.pid]}  # noqa: E731
    elif kind == "alerter-single":
        redis = bench.redis()
        server = bench.alerter_single(cfg, redis.url)
        procs = lambda: {"alerter": server.pids()}  # noqa: E731
    time.sleep(1)
    empty = memory(kind, procs(), redis)
    took = load_alerts(server.port, args.alerts, args.groups)
    time.sleep(3)
    loaded = memory(kind, procs(), redis)
    profiles: dict[str, list[Path]] = {}
    if kind == "alerter":
        profiler.start("get-alerts", children(server.proc.pid), 600)
    foreign = ForeignLoad(bench)
    t_alerts, doc = time_get(server.port, "/api/v2/alerts", args.requests)
    profiles["GET /api/v2/alerts"] = profiler.finish(early=True)
    n_alerts = len(doc)
    if kind == "alerter":
        profiler.start("get-groups", children(server.proc.pid), 600)
    t_groups, doc = time_get(server.port, "/api/v2/alerts/groups", args.requests)
    profiles["GET /api/v2/alerts/groups"] = profiler.finish(early=True)
    n_groups = len(doc)
    n_group_alerts = sum(len(g["alerts"]) for g in doc)
    foreign_cores = foreign.cores()
    after = memory(kind, procs(), redis)
    if n_alerts != args.alerts or n_groups != args.groups or n_group_alerts != args.alerts:
        print(
            f"WARNING {kind}: GET returned {n_alerts} alerts, "
            f"{n_groups} groups holding {n_group_alerts} alerts",
            file=sys.stderr,
        )
    bench.stop_all()
    return {
        "kind": kind,
        "load_s": took,
        "empty": empty,
        "loaded": loaded,
        "after": after,
        "get_alerts": t_alerts,
        "get_groups": t_groups,
        "n_alerts": n_alerts,
        "n_groups": n_groups,
        "profiles": profiles,
        "foreign_cores": foreign_cores,
    }


def comparison(al: dict[str, Any], am: dict[str, Any]) -> list[list[str]]:
    """One alerter shape's figures against Alertmanager's, with the memory goal's verdicts."""
    med = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
    rows = [
        [
            "bytes/alert (total/alerts)",
            f"{am['per_alert']:,.0f}",
            f"{al['per_alert']:,.0f}",
            ratio(al["per_alert"], am["per_alert"]),
            "PASS" if al["per_alert"] <= am["per_alert"] / 2 else "FAIL",
        ],
        [
            "bytes/alert (incremental)",
            f"{am['incr']:,.0f}",
            f"{al['incr']:,.0f}",
            ratio(al["incr"], am["incr"]),
            "PASS" if al["incr"] <= am["incr"] / 2 else "FAIL",
        ],
        [
            "bytes/alert after GETs",
            f"{am['after_per_alert']:,.0f}",
            f"{al['after_per_alert']:,.0f}",
            ratio(al["after_per_alert"], am["after_per_alert"]),
            "",
        ],
    ]
    for path, key in (("/alerts", "get_alerts"), ("/alerts/groups", "get_groups")):
        for stat, of in (("p50", med), ("max", max)):
            rows.append(
                [
                    f"GET {path} {stat} ms",
                    f"{1000 * of(am[key]):,.0f}",
                    f"{1000 * of(al[key]):,.0f}",
                    ratio(of(al[key]), of(am[key])),
                    "",
                ]
            )
    return rows


def main() -> int:
    args = parse_args()
    require_binaries(args.servers.split(","))
    print(f"machine: {machine_summary()}")
    print(
        f"{args.alerts:,} firing alerts in {args.groups:,} groups; alerter web {args.web_workers} workers x "
        f"{args.web_threads} threads + 1 alerter worker on a private redis-server\n",
        flush=True,
    )
    results = {}
    with Bench("scale", keep=args.keep) as bench:
        profiler = Profiler(bench, Path(args.profile).resolve() if args.profile else None)
        for kind in [s for s in args.servers.split(",") if s]:
            r = results[kind] = run_one(bench, kind, args, profiler)
            n = args.alerts
            print(
                f"== {kind}: loaded {n:,} alerts in {r['load_s']:.1f} s "
                f"({n / r['load_s']:,.0f} alerts/s, Python client)"
            )
            for label in ("empty", "loaded", "after"):
                m = r[label]
                parts = [f"{k.split(':', 1)[1]} RSS {mb(v)}" for k, v in m.items() if k.startswith("rss:")]
                if "redis_used_memory" in m:
                    parts.append(
                        f"Redis used_memory {mb(m['redis_used_memory'])} (used_memory_rss "
                        f"{mb(m['redis_used_memory_rss'])})"
                    )
                print(
                    f"   {label:7s} total {mb(m['total'])} (PSS-based {mb(m['total_pss'])}): "
                    + ", ".join(parts)
                )
            per_alert = r["loaded"]["total"] / n
            incr = (r["loaded"]["total"] - r["empty"]["total"]) / n
            after_per_alert = r["after"]["total"] / n
            r.update(per_alert=per_alert, incr=incr, after_per_alert=after_per_alert)
            print(
                f"   bytes per alert: {per_alert:,.0f} total/alerts, {incr:,.0f} incremental, "
                f"{after_per_alert:,.0f} total/alerts after the GETs"
            )
            for name, times in (
                ("GET /api/v2/alerts", r["get_alerts"]),
                ("GET /api/v2/alerts/groups", r["get_groups"]),
            ):
                s = sorted(times)
                print(
                    f"   {name:26s} p50 {1000 * s[len(s) // 2]:8.0f} ms  max {1000 * s[-1]:8.0f} ms  "
                    f"({len(s)} requests)"
                )
            print(
                f"   returned {r['n_alerts']:,} alerts, {r['n_groups']:,} groups; "
                f"other processes on the machine during the GETs: {r['foreign_cores']:.2f} cores"
                + ("  ** DISTURBED RUN **" if r["foreign_cores"] > 0.2 else "")
                + "\n",
                flush=True,
            )
            for name, files in r["profiles"].items():
                if files:
                    print(f"   py-spy profile of {name}: {', '.join(map(str, files))}")
                    print("   " + summarize_profile(files, top=12).replace("\n", "\n   ") + "\n")
    for kind in ("alerter", "alerter-single"):
        if kind in results and "alertmanager" in results:
            rows = comparison(results[kind], results["alertmanager"])
            print(f"{kind} against Alertmanager:")
            print(table(rows, ["figure", "Alertmanager", kind, f"{kind}/AM", "goal <=0.5x"]) + "\n")
    print_reproduce("scale", args)
    return 0


if __name__ == "__main__":
    run_main(main)
