"""Process entry points: the all-in-one process, the gunicorn web tier and the RQ worker."""

from __future__ import annotations

import itertools
import logging
import math
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from gunicorn import glogging
from gunicorn.app.base import BaseApplication
from prometheus_client import make_wsgi_app, multiprocess
from rq import SimpleWorker
from werkzeug.serving import BaseWSGIServer

from app import backend, history, metrics, rqcompat
from app.gcpause import collect_young_less_often, freeze_startup_objects
from app.httpmetrics import HTTPMetrics
from app.jobs import QUEUE_NAME, bind_runtime
from app.listeners import wsgi_servers
from app.runtime import Runtime
from app.settings import Settings, split_address
from app.snapshot import ConfigSnapshot, reload_snapshot
from app.startdelay import StartDelay
from app.timers import TimerLoop
from app.web import create_app, reload_all_gunicorn_workers
from app.webconfig import ServerTLS, WebConfig, WebConfigError, WebGuard, read_web_config
from app.weblimits import RequestLimits
from app.webworker import KeepServingWorker

log = logging.getLogger(__name__)


# How long an idle RQ worker blocks waiting for a job (RQ derives it from worker_ttl - 15). Its
# connection's read timeout is longer (backend.connect's blocking_wait), so waiting for work is
# never mistaken for a lost Redis, which RQ would answer with growing back-off sleeps.
DEQUEUE_WAIT = 30

# How long a stopping process waits for the sends it has running (Docker's own stop timeout is
# 10 s): what was sent is then logged too. A send still running after that may be sent again
# by another worker once its lease expires, as after a kill.
DRAIN_TIMEOUT = 8.0


def _web_config(settings: Settings) -> WebConfig | None:
    """--web.config.file, checked in full before anything listens, its certificate loaded too, as
    the toolkit's Validate does: a bad file stops the start, naming itself."""
    if not settings.web_config_file:
        return None
    config = read_web_config(settings.web_config_file)
    if config.tls.enabled:
        try:
            ServerTLS(config.tls)
        except WebConfigError as err:
            raise WebConfigError(f"--web.config.file {config.path}: {err}") from None
    return config


def _server_tls(web_config: WebConfig | None, http2_served: bool) -> ServerTLS | None:
    """The listener's TLS when the web configuration asks for it, kept current by a watcher.

    HTTP/2 is served only by `alerter web` with threads (gunicorn's gthread worker); elsewhere a
    file asking for it (the toolkit's default) gets one warning, and clients use HTTP/1.1.
    """
    if web_config is None or not web_config.tls.enabled:
        return None
    if web_config.http2 and not http2_served:
        log.warning(
            "http_server_config.http2 is true but this process serves HTTP/1.1 only (HTTP/2 is "
            "served by `alerter web` with --web.threads above 1); set http2: false to say so",
            extra={"fields": {"file": web_config.path}},
        )
    tls = ServerTLS(web_config.tls, http2=web_config.http2 and http2_served)
    tls.watch()
    return tls


def _serve_wsgi(
    settings: Settings, app: Any, web_config: WebConfig | None, name: str
) -> list[BaseWSGIServer]:
    """Serve `app` on every --web.listen-address (or systemd's sockets) from daemon threads,
    with the web configuration's TLS."""
    tls = _server_tls(web_config, http2_served=False)
    servers = wsgi_servers(
        settings.listen_addresses, settings.web_systemd_socket, app, tls.context if tls else None
    )
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True, name=name).start()
        address = server.server_address
        where = address if isinstance(address, str) else f"{address[0]}:{address[1]}"
        log.info("listening", extra={"fields": {"address": where, "tls": tls is not None, "serves": name}})
    return servers


