"""One process's view of alerter: settings, the config snapshot in effect, Redis and the domain
objects wired together.

The web tier, the workers and the embedded all-in-one process each build one Runtime; RQ jobs
find their process's Runtime through `app.jobs.bound_runtime`. Domain logic lives with its
concept (the mute stages with silences, inhibition and time intervals; delivery in `app.notify`);
this module only builds and connects.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import redis
from redis.cluster import RedisCluster
from rq import Queue

from app import backend, jobs, metrics
from app.cluster import Membership, config_hash
from app.config import Config
from app.dispatcher import Dispatcher
from app.durability import ClusterReplicaAcks, ReplicaAcks, Writer
from app.inhibit import Inhibitor
from app.nflog import NotificationLog
from app.notify.pipeline import Notifier
from app.redis_keys import Keys
from app.retries import RetrySchedule
from app.settings import Settings
from app.silence import SilenceStage, SilenceStore
from app.silencelimits import SilenceLimits
from app.snapshot import ConfigSnapshot, reload_snapshot
from app.store import AlertStore
from app.timeinterval import TimeIntervalStage

# A flush job carries up to FLUSH_BATCH of the groups one timer claim found due, so that RQ's own
# cost per job is paid once per batch (docs/performance.md has the measurements behind the size:
# 2 workers sent 10,000 first notifications at 2,979/s with 50, 3,751/s with 100, 4,459/s with
# 200). A burst is still spread over the workers: a claim takes up to 500 groups.
FLUSH_BATCH = 200


def _integrations_by_receiver(config: Config) -> dict[str, list[str]]:
    """Each receiver's integration names, for the notification series made at start and reload."""
    return {
        name: [integration for integration, _, _ in r.integrations()] for name, r in config.receivers.items()
    }


class Runtime:
    def __init__(
        self,
        settings: Settings,
        client: redis.Redis | None = None,
        snapshot: ConfigSnapshot | None = None,
        writer: Writer | None = None,
    ) -> None:
        """`writer` makes silence and notification-log writes durable: the embedded process
        passes its write-ahead log; on Redis the default waits for a replica's acknowledgement
        (app/durability.py)."""
        self.settings = settings
        self.client = client if client is not None else backend.connect(settings)
        self.writer = writer if writer is not None else self._default_writer()
        self.keys = Keys(settings.key_prefix, cluster=isinstance(self.client, RedisCluster))
        if snapshot is None:
            snapshot = ConfigSnapshot.load(settings)  # which records itself in the metrics
        else:
            metrics.config_applied(snapshot.config)  # loaded by gunicorn's master, applied here
        self.snapshot = snapshot
        if "receiver-name-in-metrics" in settings.features:
            metrics.label_by_receiver()
        metrics.preset_notification_series(_integrations_by_receiver(self.snapshot.config))
        self._reload_lock = threading.Lock()
        self.store = AlertStore(
            self.client,
            self.keys,
            settings.per_alertname_limit,
            alertname_in_metrics="alert-names-in-metrics" in settings.features,
        )
        metrics.alerts_per_alert_limit.set(settings.per_alertname_limit)
        self.nflog = NotificationLog(self.client, self.keys, settings.data_retention, self.writer)
        self.notifier = Notifier(self.nflog, lease_ttl=settings.peer_timeout)
        self.retries = RetrySchedule(self.client, self.keys)
        self.silences = SilenceStore(
            self.client,
            self.keys,
            settings.data_retention,
            self.writer,
            SilenceLimits(settings.max_silences, settings.max_silence_size_bytes, settings.log_silences),
        )
        self.inhibitor = Inhibitor(lambda: self.snapshot.config.inhibit_rules, self.store.alerts)
        self.dispatcher = Dispatcher(
            self.store,
            lambda: self.snapshot,
            self.notifier,
            self.retries,
            mute_stages=[
                self.inhibitor.mute_stage,
                TimeIntervalStage(lambda: self.snapshot.config.time_intervals, self.store.set_muted),
                SilenceStage(self.silences, max_age=settings.gossip_interval),
            ],
        )
        # RQ's keys: on the state's Redis, or --redis.queue-url's (a must beside a Redis Cluster).
        queue_client = backend.connect_queue(settings) if settings.redis_queue_url else self.client
        self.queue = Queue(jobs.QUEUE_NAME, connection=queue_client)
        self.started_at = time.time()
        self.membership: Membership | None = None

    def _default_writer(self) -> Writer:
        """Embedded without a write-ahead log (tests, in-process benchmarks): nothing to wait for."""
        if self.settings.embedded:
            return Writer()
        if isinstance(self.client, RedisCluster):
            return ClusterReplicaAcks(self.client, timeout=self.settings.probe_timeout)
        return ReplicaAcks(self.client, timeout=self.settings.probe_timeout)

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
            config_hash=lambda: config_hash(self.snapshot.config.original),
            interval=self.settings.gossip_interval,
            timeout=self.settings.peer_timeout,
            forget_after=self.settings.reconnect_timeout,
            name=self.settings.cluster_peer_name,
        )
        self.membership.start()

    @property
    def config(self) -> Config:
        return self.snapshot.config

    def reload(self) -> str | None:
        """Load the config file again; keep the old snapshot and return the error if it is bad."""
        with self._reload_lock:
            new, err = reload_snapshot(self.settings)
            if new is not None:
                self.snapshot = new
                metrics.preset_notification_series(_integrations_by_receiver(new.config))
            return err

    @property
    def external_url(self) -> str:
        """`--web.external-url`, or Alertmanager's default http://<hostname>:<port>."""
        return self.settings.notification_external_url

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

    def enqueue_flushes(self, gids: list[str], retry: bool = False) -> None:
        """Queue flush jobs for these groups (their retries, with `retry`) in one pipelined
        round trip.

        Batches keep RQ's per-job cost off each notification while still spreading a burst of
        due groups over every worker.
        """
        what = "retry" if retry else "flush"
        with self.queue.connection.pipeline() as pipe:
            for i in range(0, len(gids), FLUSH_BATCH):
                batch = gids[i : i + FLUSH_BATCH]
                self._enqueue(jobs.FLUSH_GROUPS, (batch, retry), f"{what} {len(batch)} groups", pipe)
            pipe.execute()

    def enqueue_housekeeping(self) -> None:
        self._enqueue(jobs.HOUSEKEEPING_SWEEP, (), "housekeeping sweep")
