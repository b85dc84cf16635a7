"""Shared plumbing for the benchmarks in bench/ (ingest, scale, notify).

Every benchmark starts its own private processes on free 127.0.0.1 ports (redis-server, the
real Alertmanager, `alerter web` under gunicorn, `alerter worker`, a webhook sink), each in its
own process group, and stops them all at the end, on failure and on Ctrl-C/SIGTERM. Nothing
here touches 127.0.0.1:6379 or anything the benchmark did not start itself. The free ports and
the private redis-server are the test suite's (tests/support/ports.py, redis_server.py).

The alerts are synthetic but Prometheus-shaped (labels, annotations, startsAt, endsAt,
generatorURL). Alert i has alertname BenchAlert<i mod groups>, so grouping by alertname gives
`groups` aggregation groups; bench/ingest.lua builds exactly the same alerts inside wrk.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

# The benchmarks run as files (bench/<name>.py), so only bench/ is on sys.path: add the checkout,
# for tests.support, which the benchmarks share with the test suite.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.ports import HOST, free_port
from tests.support.processes import ManagedProcess
from tests.support.redis_server import RedisClusterNodes, RedisServer

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PYTHON = ROOT / ".venv" / "bin" / "python"
ALERTER = ROOT / ".venv" / "bin" / "alerter"
PY_SPY = ROOT / ".venv" / "bin" / "py-spy"
ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
WRK = "/usr/bin/wrk"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

GENERATOR_URL = "http://prometheus:9090/graph?g0.expr=up%3D%3D0&g0.tab=1"


# ----------------------------------------------------------------------------- formatting


def rfc3339(ts: float) -> str:
    dt = datetime.fromtimestamp(ts, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def pct(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty sequence."""
    s = sorted(values)
    if not s:
        return float("nan")
    k = max(0, min(len(s) - 1, round(p / 100 * len(s) + 0.5) - 1))
    return s[k]


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(r: list[str]) -> str:
        cells = enumerate(zip(r, widths, strict=True))
        return "  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in cells)

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def reproduce_line(script: str, args: dict[str, Any]) -> str:
    parts = [f"bench/{script}"]
    for k, v in args.items():
        if v is None or v is False:
            continue
        flag = "--" + k.replace("_", "-")
        parts.append(flag if v is True else f"{flag}={v}")
    return f"cd {shlex.quote(str(ROOT))} && " + " ".join(shlex.quote(p) for p in parts)


# What each outside binary is for and the Debian package that brings it.
_PACKAGES = {
    ALERTMANAGER: "prometheus-alertmanager",
    WRK: "wrk",
    "redis-server": "redis-server",
    "redis-cli": "redis-tools",
    "chromium": "chromium",
    "chromedriver": "chromium-driver",
    "valgrind": "valgrind",
    "callgrind_control": "valgrind",
}


def require_binaries(servers: Iterable[str], *extra: str) -> None:
    """Stop before starting anything when a binary the run needs is missing, naming the package
    to install, instead of failing half-way with a traceback."""
    needed = ["redis-server", *extra] + ([ALERTMANAGER] if "alertmanager" in servers else [])
    missing = [b for b in needed if shutil.which(b) is None]
    if missing:
        packages = " ".join(sorted({_PACKAGES[b] for b in missing}))
        install = f"apt-get update && apt-get install -y {packages}"
        sys.exit(f"missing {', '.join(missing)}: install with `{install}`")


def machine_summary() -> str:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPUs ({cpu}), Python {sys.version.split()[0]}, load average {load} at start"


# ----------------------------------------------------------------------------- processes