def _timer_loop(rt: Runtime) -> TimerLoop:
    """This process's timer loop. The sweep is queued as often as its most frequent task asks
    (workers/housekeeping.py runs each task at its own interval)."""
    s = rt.settings
    delay = StartDelay(rt.client, rt.keys, s.dispatch_start_delay, rt.started_at)
    return TimerLoop(
        rt.client,
        rt.keys,
        rt.retries,
        rt.enqueue_flushes,
        rt.enqueue_housekeeping,
        inflight_ttl=s.peer_timeout,
        sweep_interval=min(
            s.pushpull_interval, s.dispatch_maintenance_interval, s.maintenance_interval, s.gc_interval
        ),
        hold=delay.holds if s.dispatch_start_delay > 0 else None,
        backlog=lambda: rt.queue.count,
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


def _block_sighup() -> None:
    """The first step of a process that reloads on SIGHUP: see _reload_on_sighup."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})


def _reload_on_sighup(rt: Runtime) -> None:
    """Reload the config on every SIGHUP, from a thread of its own that waits for the signal.

    A Python signal handler runs only when the main thread next runs Python code, and the main
    thread here sits in RQ's blocking dequeue for up to DEQUEUE_WAIT seconds; a handler installed
    after the process starts serving would also leave a window in which SIGHUP's default action
    ends the process. So SIGHUP is blocked (_block_sighup) first thing, before any other thread
    starts (threads inherit the mask: none of them ever takes it, and one arriving during the
    start waits), and one thread takes each SIGHUP with sigwait, at once."""

    def wait_and_reload() -> None:
        while True:
            signal.sigwait({signal.SIGHUP})
            try:
                rt.reload()
            except Exception:  # this thread must outlive a failed reload: it takes every SIGHUP
                log.exception("reload on SIGHUP failed; the previous config stays in effect")

    threading.Thread(target=wait_and_reload, daemon=True, name="sighup-reload").start()


def run_all_in_one(settings: Settings) -> int:
    """Web, timers and workers in one process; the state is snapshotted under --storage.path in
    embedded mode (no Redis named)."""
    _block_sighup()
    freeze_startup_objects()
    web_config = _web_config(settings)
    client = backend.connect(settings)
    writer = backend.restore_state(client, settings) if settings.embedded else None
    rt = Runtime(settings, client, writer=writer)
    bind_runtime(rt)
    _reload_on_sighup(rt)
    rt.join_cluster("all")
    stop = threading.Event()
    timers = _timer_loop(rt)
    timers.start()
    worker_client = (
        client if settings.embedded else backend.connect_queue(settings, blocking_wait=DEQUEUE_WAIT)
    )
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
    servers = _serve_wsgi(settings, create_app(rt, web_config=web_config), web_config, "http")

    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    log.info("shutting down")
    rt.notifier.stopping.set()
    for server in servers:
        server.shutdown()
    timers.stop()
    # Let the flush jobs in progress hand their sends over and the sends running finish, so
    # that what was sent is also logged before the snapshot.
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while any(loop.busy() for loop in loops) and time.monotonic() < deadline:
        time.sleep(0.05)
    _drain(rt, deadline - time.monotonic())
    if settings.embedded:
        history.flush()
        saved = backend.save_snapshot(rt.client, rt.keys, settings, rt.writer)
        log.info("state saved", extra={"fields": {"path": settings.storage_path, "keys": len(saved)}})
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


def _freeze_worker_startup(_worker: Any) -> None:
    """gunicorn post_worker_init hook: a web worker's start-up objects (modules, its Runtime and
    Flask app) are left out of its later full collections (app.gcpause). Each full collection
    walked them all, about 6 % of a worker's CPU per request (bench/inprocess --what=ingest
    --resend --notimes: 0.718 ms per request, 0.640-0.672 ms frozen). Frozen after the app is
    built, unlike `alerter worker`: a web worker keeps its config for life, as a reload
    restarts every worker (app.web.reload_all_gunicorn_workers)."""
    freeze_startup_objects()


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
        self.web_config = _web_config(settings)
        self.runtime: Runtime | None = None  # a worker's, once load() built it after the fork
        super().__init__()

    def load_config(self) -> None:
        if self.snapshot is None:
            self.snapshot = ConfigSnapshot.load(self.settings)  # a bad config stops the start
        else:
            self.snapshot = reload_snapshot(self.settings)[0] or self.snapshot
        options: dict[str, Any] = {
            # With --web.systemd-socket gunicorn's master adopts systemd's sockets itself
            # (app.listeners) and binds none of these.
            "bind": [":".join(map(str, split_address(a))) for a in self.settings.listen_addresses],
            "workers": self.settings.web_workers,
            "threads": self.settings.web_threads,
            # gunicorn's own rule: threads only with more than one. The threaded worker is
            # gthread without its hand-offs between requests of a busy connection (app/webworker).
            "worker_class": "sync" if self.settings.web_threads == 1 else KeepServingWorker,
            "keepalive": 75,
            "graceful_timeout": 10,
            # gunicorn's sync worker is restarted when a request outlasts `timeout`: never
            # before --web.timeout has answered it.
            "timeout": max(30, math.ceil(self.settings.web_timeout) + 10),
            "logger_class": _StructuredGunicornLogger,
            "child_exit": _forget_worker_metrics,
            "worker_exit": self._leave_cluster,
            "pre_request": _rebalance_connections,
            "post_worker_init": _freeze_worker_startup,
            "control_socket_disable": True,
            "proc_name": "alerter-web",
            **self._tls_options(),
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def _tls_options(self) -> dict[str, Any]:
        """gunicorn's TLS settings for the web configuration: its certificate files (gunicorn
        serves TLS when certfile is set) and a context hook. gunicorn asks the hook for every
        connection it accepts, so the hook checks for a rotated certificate each time, as the
        toolkit re-reads it for every handshake; one ServerTLS per worker process."""
        wc = self.web_config
        if wc is None or not wc.tls.enabled:
            return {}
        gthread = self.settings.web_threads > 1
        http2 = wc.http2 and gthread
        if wc.http2 and not gthread:
            _server_tls(wc, http2_served=False)  # logs the HTTP/1.1-only warning once
        per_process: dict[int, ServerTLS] = {}

        def context(_conf: Any, _default: Any) -> Any:
            tls = per_process.get(os.getpid())
            if tls is None:
                tls = per_process[os.getpid()] = ServerTLS(wc.tls, http2=http2)
            else:
                tls.reload_if_changed()
            return tls.context

        files = ServerTLS(wc.tls)  # gunicorn wants certificate files to turn TLS on
        return {
            "certfile": files.cert_file,
            "keyfile": files.key_file,
            "ssl_context": context,
            "http_protocols": "h2,h1" if http2 else "h1",
        }

    def load(self) -> Any:
        rt = Runtime(self.settings, snapshot=self.snapshot)
        rt.join_cluster("web")
        self.runtime = rt
        app = create_app(
            rt,
            on_reload=lambda: reload_all_gunicorn_workers(rt),
            web_config=self.web_config,
            process_metrics=metrics.WebTierProcessCollector(os.getppid()),  # our parent: the master
        )
        # Flask's __call__ only calls its wsgi_app (our middleware): gunicorn calls that itself.
        return app.wsgi_app

    def _leave_cluster(self, _server: Any, _worker: Any) -> None:
        """gunicorn worker_exit hook: a web instance stopping leaves the cluster at once, as a
        worker does, instead of showing as a failed peer until --cluster.reconnect-timeout. Its
        other workers, still running, write the heartbeat again at their next beat."""
        if self.runtime is not None and self.runtime.membership is not None:
            self.runtime.membership.stop()


def run_web(settings: Settings) -> int:
    _Gunicorn(settings).run()
    return 0


def _worker_handlers(environ: dict[str, Any]) -> str | None:
    """A worker's one route, for its HTTP metrics."""
    return "/metrics" if environ.get("PATH_INFO") == "/metrics" else None


