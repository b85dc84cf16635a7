"""Ingest benchmark: POST /api/v2/alerts throughput and latency, Alertmanager vs alerter.

    bench/ingest [--duration=20] [--warmup=3] [--web-workers=2] [--web-threads=4] [--profile=DIR]

For each scenario and each server, one after the other and each freshly started:

* Alertmanager 0.25 (/usr/bin/prometheus-alertmanager, no gossip), or alerter's web tier
  (`alerter web`) on a private redis-server, by default in alerter's default shape (the
  --web.workers and --web.threads defaults); --web-workers/--web-threads measure another;
* one route grouping by alertname, one webhook receiver on an unused local port, group_wait 1h
  (nothing is sent during the run);
* wrk (bench/ingest.lua) posts batches of distinct Prometheus-shaped alerts (64 unless the
  scenario says otherwise) cycling over 100,000 alerts in 1,000 groups, over 4 keep-alive
  connections, for --duration seconds after a --warmup on one batch of separate alerts.

Scenarios (the client shapes):
  fresh     the store starts empty: the first pass over the 100,000 alerts creates them (and the
            1,000 groups), later passes re-send them; the output says how many passes ran.
  resend    all 100,000 alerts are loaded first (untimed), so every timed batch re-sends stored
            alerts with a later endsAt: what Prometheus does at every evaluation.
  notimes   as resend, but no alert carries startsAt or endsAt (neither when loaded nor when
            re-sent): amtool, scripts and many non-Prometheus senders leave them out, and the
            server fills them in (startsAt now, endsAt now + resolve_timeout).
  batch256  as resend, in batches of 256 alerts: Prometheus 3's batch size (2.x sent 64).

Prints alerts/s, p50/p99 request latency, CPU seconds per 1,000 alerts of every process,
alerter/Alertmanager ratios, and the command that reproduces the run. --profile=DIR also records
py-spy profiles of alerter's gunicorn workers during the timed window and prints their hotspots.
"""

import argparse
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import (
    BENCH,
    WRK,
    Bench,
    ForeignLoad,
    Profiler,
    add_run_options,
    children,
    cpu_seconds,
    free_port,
    http_get,
    load_alerts,
    machine_summary,
    print_reproduce,
    ratio,
    require_binaries,
    rfc3339,
    run_main,
    summarize_profile,
    table,
    wait_quiet,
    write_config,
)

from app.redis_keys import Keys
from app.settings import Settings


@dataclass(frozen=True)
class Scenario:
    """A client shape: whether the alerts are stored before the timed run, whether they carry
    startsAt/endsAt, and the batch size when it is not --batch."""

    preload: bool
    timestamps: bool = True
    batch: int | None = None


SCENARIOS = {
    "fresh": Scenario(preload=False),
    "resend": Scenario(preload=True),
    "notimes": Scenario(preload=True, timestamps=False),
    "batch256": Scenario(preload=True, batch=256),
}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=int, default=20, help="timed seconds per run (default 20)")
    p.add_argument("--warmup", type=int, default=3, help="warm-up seconds before each timed run")
    p.add_argument("--alerts", type=int, default=100_000, help="distinct alerts cycled over")
    p.add_argument("--groups", type=int, default=1_000, help="distinct alertnames (groups)")
    p.add_argument("--batch", type=int, default=64, help="alerts per POST")
    p.add_argument("--connections", type=int, default=4, help="wrk keep-alive connections")
    p.add_argument("--wrk-threads", type=int, default=2, help="wrk threads")
    default = Settings()  # alerter's own defaults (web processes: two per core)
    p.add_argument(
        "--web-workers",
        type=int,
        default=default.web_workers,
        help=f"gunicorn worker processes of alerter web (default {default.web_workers}, alerter's)",
    )
    p.add_argument(
        "--web-threads",
        type=int,
        default=default.web_threads,
        help=f"threads per gunicorn worker, 1: sync worker (default {default.web_threads}, alerter's)",
    )
    p.add_argument("--scenarios", default=",".join(SCENARIOS), help=f"comma list of {','.join(SCENARIOS)}")
    p.add_argument("--servers", default="alertmanager,alerter", help="comma list of alertmanager,alerter")
    p.add_argument("--profile", default=None, help="directory for py-spy profiles of alerter's web workers")
    add_run_options(p)
    return p.parse_args()


