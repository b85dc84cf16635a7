"""Prometheus metrics under Alertmanager's names, so existing dashboards keep working."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
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

from app.config.integrations import INTEGRATIONS

alerts_received = Counter(
    "alertmanager_alerts_received_total", "The total number of received alerts.", ["version", "status"]
)
alerts_invalid = Counter(
    "alertmanager_alerts_invalid_total", "The total number of received alerts that were invalid.", ["version"]
)


def _notification_metrics(labels: list[str]) -> tuple[Counter, Counter, Counter, Counter, Histogram]:
    """Alertmanager's notification metrics, labelled by `labels` (and the failures by reason)."""
    return (
        Counter("alertmanager_notifications_total", "The total number of attempted notifications.", labels),
        Counter(
            "alertmanager_notifications_failed_total",
            "The total number of failed notifications.",
            [*labels, "reason"],
        ),
        Counter(
            "alertmanager_notification_requests_total",
            "The total number of attempted notification requests.",
            labels,
        ),
        Counter(
            "alertmanager_notification_requests_failed_total",
            "The total number of failed notification requests.",
            labels,
        ),
        Histogram(
            "alertmanager_notification_latency_seconds",
            "The latency of notifications in seconds.",
            labels,
            buckets=(1, 5, 10, 15, 20),
        ),
    )


(
    notifications,
    notifications_failed,
    notification_requests,
    notification_requests_failed,
    notification_latency,
) = _notification_metrics(["integration"])
_by_receiver = False


def label_by_receiver() -> None:
    """--enable-feature=receiver-name-in-metrics: the notification metrics get a receiver_name
    label after integration, as in Alertmanager. Called once at start, before anything is
    counted: prometheus_client fixes a metric's labels when it is made, so they are made again."""
    global notifications, notifications_failed, notification_requests, notification_requests_failed
    global notification_latency, _by_receiver
    if _by_receiver:
        return
    for metric in (
        notifications,
        notifications_failed,
        notification_requests,
        notification_requests_failed,
        notification_latency,
    ):
        REGISTRY.unregister(metric)
    (
        notifications,
        notifications_failed,
        notification_requests,
        notification_requests_failed,
        notification_latency,
    ) = _notification_metrics(["integration", "receiver_name"])
    _by_receiver = True


def integration_labels(integration: str, receiver: str) -> tuple[str, ...]:
    """The label values of the notification metrics for one integration of one receiver (the
    failures counter takes the reason after them). The notification pipeline labels through
    this, so that it needs to know nothing of receiver-name-in-metrics."""
    return (integration, receiver) if _by_receiver else (integration,)


# Alertmanager's `reason` values of alertmanager_notifications_failed_total.
FAILURE_REASONS = (
    "other",
    "clientError",
    "serverError",
    "contextCanceled",
    "contextDeadlineExceeded",
    "authError",
    "rateLimited",
)
# Every integration alertmanager.yml can name, by its `integration` label value.
INTEGRATION_NAMES = ("email", "webhook", *(key.removesuffix("_configs") for key in INTEGRATIONS))


def preset_notification_series(receivers: Mapping[str, Iterable[str]]) -> None:
    """Create the notification series at 0, as Alertmanager does, so that dashboards and rate()
    see a series before the first notification, and a failure shows as a change from 0: every
    integration it knows (configured or not), or with receiver names each integration of each
    receiver in `receivers` (name -> its integrations' names), at start and at every reload."""
    if _by_receiver:
        pairs = [
            (integration, name) for name, integrations in receivers.items() for integration in integrations
        ]
    else:
        pairs = [(integration, "") for integration in INTEGRATION_NAMES]
    for integration, receiver in pairs:
        labels = integration_labels(integration, receiver)
        notifications.labels(*labels)
        notification_requests.labels(*labels)
        notification_requests_failed.labels(*labels)
        notification_latency.labels(*labels)
        for reason in FAILURE_REASONS:
            notifications_failed.labels(*labels, reason)


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
# --alerts.per-alertname-limit (app.store), as Alertmanager's alert provider.
alerts_per_alert_limit = Gauge(
    "alertmanager_alerts_per_alert_limit",
    "Current limit on number of alerts per alert name",
    multiprocess_mode="livemax",
)
_alerts_limited: dict[bool, Counter] = {}


def alerts_limited(by_alertname: bool) -> Counter:
    """alertmanager_alerts_limited_total, by alertname with --enable-feature=alert-names-in-metrics.

    Its labels depend on a flag, so it is made at its first use in a process (one shape per
    process); Alertmanager too shows no series before the first alert is dropped.
    """
    if by_alertname not in _alerts_limited:
        _alerts_limited[by_alertname] = Counter(
            "alertmanager_alerts_limited_total",
            "Total number of alerts that were dropped due to per alert name limit",
            ["alertname"] if by_alertname else [],
        )
    return _alerts_limited[by_alertname]


# --web.get-concurrency (app.weblimits), as Alertmanager's API: only GET requests are limited.
http_requests_in_flight = Gauge(
    "alertmanager_http_requests_in_flight",
    "Current number of HTTP requests being processed.",
    ["method"],
    multiprocess_mode="livesum",
)
http_concurrency_limit_exceeded = Counter(
    "alertmanager_http_concurrency_limit_exceeded_total",
    "Total number of times an HTTP request failed because the concurrency limit was reached.",
    ["method"],
)
redis_roundtrip = Gauge(
    "alerter_redis_roundtrip_seconds",
    "Round-trip time of the last Redis PING from this process.",
    multiprocess_mode="liveall",
)


class ClusterStateCollector:
    """Gauges read from the shared state at scrape time, so every instance reports the same
    cluster-wide figures: alerts and silences by state, aggregation groups, queued flush jobs."""

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
            by_group = "group-key-in-metrics" in rt.settings.features
            group_states = rt.store.load_groups(rt.store.group_ids()) if by_group else []
        except redis.RedisError:
            return
        active_silences = [s for s in silences if s.state(now) == "active"]

        def muted(alert: Any) -> bool:
            return any(s.mutes(alert.labels, now) for s in active_silences) or bool(
                rt.inhibitor.inhibited_by(alert.labels, now)
            )

        if by_group:
            yield _alerts_by_group(group_states, now, muted)
        else:
            suppressed = sum(1 for a in alerts if muted(a))
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


def _alerts_by_group(groups: Iterable[Any], now: float, muted: Callable[[Any], bool]) -> Metric:
    """--enable-feature=group-key-in-metrics: alertmanager_alerts per aggregation group, its
    unresolved alerts by state, as Alertmanager counts them then (an alert in two groups counts
    in each)."""
    family = GaugeMetricFamily(
        "alertmanager_alerts", "How many alerts by state.", labels=["state", "group_key"]
    )
    for group in groups:
        firing = [a for a in group.alerts if not a.resolved(now)]
        suppressed = sum(1 for a in firing if muted(a))
        family.add_metric(["active", group.key], len(firing) - suppressed)
        family.add_metric(["suppressed", group.key], suppressed)
        family.add_metric(["unprocessed", group.key], 0)
    return family


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
