"""Prometheus metrics under Alertmanager's names, so existing dashboards keep working."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import redis
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Summary,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric

alerts_received = Counter(
    "alertmanager_alerts_received_total", "The total number of received alerts.", ["version", "status"]
)
alerts_invalid = Counter(
    "alertmanager_alerts_invalid_total", "The total number of received alerts that were invalid.", ["version"]
)
# Alertmanager's semantics: a notification is one integration notified for one flush of a group
# (counted once, however many attempts it takes, and counted failed once, when it finally
# fails); a request is one attempt.
notifications = Counter(
    "alertmanager_notifications_total", "The total number of attempted notifications.", ["integration"]
)
notifications_failed = Counter(
    "alertmanager_notifications_failed_total",
    "The total number of failed notifications.",
    ["integration", "reason"],
)
notification_requests = Counter(
    "alertmanager_notification_requests_total",
    "The total number of attempted notification requests.",
    ["integration"],
)
notification_requests_failed = Counter(
    "alertmanager_notification_requests_failed_total",
    "The total number of failed notification requests.",
    ["integration"],
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


nflog_queries = Counter(
    "alertmanager_nflog_queries_total", "Number of notification log queries were received."
)
nflog_query_errors = Counter(
    "alertmanager_nflog_query_errors_total", "Number notification log received queries that failed."
)
nflog_lease_lost = Counter(
    "alerter_nflog_lease_lost_total",
    "Sends abandoned because the worker's lease expired before it could send (another worker took over).",
)
alert_processing = Summary(
    "alertmanager_dispatcher_alert_processing_duration_seconds",
    "Summary of latencies for the processing of alerts.",
)
redis_roundtrip = Gauge(
    "alerter_redis_roundtrip_seconds",
    "Round-trip time of the last Redis PING from this process.",
    multiprocess_mode="liveall",
)


class ClusterStateCollector:
    """Gauges read from the shared state at scrape time, so every instance reports the same
    cluster-wide figures: alerts and silences by state, aggregation groups, queued flush jobs,
    pending retries."""

    def __init__(self, runtime: Any) -> None:
        self.rt = runtime

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        rt = self.rt
        now = time.time()
        try:
            silences = rt.silences.all()
            alerts = [a for a in rt.store.alerts() if not a.resolved(now)]
            groups = rt.client.scard(rt.keys.groups)
            queued = len(rt.queue)
            overdue = rt.client.zcount(rt.keys.timers, "-inf", now - 1)
            retries = rt.client.zcard(rt.keys.retries)
        except redis.RedisError:
            return
        active_silences = [s for s in silences if s.state(now) == "active"]
        suppressed = sum(
            1
            for a in alerts
            if any(s.mutes(a.labels, now) for s in active_silences)
            or rt.inhibitor.inhibited_by(a.labels, now)
        )
        by_state = GaugeMetricFamily("alertmanager_alerts", "How many alerts by state.", labels=["state"])
        by_state.add_metric(["active"], len(alerts) - suppressed)
        by_state.add_metric(["suppressed"], suppressed)
        by_state.add_metric(["unprocessed"], 0)
        yield by_state
        sil = GaugeMetricFamily("alertmanager_silences", "How many silences by state.", labels=["state"])
        for state in ("active", "pending", "expired"):
            sil.add_metric([state], sum(1 for s in silences if s.state(now) == state))
        yield sil
        yield GaugeMetricFamily(
            "alertmanager_dispatcher_aggregation_groups", "Number of active aggregation groups", value=groups
        )
        yield GaugeMetricFamily(
            "alerter_queue_depth", "Flush and housekeeping jobs waiting for a worker.", value=queued
        )
        yield GaugeMetricFamily(
            "alerter_group_timers_overdue",
            "Group timers more than a second past due (workers behind).",
            value=overdue,
        )
        yield GaugeMetricFamily(
            "alerter_retries_pending",
            "Aggregation groups with a retry scheduled (a notification failed and may pass yet).",
            value=retries,
        )


def exposition(cluster: ClusterStateCollector | None = None) -> bytes:
    """The metrics of this process, or of every process of this gunicorn tier when
    PROMETHEUS_MULTIPROC_DIR is set (each worker writes its values there), plus the cluster-wide
    gauges when a collector is given."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    text = generate_latest(registry)
    if cluster is not None:
        extra = CollectorRegistry()
        extra.register(cluster)
        text += generate_latest(extra)
    return text