def run_wrk(
    bench: Bench,
    url: str,
    args: argparse.Namespace,
    scenario: Scenario,
    seconds: int,
    n: int,
    starts: str,
    prefix: str,
) -> dict[str, Any]:
    argv = [
        WRK,
        f"-t{args.wrk_threads}",
        f"-c{args.connections}",
        f"-d{seconds}s",
        "--timeout",
        "30s",
        "-s",
        str(BENCH / "ingest.lua"),
        url,
        "--",
        str(n),
        str(args.groups),
        str(scenario.batch or args.batch),
        starts,
        prefix,
        "0",
        str(args.wrk_threads),
        "1" if scenario.timestamps else "0",
    ]
    proc = bench.spawn("wrk", argv)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.popen.returncode = os.waitstatus_to_exitcode(status)
    bench.procs.remove(proc)
    text = proc.log.read_text(errors="replace")
    m = re.search(r"^WRK_RESULT (\{.*\})$", text, re.M)
    if proc.popen.returncode != 0 or not m:
        raise RuntimeError(f"wrk failed ({proc.popen.returncode}):\n{text[-2000:]}")
    result = json.loads(m.group(1))
    result["cpu_s"] = usage.ru_utime + usage.ru_stime
    return result


def stored_alerts(kind: str, port: int, redis: Any) -> int:
    if kind == "alerter":
        return int(redis.client.hlen(Keys().alerts))
    # Alerts of groups that have not flushed yet count as "unprocessed": add every state.
    body = http_get(port, "/metrics")[1].decode()
    found = re.findall(r'^alertmanager_alerts\{state="[a-z]+"\} (\S+)$', body, re.M)
    return int(sum(float(v) for v in found)) if found else -1


def run_one(
    bench: Bench, kind: str, name: str, args: argparse.Namespace, profiler: Profiler
) -> dict[str, Any]:
    scenario = SCENARIOS[name]
    batch = scenario.batch or args.batch
    wait_quiet(args.quiet_wait)
    cfg = write_config(
        bench.dir / f"config-{kind}-{name}.yml", f"http://127.0.0.1:{free_port()}/", group_wait="1h"
    )
    redis = None
    if kind == "alertmanager":
        server = bench.alertmanager(cfg)
    else:
        redis = bench.redis()
        server = bench.alerter_web(cfg, redis.url, args.web_workers, args.web_threads)
    starts = rfc3339(time.time() - 60)
    preload = None
    if scenario.preload:
        took = load_alerts(
            server.port,
            args.alerts,
            args.groups,
            batch,
            args.connections,
            starts=starts,
            timestamps=scenario.timestamps,
        )
        preload = args.alerts / took
    if args.warmup:
        run_wrk(bench, server.url, args, scenario, args.warmup, batch, starts, "warm")

    server_pids = server.pids()
    redis_pids = [redis.proc.pid] if redis else []
    cpu0 = {"server": cpu_seconds(server_pids), "redis": cpu_seconds(redis_pids)}
    per_pid0 = {pid: cpu_seconds([pid]) for pid in server_pids}
    evalsha0 = redis.info("commandstats").get("cmdstat_evalsha", {}) if redis else {}
    if kind == "alerter":
        profiler.start(f"ingest-{name}", children(server.proc.pid), max(1, args.duration - 2))
    foreign = ForeignLoad(bench)
    res = run_wrk(bench, server.url, args, scenario, args.duration, args.alerts, starts, "host")
    foreign_cores, stolen_cores = foreign.cores(), foreign.stolen()
    profiles = profiler.finish()
    cpu1 = {"server": cpu_seconds(server_pids), "redis": cpu_seconds(redis_pids)}
    per_pid = [cpu_seconds([pid]) - c for pid, c in per_pid0.items()]
    evalsha1 = redis.info("commandstats").get("cmdstat_evalsha", {}) if redis else {}

    seconds = res["duration_us"] / 1e6
    alerts = res["requests"] * batch
    out = {
        "kind": kind,
        "scenario": name,
        "alerts_per_s": alerts / seconds,
        "requests_per_s": res["requests"] / seconds,
        "p50_ms": res["p50_us"] / 1000,
        "p90_ms": res["p90_us"] / 1000,
        "p99_ms": res["p99_us"] / 1000,
        "max_ms": res["max_us"] / 1000,
        "errors": sum(res[k] for k in res if k.startswith("err_")),
        "alerts": alerts,
        "passes": alerts / args.alerts,
        "stored": stored_alerts(kind, server.port, redis),
        "preload_alerts_per_s": preload,
        "cpu_per_1k": {
            "server": 1000 * (cpu1["server"] - cpu0["server"]) / alerts,
            "redis": 1000 * (cpu1["redis"] - cpu0["redis"]) / alerts,
            "wrk": 1000 * res["cpu_s"] / alerts,
        },
        "cpu_util": {
            "server": (cpu1["server"] - cpu0["server"]) / seconds,
            "redis": (cpu1["redis"] - cpu0["redis"]) / seconds,
            "wrk": res["cpu_s"] / seconds,
        },
        "profiles": profiles,
        "foreign_cores": foreign_cores,
        "stolen_cores": stolen_cores,
        "per_process_cores": [c / (res["duration_us"] / 1e6) for c in per_pid],
    }
    if redis:
        calls = evalsha1.get("calls", 0) - evalsha0.get("calls", 0)
        usec = evalsha1.get("usec", 0) - evalsha0.get("usec", 0)
        out["evalsha_us_per_call"] = usec / calls if calls else 0.0
        out["evalsha_share"] = usec / 1e6 / seconds
    bench.stop_all()
    return out


