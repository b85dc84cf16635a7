"""Process entry points: the all-in-one process, the gunicorn web tier and the RQ worker."""

from __future__ import annotations

import itertools
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from gunicorn import glogging
from gunicorn.app.base import BaseApplication
from prometheus_client import multiprocess, start_http_server
from rq import SimpleWorker
from werkzeug.serving import make_server

from app import backend, rqcompat
from app.jobs import QUEUE_NAME, bind_runtime
from app.runtime import Runtime
from app.settings import Settings
from app.snapshot import ConfigSnapshot, reload_snapshot
from app.timers import TimerLoop
from app.web import create_app, reload_all_gunicorn_workers

log = logging.getLogger(__name__)


# How long an idle RQ worker blocks waiting for a job (RQ derives it from worker_ttl - 15). Its
# connection's read timeout is longer (backend.connect's blocking_wait), so waiting for work is
# never mistaken for a lost Redis, which RQ would answer with growing back-off sleeps.
DEQUEUE_WAIT = 30

# How long a stopping process waits for the sends it has running (Docker's own stop timeout is
# 10 s): what was sent is then logged too. A send still running after that may be sent again
# by another worker once its lease expires, as after a kill.
DRAIN_TIMEOUT = 8.0


def _timer_loop(rt: Runtime) -> TimerLoop:
    return TimerLoop(
        rt.client,
        rt.keys,
        rt.retries,
        rt.enqueue_flushes,
        rt.enqueue_housekeeping,
        inflight_ttl=rt.settings.peer_timeout,
        sweep_interval=rt.settings.pushpull_interval,
    )


class WorkerLoop:
    """Runs RQ's work loop, and runs it again with a fresh worker when it ends because Redis went
    away (RQ's loop returns then, and would refuse to re-register a name it still thinks alive).
    Stops on our event, or on SIGTERM/SIGINT, which RQ's own handlers record."""

    def __init__(self, make_worker: Callable[[], SimpleWorker], stop: threading.Event) -> None:
        self.make_worker = make_worker
        self.stop = stop
        self.worker: SimpleWorker | None = None  # built in run(), retried while Redis is away

    def busy(self) -> bool:
        try:
            return self.worker is not None and self.worker.get_state() == "busy"
        except redis.RedisError:
            return False

    def run(self) -> None:
        backoff = 0.5
        while not self.stop.is_set():
            if self.worker is None:
                try:
                    # RQ's worker talks to Redis as it is built (CLIENT SETNAME): during an
                    # outage or a failover that fails too, and the loop tries again later.
                    self.worker = self.make_worker()
                except redis.RedisError as err:
                    log.warning("cannot register an RQ worker yet (%s); retrying in %.1fs", err, backoff)
                    if self.stop.wait(backoff):
                        return
                    backoff = min(backoff * 2, 5.0)
                    continue
            try:
                self.worker.work(logging_level="WARNING")
            except redis.RedisError as err:
                log.warning("worker lost Redis (%s)", err)
            if rqcompat.stop_requested(self.worker) or self.stop.wait(backoff):
                return
            log.warning("RQ work loop ended (Redis unreachable?); restarting it in %.1fs", backoff)
            backoff = min(backoff * 2, 5.0)
            self.worker = None


def run_all_in_one(settings: Settings) -> int:
    """Web, timers and workers in one process; the state is snapshotted under --storage.path in
    embedded mode (no Redis named)."""
    client = backend.connect(settings)
    if settings.embedded:
        backend.load_snapshot(client, settings)
    rt = Runtime(settings, client)
    bind_runtime(rt)
    rt.join_cluster("all")
    stop = threading.Event()
    timers = _timer_loop(rt)
    timers.start()
    worker_client = client if settings.embedded else backend.connect(settings, blocking_wait=DEQUEUE_WAIT)
    loops = [
        WorkerLoop(
            lambda: rqcompat.ThreadWorker(
                [QUEUE_NAME], connection=worker_client, worker_ttl=DEQUEUE_WAIT + 15
            ),
            stop,
        )
        for _ in range(2)
    ]
    for n, loop in enumerate(loops):
        threading.Thread(target=loop.run, daemon=True, name=f"rq-worker-{n}").start()
    host, port = settings.host_port
    server = make_server(host, port, create_app(rt), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True, name="http").start()
    log.info(
        "listening", extra={"fields": {"address": settings.listen_address, "embedded": settings.embedded}}
    )

    signal.signal(signal.SIGHUP, lambda *_: threading.Thread(target=rt.reload).start())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    log.info("shutting down")
    rt.notifier.stopping.set()
    server.shutdown()
    timers.stop()
    # Let the flush jobs in progress hand their sends over and the sends running finish, so
    # that what was sent is also logged before the snapshot.
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while any(loop.busy() for loop in loops) and time.monotonic() < deadline:
        time.sleep(0.05)
    _drain(rt, deadline - time.monotonic())
    if settings.embedded:
        saved = backend.save_snapshot(rt.client, rt.keys, settings)
        log.info("state saved", extra={"fields": {"path": settings.storage_path, "keys": saved}})
    if rt.membership is not None:
        rt.membership.stop()
    return 0