def run_worker(settings: Settings) -> int:
    """An RQ worker (jobs run in this process, no fork per job) plus this process's timer loop."""
    _block_sighup()
    freeze_startup_objects()
    collect_young_less_often()
    web_config = _web_config(settings)
    rt = Runtime(settings)
    bind_runtime(rt)
    _reload_on_sighup(rt)
    rt.join_cluster("worker")
    if settings.serve_worker_metrics:
        # Notification counters live in the workers: they serve /metrics like any Alertmanager,
        # behind the same web configuration as the web tier.
        metrics_app = HTTPMetrics(
            RequestLimits(make_wsgi_app(), settings.web_timeout, settings.web_get_concurrency),
            _worker_handlers,
        )
        _serve_wsgi(
            settings, WebGuard(metrics_app, web_config) if web_config else metrics_app, web_config, "metrics"
        )
    timers = _timer_loop(rt)
    timers.start()

    worker_client = backend.connect_queue(settings, blocking_wait=DEQUEUE_WAIT)

    def make_worker() -> SimpleWorker:
        return rqcompat.StoppingWorker(
            [QUEUE_NAME],
            connection=worker_client,
            worker_ttl=DEQUEUE_WAIT + 15,
            on_stop=rt.notifier.stopping.set,
        )

    loop = WorkerLoop(make_worker, threading.Event())
    loop.run()
    timers.stop()
    _drain(rt, DRAIN_TIMEOUT)
    if rt.membership is not None:
        rt.membership.stop()
    return 0