class Proc:
    """A child process of the benchmark; `managed` when tests/support started it (the Redis)."""

    def __init__(
        self, name: str, popen: subprocess.Popen[bytes], log: Path, managed: ManagedProcess | None = None
    ) -> None:
        self.name, self.popen, self.log, self.managed = name, popen, log, managed

    @property
    def pid(self) -> int:
        return self.popen.pid

    def tail(self, n: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        return ""


class Bench:
    """Owns a temp dir and every child process; `with Bench("ingest") as b:` cleans up on exit,
    exceptions, Ctrl-C and SIGTERM."""

    def __init__(self, name: str, keep: bool = False) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=f"alerter-bench-{name}-"))
        self.keep = keep
        self.procs: list[Proc] = []
        self._n = 0

    def __enter__(self) -> Bench:
        def on_signal(signum: int, _frame: Any) -> None:
            raise KeyboardInterrupt(f"signal {signum}")

        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, on_signal)
        return self

    def __exit__(self, *exc: Any) -> None:
        failed = exc[0] is not None
        self.stop_all()
        if failed or self.keep:
            print(f"(logs kept in {self.dir})", file=sys.stderr)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def spawn(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None) -> Proc:
        self._n += 1
        log = self.dir / f"{self._n:02d}-{name}.log"
        fh = open(log, "wb")  # noqa: SIM115 - kept open for the child's lifetime
        full_env = {**os.environ, **(env or {})}
        popen = subprocess.Popen(
            list(argv),
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=full_env,
            cwd=ROOT,
        )
        fh.close()
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def stop(self, proc: Proc, timeout: float = 10.0) -> None:
        if proc.managed is not None:
            proc.managed.stop(timeout)  # SIGTERM, then SIGKILL to its group, as below
        else:
            if proc.popen.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.popen.wait(timeout)
            # Whatever is left in its process group (gunicorn workers) goes too.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(5)
        if proc in self.procs:
            self.procs.remove(proc)

    def stop_all(self) -> None:
        for proc in reversed(list(self.procs)):
            self.stop(proc)

    # -- the servers ------------------------------------------------------------------------

    def redis(self) -> BenchRedis:
        """A private redis-server (tests/support/redis_server.py) with its directory and log in
        the bench's; stopped with the other processes, its CPU counted as the benchmark's."""
        return self._adopt(RedisServer(extra_args=["--loglevel", "warning"], base_dir=self.dir).start())

    def redis_cluster(self, masters: int = 3) -> list[BenchRedis]:
        """A private Redis Cluster of `masters` masters, no replicas (tests/support's
        RedisClusterNodes: `redis-cli --cluster create`); its nodes are stopped with the other
        processes."""
        return [self._adopt(node) for node in RedisClusterNodes(masters=masters).start().nodes]

    def _adopt(self, server: RedisServer) -> BenchRedis:
        assert server.process is not None
        proc = Proc("redis", server.process.popen, server.process.log_path, managed=server.process)
        self.procs.append(proc)
        return BenchRedis(server, proc)

    def alertmanager(self, config: Path) -> Server:
        port = free_port()
        storage = self.dir / f"am-{port}"
        storage.mkdir()
        proc = self.spawn(
            "alertmanager",
            [
                ALERTMANAGER,
                f"--config.file={config}",
                f"--storage.path={storage}",
                f"--web.listen-address={HOST}:{port}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ],
        )
        srv = Server("alertmanager", port, proc)
        wait_for(lambda: http_get(port, "/-/ready")[0] == 200, 20, "alertmanager ready", proc)
        return srv

    def alerter_web(
        self, config: Path, redis_url: str, workers: int, threads: int, extra: Sequence[str] = ()
    ) -> Server:
        """`alerter web`: the gunicorn web tier; `extra` flags are added (--redis.queue-url)."""
        srv = self._alerter_server(
            "alerter-web",
            ["web", f"--web.workers={workers}", f"--web.threads={threads}", *extra],
            config,
            redis_url,
        )
        # Every gunicorn worker must be up, not only the first one that answered.
        wait_for(lambda: len(children(srv.proc.pid)) >= workers, 30, "gunicorn workers", srv.proc)
        return srv

    def alerter_single(self, config: Path, redis_url: str) -> Server:
        """`alerter` on Redis: web, timers and flush threads in one process, a small install's shape."""
        return self._alerter_server("alerter", [], config, redis_url)

    def _alerter_server(self, name: str, command: list[str], config: Path, redis_url: str) -> Server:
        port = free_port()
        storage = self.dir / f"alerter-{port}"
        storage.mkdir()
        proc = self.spawn(
            name,
            [
                str(ALERTER),
                *command,
                f"--config.file={config}",
                f"--redis.url={redis_url}",
                f"--web.listen-address={HOST}:{port}",
                f"--storage.path={storage}",
                "--log.level=warn",
            ],
        )
        srv = Server("alerter", port, proc)
        wait_for(lambda: http_get(port, "/-/ready")[0] == 200, 30, f"{name} ready", proc)
        return srv

    def alerter_worker(self, config: Path, redis_url: str, n: int, extra: Sequence[str] = ()) -> Proc:
        storage = self.dir / f"alerter-worker-{n}-{self._n}"
        storage.mkdir()
        return self.spawn(
            f"alerter-worker-{n}",
            [
                str(ALERTER),
                "worker",
                f"--config.file={config}",
                f"--redis.url={redis_url}",
                f"--storage.path={storage}",
                "--log.level=warn",
                *extra,
            ],
        )


def wait_for(pred: Callable[[], Any], timeout: float, what: str, proc: Proc | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.popen.poll() is not None:
            raise RuntimeError(f"{what}: {proc.name} exited with {proc.popen.returncode}:\n{proc.tail()}")
        with contextlib.suppress(OSError, http.client.HTTPException, ConnectionError):
            if pred():
                return
        time.sleep(0.1)
    tail = f":\n{proc.tail()}" if proc else ""
    raise RuntimeError(f"timed out waiting for {what}{tail}")


class Server:
    def __init__(self, kind: str, port: int, proc: Proc) -> None:
        self.kind, self.port, self.proc = kind, port, proc

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def pids(self) -> list[int]:
        return [self.proc.pid, *children(self.proc.pid)]


class BenchRedis:
    """What a benchmark uses of its Redis: the URL, one client (no timeouts), INFO, the process."""

    def __init__(self, server: RedisServer, proc: Proc) -> None:
        self.server, self.proc = server, proc
        self.port, self.url = server.port, server.url
        self.client = server.client(socket_timeout=None, socket_connect_timeout=None)

    def info(self, section: str | None = None) -> dict[str, Any]:
        return self.client.info(section) if section else self.client.info()


# ----------------------------------------------------------------------------- /proc accounting


def children(pid: int) -> list[int]:
    """All descendants of pid (gunicorn's workers)."""
    by_parent: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        by_parent[ppid].append(int(entry))
    out, todo = [], [pid]
    while todo:
        for c in by_parent.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _proc_kb_field(path: str, field: str) -> int:
    """The `field: N kB` line of a /proc file, in bytes (0 when the process is gone)."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def rss(pid: int) -> int:
    """Resident set size in bytes (VmRSS)."""
    return _proc_kb_field(f"/proc/{pid}/status", "VmRSS:")


def pss(pid: int) -> int:
    """Proportional set size in bytes: pages shared by forked workers counted once overall."""
    return _proc_kb_field(f"/proc/{pid}/smaps_rollup", "Pss:")


def cpu_seconds(pids: Iterable[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime
    return total


def system_busy_seconds() -> float:
    """CPU seconds the whole machine spent running processes since boot (all cores, /proc/stat)."""
    # user + nice + system only: interrupt and softirq time (our own loopback traffic) is not
    # charged to any process, so counting it would make every network-heavy run look disturbed.
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (fields[0] + fields[1] + fields[2]) / CLK_TCK


def stolen_seconds() -> float:
    """CPU seconds the hypervisor gave to other guests while this VM wanted them, since boot
    (all cores, /proc/stat's steal). On a shared VM this moves from run to run and takes the
    time from whatever runs: a run with much of it is slower for reasons outside both servers."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return fields[7] / CLK_TCK


def own_cpu_seconds(bench: Bench) -> float:
    """CPU seconds of this benchmark: this process, finished children, and live children."""
    import resource

    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    live = [pid for p in bench.procs for pid in (p.pid, *children(p.pid))]
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime + cpu_seconds(live)


class ForeignLoad:
    """How many cores processes this benchmark did not start kept busy over an interval (other
    people's test runs on a shared machine): a run with a high figure is disturbed."""

    def __init__(self, bench: Bench) -> None:
        self.bench = bench
        self.t0 = time.monotonic()
        self.sys0 = system_busy_seconds()
        self.own0 = own_cpu_seconds(bench)
        self.steal0 = stolen_seconds()

    def cores(self) -> float:
        elapsed = time.monotonic() - self.t0
        foreign = (system_busy_seconds() - self.sys0) - (own_cpu_seconds(self.bench) - self.own0)
        return max(0.0, foreign / elapsed) if elapsed > 0 else 0.0

    def stolen(self) -> float:
        """Cores the hypervisor took away over the interval (`stolen_seconds`)."""
        elapsed = time.monotonic() - self.t0
        return max(0.0, (stolen_seconds() - self.steal0) / elapsed) if elapsed > 0 else 0.0


def wait_quiet(max_wait: float, threshold: float = 0.25) -> float:
    """Before a run: wait (up to max_wait s) until the machine is nearly idle, since every core
    counts on a 2-core machine. Returns the cores found busy at the last check."""
    deadline = time.monotonic() + max_wait
    said = 0.0
    while True:
        b0, t0 = system_busy_seconds(), time.monotonic()
        time.sleep(2.0)
        busy = (system_busy_seconds() - b0) / (time.monotonic() - t0)
        if busy < threshold or time.monotonic() >= deadline:
            if busy >= threshold:
                print(f"   (machine still busy: {busy:.2f} cores used by others; running anyway)", flush=True)
            return busy
        if time.monotonic() - said > 30:
            print(f"   (waiting for the machine to quieten: {busy:.2f} cores busy elsewhere)", flush=True)
            said = time.monotonic()


# ----------------------------------------------------------------------------- HTTP


def http_get(port: int, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def write_config(
    path: Path, webhook_url: str, group_wait: str, group_interval: str = "1h", repeat_interval: str = "24h"
) -> Path:
    """One route grouping by alertname, one webhook receiver; valid for both servers."""
    path.write_text(
        f"""route:
  receiver: bench
  group_by: [alertname]
  group_wait: {group_wait}
  group_interval: {group_interval}
  repeat_interval: {repeat_interval}
receivers:
  - name: bench
    webhook_configs:
      - url: {webhook_url}
        send_resolved: false
"""
    )
    return path


def make_alert(
    i: int,
    groups: int,
    starts: str | None,
    ends: str | None,
    prefix: str = "host",
    name: str = "BenchAlert",
    width: int = 4,
) -> dict[str, Any]:
    """Alert number i: the same shape and values bench/ingest.lua generates. A time given as
    None is left out, as senders other than Prometheus often do (the server fills it in)."""
    alert: dict[str, Any] = {
        "labels": {
            "alertname": f"{name}{i % groups:0{width}d}",
            "instance": f"{prefix}-{i:06d}:9100",
            "job": "node",
            "severity": "warning",
        },
        "annotations": {
            "summary": f"Bench alert {i}",
            "description": "synthetic load for the alerter benchmarks",
        },
    }
    if starts is not None:
        alert["startsAt"] = starts
    if ends is not None:
        alert["endsAt"] = ends
    alert["generatorURL"] = GENERATOR_URL
    return alert


def post_batches(
    port: int,
    batches: list[list[dict[str, Any]]],
    connections: int = 4,
    on_send: Callable[[int, float], None] | None = None,
) -> float:
    """POST every batch to /api/v2/alerts over `connections` keep-alive connections; returns
    the elapsed seconds. `on_send(batch_index, time)` is called right before each request."""
    import orjson

    bodies = [orjson.dumps(b) for b in batches]
    lock = threading.Lock()
    nxt = iter(range(len(bodies)))
    errors: list[str] = []

    def run() -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=120)
        while True:
            with lock:
                idx = next(nxt, None)
            if idx is None or errors:
                break
            if on_send:
                on_send(idx, time.time())
            conn.request(
                "POST", "/api/v2/alerts", body=bodies[idx], headers={"Content-Type": "application/json"}
            )
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200:
                errors.append(f"HTTP {resp.status}: {body[:200]!r}")
        conn.close()

    started = time.monotonic()
    threads = [threading.Thread(target=run) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"posting alerts failed: {errors[0]}")
    return time.monotonic() - started


def load_alerts(
    port: int,
    n: int,
    groups: int,
    batch: int = 64,
    connections: int = 4,
    starts: str | None = None,
    ends: str | None = None,
    timestamps: bool = True,
) -> float:
    """Post alerts 0..n-1 (make_alert) in batches; without `timestamps` they carry neither
    startsAt nor endsAt. Returns the elapsed seconds."""
    now = time.time()
    if timestamps:
        starts = starts or rfc3339(now - 60)
        ends = ends or rfc3339(now + 3600)
    else:
        starts = ends = None
    alerts = [make_alert(i, groups, starts, ends) for i in range(n)]
    batches = [alerts[i : i + batch] for i in range(0, n, batch)]
    return post_batches(port, batches, connections)


# ----------------------------------------------------------------------------- profiling


class Profiler:
    """py-spy record (non-blocking sampling, raw collapsed stacks) of a few processes."""

    def __init__(self, bench: Bench, out_dir: Path | None) -> None:
        self.bench = bench
        self.out_dir = out_dir
        self.runs: list[tuple[Proc, Path]] = []
        if out_dir is not None and not PY_SPY.exists():
            install = ".venv/bin/pip install -e '.[bench]'"
            sys.exit(f"--profile needs py-spy in {PY_SPY.parent}: install it with `{install}`")

    @property
    def enabled(self) -> bool:
        return self.out_dir is not None

    def start(self, label: str, pids: list[int], seconds: float) -> None:
        if not self.enabled:
            return
        assert self.out_dir is not None
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for pid in pids:
            out = self.out_dir / f"{label}-{pid}.txt"
            proc = self.bench.spawn(
                f"py-spy-{pid}",
                [
                    str(PY_SPY),
                    "record",
                    "--gil",
                    "--nonblocking",
                    "--format",
                    "raw",
                    "--rate",
                    "200",
                    "-d",
                    str(int(seconds)),
                    "-p",
                    str(pid),
                    "-o",
                    str(out),
                ],
            )
            self.runs.append((proc, out))

    def finish(self, early: bool = False) -> list[Path]:
        """Wait for the recordings (or, with early=True, end them now: py-spy writes its file on
        SIGINT) and return the files written."""
        done = []
        for proc, out in self.runs:
            if early and proc.popen.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGINT)
            try:
                proc.popen.wait(30)
            except subprocess.TimeoutExpired:
                self.bench.stop(proc)
            if out.exists():
                done.append(out)
        self.runs.clear()
        return done


def _frame_name(frame: str) -> str:
    # py-spy raw frames look like "put (app/store.py:160)"; drop the line number.
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    path = where.rsplit(":", 1)[0]
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})"


