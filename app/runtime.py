"""One process's view of alerter: settings, the loaded config, Redis and the domain objects.

The web tier, the workers and the embedded all-in-one process each build one Runtime; RQ jobs
find it through `workers.context`.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any

import redis
from rq import Queue

from app import backend, metrics, templates
from app.alerts import Alert
from app.cluster import Membership, config_hash
from app.config import Config, ConfigError, Route, load_config_file
from app.dispatcher import Dispatcher
from app.inhibit import Inhibitor
from app.nflog import NotificationLog
from app.notify import Pipeline
from app.redis_keys import Keys
from app.settings import Settings
from app.silence import SilenceStore
from app.store import AlertStore, GroupState
from app.templates import TemplateLoadError
from app.timeinterval import any_contains

log = logging.getLogger(__name__)

QUEUE_NAME = "alerter"
# A flush job carries up to FLUSH_BATCH of the groups one timer claim found due: RQ's own cost
# per job is paid once per batch (20 -> 50 took one worker from 1,361 to about 1,900
# notifications/s in bench/notify). A batch's sends run one after another, so a slow receiver
# delays the rest of its batch, as it delays the rest of a worker's queue anyway.
FLUSH_BATCH = 50


def load_validated(settings: Settings) -> Config:
    """Load --config.file and the template files it names, and record the success in the
    reload metrics; raises ConfigError or TemplateLoadError (callers decide what that means)."""
    config = load_config_file(settings.config_file, matcher_mode=settings.matcher_mode)
    templates.load(config.templates)
    metrics.config_last_reload_success.set(1)
    metrics.config_last_reload_time.set(time.time())
    return config


def reload_validated(settings: Settings) -> tuple[Config | None, str | None]:
    """Reload for SIGHUP and /-/reload: (new config, None), or (None, error) with the error
    logged and counted, so that the caller keeps its previous config."""
    try:
        new = load_validated(settings)
    except (ConfigError, TemplateLoadError, OSError) as err:
        metrics.config_last_reload_success.set(0)
        log.error(
            "loading the configuration file failed; the previous configuration stays in effect",
            extra={"fields": {"file": settings.config_file, "err": str(err)}},
        )
        return None, str(err)
    log.info("completed loading of configuration file", extra={"fields": {"file": settings.config_file}})
    return new, None


class Runtime:
    def __init__(
        self, settings: Settings, client: redis.Redis | None = None, config: Config | None = None
    ) -> None:
        self.settings = settings
        self.client = client if client is not None else backend.connect(settings)
        self.keys = Keys(settings.key_prefix)
        self._config = config if config is not None else load_validated(settings)
        metrics.config_last_reload_success.set(1)
        metrics.config_last_reload_time.set(time.time())
        self._reload_lock = threading.Lock()
        self.store = AlertStore(self.client, self.keys)
        self.nflog = NotificationLog(self.client, self.keys, settings.data_retention)
        self.pipeline = Pipeline(self.nflog, lease_ttl=settings.peer_timeout)
        self.silences = SilenceStore(self.client, self.keys, settings.data_retention)
        self.inhibitor = Inhibitor(lambda: self._config.inhibit_rules, self.store.alerts)
        self.dispatcher = Dispatcher(
            self.store,
            lambda: self._config,
            self.pipeline,
            mute_stages=[self._drop_inhibited, self._drop_outside_time_intervals, self._drop_silenced],
        )
        self.queue = Queue(QUEUE_NAME, connection=self.client)
        self.started_at = time.time()
        self.membership: Membership | None = None

    def join_cluster(self, role: str) -> None:
        """Publish this process's heartbeat (not in embedded mode: no cluster there)."""
        if self.settings.embedded:
            return
        address = self.settings.cluster_advertise_address
        if not address and role != "worker":
            host, port = self.settings.host_port
            address = f"{socket.gethostname() if host in ('', '0.0.0.0', '::') else host}:{port}"
        self.membership = Membership(
            self.client,
            self.keys,
            role=role,
            address=address,
            config_hash=lambda: config_hash(self._config.original),
            interval=self.settings.gossip_interval,
            timeout=self.settings.peer_timeout,
        )
        self.membership.start()

    def _drop_inhibited(
        self, alerts: list[Alert], group: GroupState, route: Route, now: float
    ) -> list[Alert]:
        """Inhibition stage: alerts muted by a firing source alert are neither sent nor logged."""
        return [a for a in alerts if not self.inhibitor.inhibited_by(a.labels, now)]

    def _drop_outside_time_intervals(
        self, alerts: list[Alert], group: GroupState, route: Route, now: float
    ) -> list[Alert]:
        """Time stages: outside every active interval, or inside a mute interval, send nothing."""
        named = self._config.time_intervals
        if route.active_time_intervals and not any(
            any_contains(named[n], now) for n in route.active_time_intervals
        ):
            return []
        if any(any_contains(named[n], now) for n in route.mute_time_intervals):
            return []
        return alerts

    def _drop_silenced(self, alerts: list[Alert], group: GroupState, route: Route, now: float) -> list[Alert]:
        """Silence stage of the pipeline: silenced alerts are neither sent nor logged."""
        silences = self.silences.all(max_age=self.settings.gossip_interval)
        active = [s for s in silences if s.state(now) == "active"]
        if not active:
            return alerts
        return [a for a in alerts if not any(s.mutes(a.labels, now) for s in active)]

    @property
    def config(self) -> Config:
        return self._config

    def reload(self) -> str | None:
        """Load the config file again; keep the old config and return the error if it is bad."""
        with self._reload_lock:
            new, err = reload_validated(self.settings)
            if new is not None:
                self._config = new
            return err

    @property
    def external_url(self) -> str:
        """`--web.external-url`, or Alertmanager's default http://<hostname>:<port>."""
        if self.settings.external_url:
            return self.settings.external_url.rstrip("/")
        return f"http://{socket.gethostname()}:{self.settings.host_port[1]}"

    def _enqueue(self, func: str, args: tuple[Any, ...], description: str, pipeline: Any = None) -> None:
        # result_ttl=0: a finished job leaves nothing behind; failed ones stay an hour to inspect.
        self.queue.enqueue_call(
            func,
            args=args,
            result_ttl=0,
            failure_ttl=3600,
            timeout=3600,
            description=description,
            pipeline=pipeline,
        )

    def enqueue_flushes(self, gids: list[str]) -> None:
        """Queue flush jobs for these groups in one pipelined round trip.

        Batches keep RQ's per-job cost off each notification while still spreading a burst of
        due groups over every worker.
        """
        with self.client.pipeline() as pipe:
            for i in range(0, len(gids), FLUSH_BATCH):
                batch = gids[i : i + FLUSH_BATCH]
                self._enqueue("workers.flush.flush_groups", (batch,), f"flush {len(batch)} groups", pipe)
            pipe.execute()

    def enqueue_housekeeping(self) -> None:
        self._enqueue("workers.housekeeping.sweep", (), "housekeeping sweep")