def main() -> int:
    args = parse_args()
    scenarios = [s for s in args.scenarios.split(",") if s]
    unknown = [s for s in scenarios if s not in SCENARIOS]
    if unknown:
        sys.exit(f"unknown scenario {', '.join(unknown)}: choose from {', '.join(SCENARIOS)}")
    servers = [s for s in args.servers.split(",") if s]
    require_binaries(servers, WRK)
    profiler_dir = Path(args.profile).resolve() if args.profile else None
    print(f"machine: {machine_summary()}")
    print(
        f"alerter web: gunicorn {'sync' if args.web_threads == 1 else 'gthread'}, "
        f"{args.web_workers} workers x {args.web_threads} threads, "
        f"on a private redis-server; wrk -t{args.wrk_threads} -c{args.connections}, "
        f"{args.duration}s timed after {args.warmup}s warm-up, batches of {args.batch} (batch256: 256), "
        f"{args.alerts:,} alerts in {args.groups:,} groups\n",
        flush=True,
    )
    results: list[dict[str, Any]] = []
    with Bench("ingest", keep=args.keep) as bench:
        profiler = Profiler(bench, profiler_dir)
        for scenario in scenarios:
            for kind in servers:
                r = run_one(bench, kind, scenario, args, profiler)
                results.append(r)
                extra = ""
                if r.get("evalsha_us_per_call") is not None:
                    extra = (
                        f", Redis EVALSHA {r['evalsha_us_per_call']:.0f} us/call "
                        f"({100 * r['evalsha_share']:.0f}% of a core)"
                    )
                cpu = r["cpu_per_1k"]
                util = r["cpu_util"]
                print(
                    f"[{scenario}] {kind:12s} {r['alerts_per_s']:>9,.0f} alerts/s "
                    f"({r['requests_per_s']:,.0f} req/s)  p50 {r['p50_ms']:.1f} ms  "
                    f"p90 {r['p90_ms']:.1f} ms  "
                    f"p99 {r['p99_ms']:.1f} ms  max {r['max_ms']:.1f} ms  errors {r['errors']}\n"
                    f"    {r['alerts']:,} alerts posted = {r['passes']:.1f} passes; "
                    f"{r['stored']:,} alerts stored"
                    + (
                        f"; preload {r['preload_alerts_per_s']:,.0f} alerts/s (Python client)"
                        if r["preload_alerts_per_s"]
                        else ""
                    )
                    + f"\n    CPU s per 1,000 alerts: server {cpu['server']:.3f}, redis {cpu['redis']:.3f}, "
                    f"wrk {cpu['wrk']:.3f}  (cores busy: server {util['server']:.2f}, "
                    f"redis {util['redis']:.2f}, "
                    f"wrk {util['wrk']:.2f}){extra}\n"
                    f"    cores busy per server process: "
                    + ", ".join(f"{c:.2f}" for c in r["per_process_cores"])
                    + f"; other processes on the machine: {r['foreign_cores']:.2f} cores"
                    + f", hypervisor steal {r['stolen_cores']:.2f} cores"
                    + ("  ** DISTURBED RUN **" if r["foreign_cores"] > 0.2 else ""),
                    flush=True,
                )
                if r["profiles"]:
                    print(f"    py-spy profiles: {', '.join(str(p) for p in r['profiles'])}")
                    print("    " + summarize_profile(r["profiles"]).replace("\n", "\n    "))
    print()
    rows = []
    for scenario in scenarios:
        by = {r["kind"]: r for r in results if r["scenario"] == scenario}
        am, al = by.get("alertmanager"), by.get("alerter")
        for r in (am, al):
            if r:
                rows.append(
                    [
                        f"{scenario}: {r['kind']}",
                        f"{r['alerts_per_s']:,.0f}",
                        f"{r['p50_ms']:.1f}",
                        f"{r['p99_ms']:.1f}",
                        "",
                    ]
                )
        if am and al:
            rows.append(
                [
                    f"{scenario}: alerter/Alertmanager",
                    ratio(al["alerts_per_s"], am["alerts_per_s"]),
                    ratio(al["p50_ms"], am["p50_ms"]),
                    ratio(al["p99_ms"], am["p99_ms"]),
                    "PASS"
                    if al["alerts_per_s"] >= am["alerts_per_s"] and al["p99_ms"] < am["p99_ms"]
                    else "FAIL",
                ]
            )
    print(table(rows, ["run", "alerts/s", "p50 ms", "p99 ms", "goal >=1.0x, lower p99"]))
    print_reproduce("ingest", args)
    return 0


if __name__ == "__main__":
    run_main(main)