def summarize_profile(files: list[Path], top: int = 15) -> str:
    """Top functions by own samples and by inclusive samples, over several raw py-spy files."""
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for f in files:
        for line in f.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            n = int(count)
            frames = [_frame_name(x) for x in stack.split(";")[1:]]  # first item is the thread
            if not frames:
                continue
            total += n
            own[frames[-1]] += n
            for fr in set(frames):
                incl[fr] += n
    if not total:
        return "(no samples)"
    lines = [f"{total} samples of the thread holding the GIL (py-spy --gil)", "", "own time:"]
    lines += [f"  {100 * c / total:5.1f}%  {name}" for name, c in own.most_common(top)]
    lines += ["", "inclusive time:"]
    lines += [f"  {100 * c / total:5.1f}%  {name}" for name, c in incl.most_common(top + 10)]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- webhook sink


# What the sink records of each notification: [arrival time, group (alertname), alerts, the
# status answered (0: the sender hung up before a held answer came)].
SinkRecord = list[Any]


class _SinkProtocol(asyncio.Protocol):
    """Minimal HTTP/1.1 keep-alive server: records POSTs, answers GET /count and GET /dump.

    GET /outage?mode=fail&until=EPOCH makes it answer 500 until then; mode=hang holds every
    answer until then (a receiver that does not answer), then answers 200.
    """

    def __init__(self, records: list[SinkRecord], stats: dict[str, int], outage: dict[str, Any]) -> None:
        self.records, self.stats, self.outage = records, stats, outage
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.stats["connections"] += 1

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            head_end = self.buf.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buf[:head_end].decode("latin-1")
            lines = head.split("\r\n")
            method, path = lines[0].split(" ")[:2]
            length = 0
            for h in lines[1:]:
                k, _, v = h.partition(":")
                if k.strip().lower() == "content-length":
                    length = int(v.strip())
                elif k.strip().lower() == "transfer-encoding":
                    self.stats["chunked"] += 1
            if len(self.buf) < head_end + 4 + length:
                return
            body = self.buf[head_end + 4 : head_end + 4 + length]
            self.buf = self.buf[head_end + 4 + length :]
            self._handle(method, path, body)

    def _reply(self, status: str, body: bytes = b"") -> None:
        assert self.transport is not None
        head = f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\nContent-Type: application/json\r\n\r\n"
        self.transport.write(head.encode() + body)

    def _handle(self, method: str, path: str, body: bytes) -> None:
        if method == "GET" and path == "/count":
            self._reply("200 OK", json.dumps({"count": len(self.records), **self.stats}).encode())
            return
        if method == "GET" and path == "/dump":
            self._reply("200 OK", json.dumps(self.records).encode())
            return
        if method == "GET" and path.startswith("/outage?"):
            query = parse_qs(path.partition("?")[2])
            self.outage.update(mode=query["mode"][0], until=float(query["until"][0]))
            self._reply("200 OK")
            return
        now = time.time()
        try:
            import orjson

            doc = orjson.loads(body)
            group = doc.get("groupLabels", {}).get("alertname", "?")
            n = len(doc.get("alerts", []))
        except Exception:  # a malformed notification is counted, not fatal
            group, n = "?", 0
            self.stats["bad"] += 1
        record: SinkRecord = [now, group, n, 200]
        self.records.append(record)
        if now < self.outage["until"] and self.outage["mode"] == "fail":
            record[3] = 500
            self._reply("500 Internal Server Error")
        elif now < self.outage["until"] and self.outage["mode"] == "hang":
            record[3] = 0
            asyncio.get_running_loop().call_later(self.outage["until"] - now, self._answer_held, record)
        else:
            self._reply("200 OK")

    def _answer_held(self, record: SinkRecord) -> None:
        if self.transport is None or self.transport.is_closing():
            return  # the sender timed out and hung up: not delivered
        record[3] = 200
        self._reply("200 OK")


