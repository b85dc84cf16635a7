"""Process settings parsed from Alertmanager-compatible flags (see app/cli.py for the parser)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Settings:
    config_file: str = "alertmanager.yml"
    storage_path: str = "data/"
    listen_address: str = ":9093"
    external_url: str = ""
    route_prefix: str = ""
    data_retention: float = 120 * 3600.0
    gc_interval: float = 30 * 60.0
    log_level: str = "info"
    log_format: str = "logfmt"
    redis_url: str = ""  # empty: embedded fakeredis
    cluster_label: str = ""
    cluster_peers: list[str] = field(default_factory=list)
    cluster_listen_address: str = "0.0.0.0:9094"
    cluster_advertise_address: str = ""
    peer_timeout: float = 15.0
    gossip_interval: float = 0.2
    pushpull_interval: float = 60.0
    tcp_timeout: float = 10.0
    settle_timeout: float = 60.0
    classic_mode: bool = False  # --enable-feature=classic-mode: pre-UTF-8 label names
    web_workers: int = 2
    web_threads: int = 4
    max_request_bytes: int = 4 * 1024 * 1024

    @property
    def embedded(self) -> bool:
        """No Redis named: run single-node on an in-process fakeredis."""
        return not self.redis_url

    @property
    def key_prefix(self) -> str:
        return self.cluster_label or "alerter"

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.listen_address.rpartition(":")
        return (host or "0.0.0.0"), int(port)
