"""Prometheus metrics under Alertmanager's names, so existing dashboards keep working."""

from __future__ import annotations

import bisect
import functools
import hashlib
import os
import platform
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Summary,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from app import version_info
from app.config import Config
from app.config.integrations import INTEGRATIONS
from app.route import walk

# Alertmanager's client exposes no `_created` series beside its counters, histograms and
# summaries; prometheus_client would add one for each in this process's exposition.
disable_created_metrics()

alerts_received = Counter(
    "alertmanager_alerts_received_total", "The total number of received alerts.", ["version", "status"]
)
alerts_invalid = Counter(
    "alertmanager_alerts_invalid_total", "The total number of received alerts that were invalid.", ["version"]
)
# As Alertmanager's API creates them: at 0 before the first alert arrives.
alerts_received.labels("v2", "firing")
alerts_received.labels("v2", "resolved")
alerts_invalid.labels("v2")


# Alertmanager's semantics: a notification is one integration notified for one flush of a group
# (counted once, however many attempts it takes, and counted failed once, when it finally
# fails); a request is one attempt.
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
    _series.clear()


def integration_labels(integration: str, receiver: str) -> tuple[str, ...]:
    """The label values of the notification metrics for one integration of one receiver (the
    failures counter takes the reason after them). The notification pipeline labels through
    this, so that it needs to know nothing of receiver-name-in-metrics."""
    return (integration, receiver) if _by_receiver else (integration,)


@dataclass(frozen=True, slots=True, eq=False)
class IntegrationSeries:
    """One integration's series of the notification metrics (per receiver with
    receiver-name-in-metrics), looked up once: `.labels()` costs a lock and a few tuple
    operations, and a notification used to pay four of them (3-4 % of a worker's CPU).
    `labels` are the label values, which the failures counter takes with a reason after them.
    Compared and hashed by identity: one per series, a cheap dict key."""

    labels: tuple[str, ...]
    notifications: Counter
    requests: Counter
    requests_failed: Counter
    latency: Histogram

    def requests_succeeded(self, latencies: Sequence[float]) -> None:
        """Count successful requests that took `latencies` seconds, in one step.

        A batch of sends is counted as it is logged (app/notify/pipeline.py): one by one, the
        request counter's inc() and the latency histogram's observe() cost 16,000 instructions
        a notification, 5,100 in batches of 12 sends (callgrind, the timing included), of the
        520,000 a notification costs a worker in all (bench/inprocess --what=notify).
        alertmanager_notification_requests_total therefore counts a successful request once it
        has ended, not as it starts (failed ones are counted as they fail): a scrape never sees
        it short by more than the sends under way and their commit batch.
        """
        self.requests.inc(len(latencies))
        observe_many(self.latency, latencies)


def observe_many(histogram: Histogram, amounts: Sequence[float]) -> None:
    """`histogram.observe(amount)` for each of `amounts` (a labelled child), with one lock for
    the sum and one for each bucket reached rather than two per observation.

    prometheus_client has no call for this, so it adds to the child's own values as observe()
    does: the count in the first bucket whose upper bound is at least the amount (cumulated at
    collection), the amount to the sum. tests/unit/test_metrics.py checks the exposition against
    observe()'s, and fails if a prometheus_client release stores them otherwise."""
    if not amounts:
        return
    bounds = histogram._upper_bounds
    counts: dict[int, int] = {}
    for amount in amounts:
        i = bisect.bisect_left(bounds, amount)
        counts[i] = counts.get(i, 0) + 1
    histogram._sum.inc(sum(amounts))
    for i, count in counts.items():
        histogram._buckets[i].inc(count)


# (integration, receiver) -> its series. The children stay those prometheus_client holds (no
# series is ever removed); only label_by_receiver makes new metrics, and it empties this.
_series: dict[tuple[str, str], IntegrationSeries] = {}


def integration_series(integration: str, receiver: str) -> IntegrationSeries:
    """The notification metrics' series for one integration of one receiver."""
    series = _series.get((integration, receiver))
    if series is None:
        labels = integration_labels(integration, receiver)
        series = _series[(integration, receiver)] = IntegrationSeries(
            labels,
            notifications.labels(*labels),
            notification_requests.labels(*labels),
            notification_requests_failed.labels(*labels),
            notification_latency.labels(*labels),
        )
    return series


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
# failed in any live process shows as 0, and the newest successful reload time wins; what the
# config holds (its hash, receivers, ...) is that of the config a process applied last.
@functools.cache
def config_last_reload_success() -> Gauge:
    """alertmanager_config_last_reload_successful, made when a process first loads its config.

    Made at import like the others, it would be 0 in a process's multiprocess file from the
    start, and `livemin` would show a failed reload while a web worker that gunicorn has just
    forked is still loading its config (a scrape during a start or a worker's restart read 0
    once in tests/e2e/test_metrics.py)."""
    return Gauge(
        "alertmanager_config_last_reload_successful",
        "Whether the last configuration reload attempt was successful.",
        multiprocess_mode="livemin",
    )