def run_sink(port: int) -> None:
    records: list[SinkRecord] = []
    stats = {"connections": 0, "chunked": 0, "bad": 0}
    outage: dict[str, Any] = {"mode": "", "until": 0.0}

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: _SinkProtocol(records, stats, outage), HOST, port, backlog=1024
        )
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def start_sink(bench: Bench) -> Server:
    port = free_port()
    proc = bench.spawn("webhook-sink", [str(PYTHON), str(BENCH / "common.py"), "sink", str(port)])
    srv = Server("sink", port, proc)
    wait_for(lambda: http_get(port, "/count")[0] == 200, 10, "webhook sink", proc)
    return srv


def sink_count(sink: Server) -> dict[str, int]:
    return json.loads(http_get(sink.port, "/count")[1])


def sink_dump(sink: Server) -> list[tuple[float, str, int, int]]:
    """Every notification the sink got: (arrival time, group, alerts, status answered)."""
    return [tuple(r) for r in json.loads(http_get(sink.port, "/dump", timeout=60)[1])]  # type: ignore[misc]


def sink_outage(sink: Server, mode: str, until: float) -> None:
    """Make the sink fail (answer 500) or hang (hold its answers) until `until` (epoch)."""
    status, body = http_get(sink.port, f"/outage?mode={mode}&until={until!r}")
    if status != 200:
        raise RuntimeError(f"the sink refused the outage: {status} {body[:200]!r}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["sink"]:
        run_sink(int(sys.argv[2]))


def add_run_options(p: argparse.ArgumentParser) -> None:
    """--quiet-wait and --keep, which every benchmark on real servers takes (last, in this order)."""
    p.add_argument(
        "--quiet-wait", type=int, default=300, help="wait up to this long for an idle machine before each run"
    )
    p.add_argument("--keep", action="store_true", help="keep the temp dir with logs and configs")


def print_reproduce(name: str, args: argparse.Namespace) -> None:
    """The command line that reproduces this run (every option spelled out, --keep left out)."""
    shown = vars(args).copy()
    shown.pop("keep")
    print("\nreproduce: " + reproduce_line(name, shown))


def run_main(main: Callable[[], int]) -> None:
    """Run a benchmark's main; on Ctrl-C say that its processes were stopped (by their finalizers)."""
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted: every process this benchmark started was stopped", file=sys.stderr)
        sys.exit(130)
