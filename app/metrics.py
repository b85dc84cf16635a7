"""Prometheus metrics under Alertmanager's names, so existing dashboards keep working."""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess

alerts_received = Counter(
    "alertmanager_alerts_received_total", "The total number of received alerts.", ["version", "status"]
)
alerts_invalid = Counter(
    "alertmanager_alerts_invalid_total", "The total number of received alerts that were invalid.", ["version"]
)
notifications = Counter(
    "alertmanager_notifications_total", "The total number of attempted notifications.", ["integration"]
)
notifications_failed = Counter(
    "alertmanager_notifications_failed_total",
    "The total number of failed notifications.",
    ["integration", "reason"],
)
notification_latency = Histogram(
    "alertmanager_notification_latency_seconds",
    "The latency of notifications in seconds.",
    ["integration"],
    buckets=(1, 5, 10, 15, 20),
)
nflog_lease_busy = Counter(
    "alerter_nflog_lease_busy_total",
    "Notifications skipped because another worker held the lease to send them.",
    ["integration"],
)
# Under gunicorn each worker process keeps its own values (multiprocess mode): a reload that
# failed in any live process shows as 0, and the newest successful reload time wins.
config_last_reload_success = Gauge(
    "alertmanager_config_last_reload_successful",
    "Whether the last configuration reload attempt was successful.",
    multiprocess_mode="livemin",
)
config_last_reload_time = Gauge(
    "alertmanager_config_last_reload_success_timestamp_seconds",
    "Timestamp of the last successful configuration reload.",
    multiprocess_mode="livemax",
)


def exposition() -> bytes:
    """The metrics of this process, or of every process of this gunicorn tier when
    PROMETHEUS_MULTIPROC_DIR is set (each worker writes its values there)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest()
