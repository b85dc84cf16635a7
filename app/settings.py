"""Process settings parsed from Alertmanager-compatible flags (see app/cli.py for the parser)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field

from app.matchers import MODE_CLASSIC, MODE_FALLBACK, MODE_UTF8


def default_web_workers() -> int:
    """`--web.workers` when not given: two web processes per core this process may run on.

    A process runs Python on one core at a time (the GIL), and each request also waits for its
    Redis round trip: with one process per core the cores idle during those waits. Two per core
    with 2 threads each (the same 4 requests in flight per core as the former 1 x 4) took 20-30%
    more alerts per second on 2 cores, in every client shape; 3 per core, or 4 threads, took
    less (docs/performance.md).
    """
    return 2 * len(os.sched_getaffinity(0))


def split_address(address: str) -> tuple[str, int]:
    """A --web.listen-address as (host, port); an empty host is every interface."""
    host, _, port = address.rpartition(":")
    return (host or "0.0.0.0"), int(port)


@dataclass
class Settings:
    config_file: str = "alertmanager.yml"
    storage_path: str = "data/"
    # --web.listen-address, repeatable: every address is served (the first one names this
    # process in the cluster view and in default external URLs, as in Alertmanager).
    listen_addresses: list[str] = field(default_factory=lambda: [":9093"])
    web_systemd_socket: bool = False  # serve systemd's activated sockets instead (app.listeners)
    web_timeout: float = 0.0  # --web.timeout: 0 for none (app.weblimits)
    web_get_concurrency: int = 0  # --web.get-concurrency: 0 for max(CPUs, 8) (app.weblimits)
    external_url: str = ""
    route_prefix: str = ""
    data_retention: float = 120 * 3600.0
    gc_interval: float = 30 * 60.0
    maintenance_interval: float = 15 * 60.0  # --data.maintenance-interval
    max_silences: int = 0  # --silences.max-silences: 0 (or less) for no limit
    max_silence_size_bytes: int = 0  # --silences.max-silence-size-bytes: 0 (or less) for none
    log_silences: bool = False  # --log.silences
    per_alertname_limit: int = 0  # --alerts.per-alertname-limit: 0 (or less) for no limit
    dispatch_maintenance_interval: float = 30.0  # --dispatch.maintenance-interval
    dispatch_start_delay: float = 0.0  # --dispatch.start-delay
    log_level: str = "info"
    log_format: str = "logfmt"
    # Redis URLs may hold passwords: kept out of repr() like the environment's credentials.
    redis_url: str = field(default="", repr=False)  # empty: embedded fakeredis
    # --redis.queue-url: a plain Redis for RQ's job queue (needed with a Redis Cluster)
    redis_queue_url: str = field(default="", repr=False)
    redis_username: str = field(default="", repr=False)  # REDIS_USERNAME
    redis_password: str = field(default="", repr=False)  # REDIS_PASSWORD
    cluster_label: str = ""
    cluster_peers: list[str] = field(default_factory=list, repr=False)
    cluster_listen_address: str = "0.0.0.0:9094"
    cluster_advertise_address: str = ""
    cluster_peer_name: str = ""  # --cluster.peer-name: this process's name in the cluster view
    peers_resolve_timeout: float = 15.0  # --cluster.peers-resolve-timeout
    peer_timeout: float = 15.0
    gossip_interval: float = 0.2
    pushpull_interval: float = 60.0
    tcp_timeout: float = 10.0
    settle_timeout: float = 60.0
    probe_interval: float = 1.0
    probe_timeout: float = 0.5
    reconnect_interval: float = 10.0
    reconnect_timeout: float = 6 * 3600.0
    tls_config_file: str = ""
    redis_tls_skip_verify: bool = False  # $REDIS_TLS_SKIP_VERIFY (app/platform_env.py)
    features: frozenset[str] = frozenset()  # --enable-feature
    # (flag, why it has no effect here) for each flag given that alerter accepts only so that
    # Alertmanager's command lines start: logged once at start (app.cli.main).
    ignored_flags: tuple[tuple[str, str], ...] = ()
    serve_worker_metrics: bool = False  # `alerter worker` given an explicit --web.listen-address
    web_workers: int = field(default_factory=default_web_workers)
    web_config_file: str = ""  # --web.config.file: TLS and basic auth for every route (app.webconfig)
    web_threads: int = 2
    max_request_bytes: int = 4 * 1024 * 1024

    @property
    def listen_address(self) -> str:
        """The first --web.listen-address: Alertmanager derives its default external URL from it."""
        return self.listen_addresses[0]

    @property
    def embedded(self) -> bool:
        """Single node on an in-process fakeredis: no Redis named, or clustering disabled with
        an empty --cluster.listen-address as in Alertmanager."""
        if self.cluster_listen_address == "":
            return True
        return not self.redis_url and not self.cluster_peers

    @property
    def classic_mode(self) -> bool:
        """--enable-feature=classic-mode: label names and matchers as before UTF-8 support."""
        return "classic-mode" in self.features

    @property
    def matcher_mode(self) -> str:
        if self.classic_mode:
            return MODE_CLASSIC
        return MODE_UTF8 if "utf8-strict-mode" in self.features else MODE_FALLBACK

    @property
    def sentinel_service(self) -> str:
        return self.cluster_label or "alerter"

    @property
    def notification_external_url(self) -> str:
        """The URL notifications link back to: `--web.external-url`, or Alertmanager's default
        http://<hostname>:<port>."""
        if self.external_url:
            return self.external_url.rstrip("/")
        return f"http://{socket.gethostname()}:{self.host_port[1]}"

    @property
    def key_prefix(self) -> str:
        return self.cluster_label or "alerter"

    @property
    def host_port(self) -> tuple[str, int]:
        return split_address(self.listen_address)
