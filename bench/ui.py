"""Web UI benchmark: how long #/alerts takes to show 10,000 alerts in 1,000 groups.

    bench/ui [--alerts=10000] [--groups=1000] [--loads=5] [--servers=web,single]

For each alerter shape, freshly started on a private redis-server:

* `web`: `alerter web` (gunicorn, the default 2 processes x 4 threads), the HA deployment's
  page server; `single`: `alerter --redis.url=...`, everything in one process;
* --alerts alerts in --groups groups (grouped by alertname, group_wait 1h so that nothing is
  sent while the page is measured) are posted, and the API is checked to hold them all;
* a headless Chromium (Debian's chromium and chromium-driver, driven by selenium) opens
  `#/alerts` --loads times, each a fresh navigation (the first with an empty cache).

Prints per load: the time from navigation start until the alert list was first painted (the page's
`alerts-rendered` User Timing mark: the groups and alerts fetched, parsed and the first screens of
groups built and painted), the share of that spent fetching GET /api/v2/alerts/groups (Resource
Timing) and its size, and the page's own load time (fetch + parse + build) for the refresh that
follows. The figure for docs/performance.md is the median of the page-load times.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    Bench,
    ForeignLoad,
    Proc,
    add_run_options,
    http_get,
    load_alerts,
    machine_summary,
    print_reproduce,
    require_binaries,
    run_main,
    table,
    wait_quiet,
    write_config,
)

from tests.support.browser import LAPTOP, start_chromium
from tests.support.ports import free_port


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--alerts", type=int, default=10_000)
    p.add_argument("--groups", type=int, default=1_000)
    p.add_argument("--loads", type=int, default=5, help="page loads measured per server")
    p.add_argument("--servers", default="web,single", help="alerter shapes: web, single")
    p.add_argument("--timeout", type=float, default=120.0, help="longest wait for one page load (s)")
    add_run_options(p)
    return p.parse_args()


# What one load reports, read from the page's performance timeline once the list is painted.
_TIMINGS = """
const groups = performance.getEntriesByType("resource").find((e) => e.name.includes("/api/v2/alerts/groups"));
const load = performance.getEntriesByName("alerts-load").at(-1);
return {
  rendered: performance.getEntriesByName("alerts-rendered")[0].startTime,
  fetchStart: groups.startTime,
  fetchEnd: groups.responseEnd,
  bytes: groups.encodedBodySize,
  pageLoad: load.duration,
  groupsShown: document.querySelectorAll("#alert-groups .group").length,
  alerts: Number(document.getElementById("alerts-summary").dataset.alerts),
};
"""


def measure_loads(bench: Bench, url: str, args: argparse.Namespace) -> tuple[list[dict[str, Any]], float]:
    """The timings of each load, and the cores processes other than this benchmark's (the
    servers, chromedriver and its Chromium) kept busy meanwhile."""
    driver = start_chromium(LAPTOP)
    browser = Proc("chromedriver", driver.service.process, bench.dir / "chromedriver.log")
    bench.procs.append(browser)
    foreign = ForeignLoad(bench)
    try:
        out = []
        for n in range(args.loads):
            # A full page load each time; same origin, so the same renderer process (a renderer
            # that exits takes its CPU time out of the accounting of foreign load).
            driver.get(f"{url}/?load={n}#/alerts")
            deadline = time.monotonic() + args.timeout
            while not driver.execute_script('return performance.getEntriesByName("alerts-rendered").length'):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"#/alerts did not render within {args.timeout}s")
                time.sleep(0.05)
            got = driver.execute_script(_TIMINGS)
            if got["alerts"] != args.alerts:
                raise RuntimeError(f"the page shows {got['alerts']} alerts, not {args.alerts}")
            out.append(got)
        return out, foreign.cores()
    finally:
        bench.procs.remove(browser)
        driver.quit()


def run_one(bench: Bench, kind: str, args: argparse.Namespace) -> dict[str, Any]:
    wait_quiet(args.quiet_wait)
    config = write_config(
        bench.dir / f"config-{kind}.yml", f"http://127.0.0.1:{free_port()}/", group_wait="1h"
    )
    redis = bench.redis()
    if kind == "web":
        server = bench.alerter_web(config, redis.url, workers=2, threads=4)
    else:
        server = bench.alerter_single(config, redis.url)
    load_alerts(server.port, args.alerts, args.groups, batch=500)
    status, body = http_get(server.port, "/api/v2/alerts/groups", timeout=120)
    groups = json.loads(body) if status == 200 else []
    stored = sum(len(g["alerts"]) for g in groups)
    if (len(groups), stored) != (args.groups, args.alerts):
        raise RuntimeError(f"the API holds {stored} alerts in {len(groups)} groups (HTTP {status})")
    loads, foreign_cores = measure_loads(bench, server.url, args)
    bench.stop_all()
    return {"kind": kind, "loads": loads, "foreign": foreign_cores}


def report(result: dict[str, Any]) -> None:
    loads = result["loads"]
    rows = [
        [
            str(n + 1) + (" (cold cache)" if n == 0 else ""),
            f"{x['rendered']:,.0f}",
            f"{x['fetchEnd'] - x['fetchStart']:,.0f}",
            f"{x['bytes'] / 1e6:.1f} MB",
            f"{x['pageLoad']:,.0f}",
            str(x["groupsShown"]),
        ]
        for n, x in enumerate(loads)
    ]
    print(f"\n{result['kind']}: {loads[0]['alerts']:,} alerts")
    print(
        table(
            rows,
            [
                "load",
                "until list painted ms",
                "GET groups ms",
                "GET size",
                "fetch+parse+build ms",
                "groups built",
            ],
        )
    )
    rendered = [x["rendered"] for x in loads]
    print(
        f"median until the list is painted: {statistics.median(rendered):,.0f} ms (max {max(rendered):,.0f})"
    )
    disturbed = " ** DISTURBED RUN **" if result["foreign"] > 0.2 else ""
    print(f"foreign load during the loads: {result['foreign']:.2f} cores{disturbed}")


def main() -> int:
    args = parse_args()
    kinds = [k for k in args.servers.split(",") if k]
    unknown = sorted(set(kinds) - {"web", "single"})
    if unknown:
        sys.exit(f"--servers: unknown shape {unknown[0]} (known: web, single)")
    require_binaries(kinds, "chromium", "chromedriver")
    print(machine_summary())
    with Bench("ui", keep=args.keep) as bench:
        for kind in kinds:
            report(run_one(bench, kind, args))
    print_reproduce("ui", args)
    return 0


if __name__ == "__main__":
    run_main(main)