config_last_reload_time = Gauge(
    "alertmanager_config_last_reload_success_timestamp_seconds",
    "Timestamp of the last successful configuration reload.",
    multiprocess_mode="livemax",
)
config_hash = Gauge(
    "alertmanager_config_hash",
    "Hash of the currently loaded alertmanager configuration. Note that this is not a "
    "cryptographically strong hash.",
    multiprocess_mode="livemostrecent",
)
configured_receivers = Gauge(
    "alertmanager_receivers", "Number of configured receivers.", multiprocess_mode="livemostrecent"
)
configured_integrations = Gauge(
    "alertmanager_integrations", "Number of configured integrations.", multiprocess_mode="livemostrecent"
)
configured_inhibition_rules = Gauge(
    "alertmanager_inhibition_rules",
    "Number of configured inhibition rules.",
    multiprocess_mode="livemostrecent",
)


def hash_as_metric_value(original: str) -> float:
    """Alertmanager's value of alertmanager_config_hash: the first 48 bits of the MD5 of the file
    as loaded, read little-endian (a float64 holds them exactly). The same file gives the same
    value on alerter and on Alertmanager, so processes agree exactly when their files do."""
    return float(int.from_bytes(hashlib.md5(original.encode()).digest()[:6], "little"))


def config_applied(config: Config) -> None:
    """Record a configuration this process now runs on, as Alertmanager does after a reload:
    success, its time and hash, and how many receivers (those a route uses), integrations (of
    those receivers) and inhibition rules it has."""
    used = {route.receiver for route in walk(config.route)}
    receivers = [r for name, r in config.receivers.items() if name in used]
    config_last_reload_success().set(1)
    config_last_reload_time.set(time.time())
    config_hash.set(hash_as_metric_value(config.original))
    configured_receivers.set(len(receivers))
    configured_integrations.set(sum(len(r.integrations()) for r in receivers))
    configured_inhibition_rules.set(len(config.inhibit_rules))


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
replica_ack_timeouts = Counter(
    "alerter_replica_ack_timeouts_total",
    "Silence and notification-log writes acknowledged although no Redis replica confirmed them "
    "within --cluster.probe-timeout (WAIT timed out).",
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


# --web.get-concurrency (app.weblimits), as Alertmanager's API: only GET requests are limited,
# and only they are counted in flight.
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

# Go's prometheus.DefBuckets, which Alertmanager's duration histograms use (prometheus_client's
# default has three more).
GO_DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Go's names for the machine, as Alertmanager's goarch label has them.
_GOARCH = {"x86_64": "amd64", "aarch64": "arm64", "i686": "386", "armv7l": "arm"}

build_info = Gauge(
    "alertmanager_build_info",
    "A metric with a constant '1' value labeled by version, revision, branch, goversion from which "
    "alertmanager was built, and the goos and goarch for the build.",
    ["version", "revision", "branch", "goversion", "goos", "goarch", "tags"],
    multiprocess_mode="max",
)
_build = version_info()
build_info.labels(
    _build["version"],
    _build["revision"],
    _build["branch"],
    _build["goVersion"],
    platform.system().lower(),
    _GOARCH.get(platform.machine(), platform.machine()),
    "",
).set(1)

# Alertmanager's reasons of alertmanager_notifications_suppressed_total, one per mute stage.
SUPPRESSED_BY_SILENCE = "silence"
SUPPRESSED_BY_INHIBITION = "inhibition"
SUPPRESSED_BY_MUTE_TIME_INTERVAL = "mute_time_interval"
SUPPRESSED_BY_ACTIVE_TIME_INTERVAL = "active_time_interval"
notifications_suppressed = Counter(
    "alertmanager_notifications_suppressed_total",
    "The total number of notifications suppressed for being silenced, inhibited, outside of active "
    "time intervals or within muted time intervals.",
    ["reason"],
)
for _reason in (
    SUPPRESSED_BY_SILENCE,
    SUPPRESSED_BY_INHIBITION,
    SUPPRESSED_BY_MUTE_TIME_INTERVAL,
    SUPPRESSED_BY_ACTIVE_TIME_INTERVAL,
):
    notifications_suppressed.labels(_reason)

# The cluster as each process sees it in the heartbeats of P:peers (app/cluster.py). The
# gunicorn workers of one web instance are one peer and see the same table: the highest value
# of a live process stands for the instance.
cluster_enabled = Gauge(
    "alertmanager_cluster_enabled",
    "Indicates whether the clustering is enabled or not.",
    multiprocess_mode="livemax",
)
# Registered only by a process that joins the cluster (expose_cluster_series), as Alertmanager
# registers them only with clustering on: members at 0 on a single embedded node would fire the
# mixin's AlertmanagerMembersInconsistent.
cluster_members = Gauge(
    "alertmanager_cluster_members",
    "Number indicating current number of members in cluster.",
    multiprocess_mode="livemax",
    registry=None,
)
cluster_failed_peers = Gauge(
    "alertmanager_cluster_failed_peers",
    "Number indicating the current number of failed peers in the cluster.",
    multiprocess_mode="livemax",
    registry=None,
)
cluster_health_score = Gauge(
    "alertmanager_cluster_health_score",
    "Health score of the cluster. Lower values are better and zero means 'totally healthy'.",
    multiprocess_mode="livemax",
    registry=None,
)
cluster_peer_info = Gauge(
    "alertmanager_cluster_peer_info",
    "A metric with a constant '1' value labeled by peer name.",
    ["peer"],
    multiprocess_mode="livemax",
    registry=None,
)
cluster_config_mismatch = Gauge(
    "alerter_cluster_config_mismatch_peers",
    "Live peers whose loaded configuration differs from this process's.",
    multiprocess_mode="livemax",
    registry=None,
)


def expose_cluster_series(peer: str) -> None:
    """This process has joined the cluster as `peer`: serve the cluster series."""
    cluster_enabled.set(1)
    cluster_peer_info.labels(peer).set(1)
    for gauge in (
        cluster_members,
        cluster_failed_peers,
        cluster_health_score,
        cluster_peer_info,
        cluster_config_mismatch,
    ):
        with suppress(ValueError):  # registered already (another Membership of this process)
            REGISTRY.register(gauge)


# Alertmanager's HTTP series (app/httpmetrics.py): every request a route answers, the ingest
# fast path included; under gunicorn the instance's workers add up.
http_request_duration = Histogram(
    "alertmanager_http_request_duration_seconds",
    "Histogram of latencies for HTTP requests.",
    ["handler", "method", "code"],
    buckets=GO_DEFAULT_BUCKETS,
)
http_response_size = Histogram(
    "alertmanager_http_response_size_bytes",
    "Histogram of response size for HTTP requests.",
    ["handler", "method"],
    buckets=tuple(100.0 * 10**i for i in range(7)),
)


@dataclass(frozen=True)
class StateMaintenance:
    """Alertmanager's maintenance series of one of its two states, the notification log and the
    silences. alerter's maintenance of both is the housekeeping sweep (workers/housekeeping.py):
    their garbage collection, then in embedded mode the snapshot under --storage.path, which
    holds both (each state's size is its part of the file). On Redis, alerter writes no snapshot
    (Redis persists the state): the snapshot series stay at 0, as Alertmanager's do without a
    snapshot file."""

    gc_duration: Summary
    snapshot_duration: Summary
    snapshot_size: Gauge
    runs: Counter
    errors: Counter


def _state_maintenance(prefix: str, noun: str, owner: str) -> StateMaintenance:
    return StateMaintenance(
        gc_duration=Summary(
            f"{prefix}_gc_duration_seconds", f"Duration of the last {noun} garbage collection cycle."
        ),
        snapshot_duration=Summary(
            f"{prefix}_snapshot_duration_seconds", f"Duration of the last {noun} snapshot."
        ),
        snapshot_size=Gauge(
            f"{prefix}_snapshot_size_bytes",
            f"Size of the last {noun} snapshot in bytes.",
            multiprocess_mode="livemax",
        ),
        runs=Counter(f"{prefix}_maintenance_total", f"How many maintenances were executed for {owner}."),
        errors=Counter(
            f"{prefix}_maintenance_errors_total",
            f"How many maintenances were executed for {owner} that failed.",
        ),
    )


NFLOG_MAINTENANCE = _state_maintenance("alertmanager_nflog", "notification log", "the notification log")
SILENCES_MAINTENANCE = _state_maintenance("alertmanager_silences", "silence", "silences")
silences_gc_errors = Counter(
    "alertmanager_silences_gc_errors_total", "How many silence GC errors were encountered."
)


@contextmanager
def maintenance() -> Iterator[None]:
    """One housekeeping sweep's maintenance of both states: counted for each, and counted failed
    for each when it raises (the sweep then stops, leaving the rest to the next one)."""
    states = (NFLOG_MAINTENANCE, SILENCES_MAINTENANCE)
    for state in states:
        state.runs.inc()
    try:
        yield
    except Exception:
        for state in states:
            state.errors.inc()
        raise


nflog_query_duration = Histogram(
    "alertmanager_nflog_query_duration_seconds",
    "Duration of notification log query evaluation.",
    buckets=GO_DEFAULT_BUCKETS,
)
silence_queries = Counter("alertmanager_silences_queries_total", "How many silence queries were received.")
silence_query_errors = Counter(
    "alertmanager_silences_query_errors_total", "How many silence received queries did not succeed."
)
silence_query_duration = Histogram(
    "alertmanager_silences_query_duration_seconds",
    "Duration of silence query evaluation.",
    buckets=GO_DEFAULT_BUCKETS,
)
silences_scanned = Counter(
    "alertmanager_silences_query_silences_scanned_total",
    "How many silences were scanned during query evaluation.",
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
            queued = len(rt.queue)
            pipe = rt.client.pipeline(transaction=False)
            for shard in rt.keys.shards():  # every shard's on a cluster (app/redis_keys.py)
                pipe.scard(shard.groups)
                pipe.zcount(shard.timers, "-inf", now - 1)
                pipe.zcard(shard.retries)
            counts = pipe.execute()
            groups, overdue, retries = (sum(counts[k::3]) for k in range(3))
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
            "alertmanager_silences_state_size",
            "The number of silences in the state map.",
            value=len(silences),
        )
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


class WebTierProcessCollector:
    """process_* of one gunicorn web instance, reported as one process the way Alertmanager's
    single process reports itself (prometheus_client's own ProcessCollector sees one process,
    and multiprocess mode has none): the start time is the master's, so a restart of the
    instance changes it and a worker that gunicorn replaces does not; CPU, memory and file
    descriptors are the master's and its workers' together, CPU including the workers that have
    exited (the master's reaped children), so that the counter never goes back."""

    def __init__(self, master: int) -> None:
        self.master = master
        self.ticks = os.sysconf("SC_CLK_TCK")
        self.page = os.sysconf("SC_PAGE_SIZE")

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        try:
            master = _proc_stat(self.master)
            boot = next(
                float(line.split()[1])
                for line in Path("/proc/stat").read_text().splitlines()
                if line.startswith("btime ")
            )
            max_fds = _max_open_files(self.master)
        except (OSError, StopIteration):
            return  # the master is gone: the instance is going down
        live = [self.master]
        workers = []
        for pid in _children(self.master):
            try:
                workers.append(_proc_stat(pid))
                live.append(pid)
            except OSError:
                continue  # exited since it was listed; its CPU is in the master's cutime now
        stats = [master, *workers]
        # /proc/PID/stat after the command: utime, stime, cutime, cstime are fields 11-14,
        # starttime 19, vsize 20, rss 21 (man 5 proc, counting from the state as 0).
        cpu = sum(int(f[11]) + int(f[12]) for f in stats) + int(master[13]) + int(master[14])
        yield CounterMetricFamily(
            "process_cpu_seconds", "Total user and system CPU time spent in seconds.", value=cpu / self.ticks
        )
        yield GaugeMetricFamily(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            value=boot + int(master[19]) / self.ticks,
        )
        yield GaugeMetricFamily(
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
            value=sum(int(f[20]) for f in stats),
        )
        yield GaugeMetricFamily(
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            value=sum(int(f[21]) for f in stats) * self.page,
        )
        yield GaugeMetricFamily(
            "process_open_fds", "Number of open file descriptors.", value=sum(_open_fds(pid) for pid in live)
        )
        yield GaugeMetricFamily("process_max_fds", "Maximum number of open file descriptors.", value=max_fds)


def _proc_stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name (which may hold spaces)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def _children(pid: int) -> list[int]:
    """The processes `pid` forked (gunicorn's workers, for its master)."""
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:  # a kernel built without CONFIG_PROC_CHILDREN: look at every process
        found = []
        for entry in os.listdir("/proc"):
            with suppress(OSError):
                if entry.isdigit() and int(_proc_stat(int(entry))[1]) == pid:
                    found.append(int(entry))
        return found


def _open_fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def _max_open_files(pid: int) -> float:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return float(line.split()[3])
    raise OSError(f"/proc/{pid}/limits has no open files limit")


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


def exposition(*collectors: Collector) -> bytes:
    """The metrics of this process, or of every process of this gunicorn tier when
    PROMETHEUS_MULTIPROC_DIR is set (each worker writes its values there), plus what the given
    collectors read at scrape time (the cluster-wide gauges, the tier's process_*)."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    text = generate_latest(registry)
    if collectors:
        extra = CollectorRegistry()
        for collector in collectors:
            extra.register(collector)
        text += generate_latest(extra)
    return text