def _drain(rt: Runtime, timeout: float) -> None:
    """Stop the sends of this process: those not started are given back to the cluster (their
    groups' retries), those running get up to `timeout` seconds to finish and be logged."""
    if not rt.notifier.drain(max(0.0, timeout)):
        log.warning(
            "sends still running at shutdown; another worker may send them again once their leases expire",
            extra={"fields": {"waited_s": round(max(0.0, timeout), 1)}},
        )


class _StructuredGunicornLogger(glogging.Logger):
    """gunicorn's own messages go through alerter's structured handler (--log.format) rather
    than gunicorn's text format; per-request access lines are off, as in Alertmanager."""

    def setup(self, cfg: Any) -> None:
        self.cfg = cfg
        self.error_log.setLevel(logging.INFO)
        self.error_log.propagate = True

    def access(self, *args: Any, **kwargs: Any) -> None:
        pass


def _forget_worker_metrics(_server: Any, worker: Any) -> None:
    """A gunicorn worker exited: its live gauges must stop counting in /metrics."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)


# Every this many requests a web process answers with `Connection: close`. Prometheus (and
# wrk) keep a few connections open for good, and each stays with the process that accepted it,
# so one process can end up with most of the load. A closed connection is reopened at once and
# accepted by whichever process is idle first, so the busy one sheds load.
REBALANCE_EVERY = 64
_requests_served = itertools.count(1)


def _rebalance_connections(_worker: Any, req: Any) -> None:
    """gunicorn pre_request hook: close the connection after every REBALANCE_EVERY-th request
    this process serves (gunicorn then answers with `Connection: close`)."""
    if next(_requests_served) % REBALANCE_EVERY == 0:
        req.must_close = True


class _Gunicorn(BaseApplication):
    """gunicorn driven from code. The master loads and validates the config (at start and on
    every SIGHUP, keeping the old one when the file is bad); each worker builds its own Runtime
    after the fork (Redis connections must not cross a fork) from the master's config, so a
    worker that boots while the file on disk is broken still serves the config in effect."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.snapshot: ConfigSnapshot | None = None
        super().__init__()

    def load_config(self) -> None:
        if self.snapshot is None:
            self.snapshot = ConfigSnapshot.load(self.settings)  # a bad config stops the start
        else:
            self.snapshot = reload_snapshot(self.settings)[0] or self.snapshot
        host, port = self.settings.host_port
        options: dict[str, Any] = {
            "bind": f"{host}:{port}",
            "workers": self.settings.web_workers,
            "threads": self.settings.web_threads,
            # gunicorn's own rule: threads only with more than one. The sync worker skips the
            # gthread poller's hand-offs (docs/performance.md compares the two).
            "worker_class": "sync" if self.settings.web_threads == 1 else "gthread",
            "keepalive": 75,
            "graceful_timeout": 10,
            "logger_class": _StructuredGunicornLogger,
            "child_exit": _forget_worker_metrics,
            "pre_request": _rebalance_connections,
            "control_socket_disable": True,
            "proc_name": "alerter-web",
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        rt = Runtime(self.settings, snapshot=self.snapshot)
        rt.join_cluster("web")
        return create_app(rt, on_reload=lambda: reload_all_gunicorn_workers(rt))


def run_web(settings: Settings) -> int:
    _Gunicorn(settings).run()
    return 0


def run_worker(settings: Settings) -> int:
    """An RQ worker (jobs run in this process, no fork per job) plus this process's timer loop."""
    rt = Runtime(settings)
    bind_runtime(rt)
    rt.join_cluster("worker")
    if settings.serve_worker_metrics:
        # Notification counters live in the workers: they serve /metrics like any Alertmanager.
        host, port = settings.host_port
        start_http_server(port, addr=host)
        log.info("serving worker metrics", extra={"fields": {"address": settings.listen_address}})
    timers = _timer_loop(rt)
    timers.start()

    worker_client = backend.connect(settings, blocking_wait=DEQUEUE_WAIT)

    def make_worker() -> SimpleWorker:
        return rqcompat.StoppingWorker(
            [QUEUE_NAME],
            connection=worker_client,
            worker_ttl=DEQUEUE_WAIT + 15,
            on_stop=rt.notifier.stopping.set,
        )

    loop = WorkerLoop(make_worker, threading.Event())
    signal.signal(signal.SIGHUP, lambda *_: threading.Thread(target=rt.reload).start())
    loop.run()
    timers.stop()
    _drain(rt, DRAIN_TIMEOUT)
    if rt.membership is not None:
        rt.membership.stop()
    return 0
