"""The official alertmanager-mixin against alerter: a real Prometheus scrapes every process of a
split deployment (two web instances of two gunicorn workers each, two workers) as one
Alertmanager cluster, job "alertmanager", and loads the mixin's alert rules.

Every alert rule must evaluate without error and, the cluster being healthy, stay inactive;
and each rule's expression with its thresholds removed must return series, so the rule would
see a failure rather than nothing (a rule over absent series never fires). The dashboard's
queries must return series too. The cluster gauges must agree: every process counts the same
members, and every process reports the same config hash, Alertmanager's hash of the file.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from hashlib import md5
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import Deployment, alert, start_split, webhook_receiver, write_config
from tests.support.http_sink import HttpSink
from tests.support.processes import wait_until
from tests.support.prometheus import PrometheusServer
from tests.support.redis_server import RedisServer

JOB = "alertmanager"
# config.libsonnet's alertmanagerSelector and alertmanagerClusterLabels, as the mixin ships them.
S = f'job="{JOB}"'
# alertmanagerCriticalIntegrationsRegEx. The mixin's default `.*` leaves the warning variant of
# AlertmanagerClusterFailedToSendAlerts (integration!~`.*`) without any series on any
# Alertmanager; its README's example splits the integrations instead.
CRITICAL = "webhook"


@dataclass(frozen=True)
class MixinRule:
    """One alert of doc/alertmanager-mixin/alerts.libsonnet, and its expression with the
    thresholds removed (`probes`), each of which must return at least one series."""

    alert: str
    expr: str
    for_: str
    probes: tuple[str, ...]


def failure_ratio(matchers: str = "") -> str:
    """The notification failure ratio the three failed-to-send alerts divide out."""
    selector = S + matchers
    return (
        f"rate(alertmanager_notifications_failed_total{{{selector}}}[15m])"
        f" / ignoring (reason) group_left "
        f"rate(alertmanager_notifications_total{{{selector}}}[15m])"
    )


CRITICAL_ONLY = f", integration=~`{CRITICAL}`"
NOT_CRITICAL = f", integration!~`{CRITICAL}`"
MEMBERS = f"max_over_time(alertmanager_cluster_members{{{S}}}[5m])"
CONFIG_HASHES = f'count_values by (job) ("config_hash", alertmanager_config_hash{{{S}}})'
# Written down from alerts.libsonnet of prometheus/alertmanager (68fb2d5), comments left out.
RULES = (
    MixinRule(
        "AlertmanagerFailedReload",
        f"max_over_time(alertmanager_config_last_reload_successful{{{S}}}[5m]) == 0",
        "10m",
        (f"max_over_time(alertmanager_config_last_reload_successful{{{S}}}[5m])",),
    ),
    MixinRule(
        "AlertmanagerMembersInconsistent",
        f"{MEMBERS} < on (job) group_left count by (job) ({MEMBERS})",
        "15m",
        (MEMBERS, f"count by (job) ({MEMBERS})"),
    ),
    MixinRule("AlertmanagerFailedToSendAlerts", f"({failure_ratio()}) > 0.01", "5m", (failure_ratio(),)),
    MixinRule(
        "AlertmanagerClusterFailedToSendAlerts",
        f"min by (job, integration) ({failure_ratio(CRITICAL_ONLY)} > 0) > 0.01",
        "5m",
        (f"min by (job, integration) ({failure_ratio(CRITICAL_ONLY)})",),
    ),
    MixinRule(
        "AlertmanagerClusterFailedToSendAlerts",
        f"min by (job, integration) ({failure_ratio(NOT_CRITICAL)} > 0) > 0.01",
        "5m",
        (f"min by (job, integration) ({failure_ratio(NOT_CRITICAL)})",),
    ),
    MixinRule(
        "AlertmanagerConfigInconsistent",
        f"count by (job) ({CONFIG_HASHES}) != 1",
        "20m",
        (f"count by (job) ({CONFIG_HASHES})",),
    ),
    MixinRule(
        "AlertmanagerClusterDown",
        f"(count by (job) (avg_over_time(up{{{S}}}[5m]) < 0.5) / count by (job) (up{{{S}}})) >= 0.5",
        "5m",
        (f"count by (job) (avg_over_time(up{{{S}}}[5m])) / count by (job) (up{{{S}}})",),
    ),
    MixinRule(
        "AlertmanagerClusterCrashlooping",
        f"(count by (job) (changes(process_start_time_seconds{{{S}}}[10m]) > 4)"
        f" / count by (job) (up{{{S}}})) >= 0.5",
        "5m",
        (f"count by (job) (changes(process_start_time_seconds{{{S}}}[10m])) / count by (job) (up{{{S}}})",),
    ),
    MixinRule(
        "AlertmanagerClusterFailedPeers",
        f"max_over_time(alertmanager_cluster_failed_peers{{{S}}}[5m]) > 0",
        "15m",
        (f"max_over_time(alertmanager_cluster_failed_peers{{{S}}}[5m])",),
    ),
)

# The queries of dashboards/overview.libsonnet, its variables set to this cluster and the
# webhook integration, and $__rate_interval to a minute.
D = f'job=~"{JOB}"'
DI = f'{D}, integration="{CRITICAL}"'
LATENCY = f"sum(rate(alertmanager_notification_latency_seconds_bucket{{{DI}}}[1m])) by (le,job,instance)"
DASHBOARD = (
    f"sum(alertmanager_alerts{{{D}}}) by (job,instance)",
    f"sum(rate(alertmanager_alerts_received_total{{{D}}}[1m])) by (job,instance)",
    f"sum(rate(alertmanager_alerts_invalid_total{{{D}}}[1m])) by (job,instance)",
    f"sum(rate(alertmanager_notifications_total{{{DI}}}[1m])) by (integration,job,instance)",
    f"sum(rate(alertmanager_notifications_failed_total{{{DI}}}[1m])) by (integration,job,instance)",
    f"histogram_quantile(0.99, {LATENCY})",
    f"histogram_quantile(0.50, {LATENCY})",
    f"sum(rate(alertmanager_notification_latency_seconds_sum{{{DI}}}[1m])) by (job,instance)"
    f" / sum(rate(alertmanager_notification_latency_seconds_count{{{DI}}}[1m])) by (job,instance)",
)

# What every process serves, and what only the web tier does (read from Redis at scrape time).
EVERY_PROCESS = (
    "alertmanager_build_info",
    "alertmanager_config_hash",
    "alertmanager_config_last_reload_successful",
    "alertmanager_config_last_reload_success_timestamp_seconds",
    "alertmanager_receivers",
    "alertmanager_integrations",
    "alertmanager_inhibition_rules",
    "alertmanager_cluster_enabled",
    "alertmanager_cluster_members",
    "alertmanager_cluster_failed_peers",
    "alertmanager_cluster_health_score",
    "alertmanager_cluster_peer_info",
    "alertmanager_http_request_duration_seconds_count",
    "alertmanager_http_response_size_bytes_count",
    "alertmanager_http_requests_in_flight",
    "alertmanager_notifications_total",
    "alertmanager_notifications_failed_total",
    "alertmanager_notification_requests_total",
    "alertmanager_notification_requests_failed_total",
    "alertmanager_notification_latency_seconds_count",
    "alertmanager_notifications_suppressed_total",
    "alertmanager_alerts_received_total",
    "alertmanager_alerts_invalid_total",
    "alertmanager_dispatcher_alert_processing_duration_seconds_count",
    "alertmanager_nflog_queries_total",
    "alertmanager_nflog_query_errors_total",
    "alertmanager_nflog_query_duration_seconds_count",
    "alertmanager_nflog_gc_duration_seconds_count",
    "alertmanager_nflog_snapshot_duration_seconds_count",
    "alertmanager_nflog_snapshot_size_bytes",
    "alertmanager_nflog_maintenance_total",
    "alertmanager_nflog_maintenance_errors_total",
    "alertmanager_silences_queries_total",
    "alertmanager_silences_query_errors_total",
    "alertmanager_silences_query_duration_seconds_count",
    "alertmanager_silences_query_silences_scanned_total",
    "alertmanager_silences_gc_duration_seconds_count",
    "alertmanager_silences_gc_errors_total",
    "alertmanager_silences_snapshot_duration_seconds_count",
    "alertmanager_silences_snapshot_size_bytes",
    "alertmanager_silences_maintenance_total",
    "alertmanager_silences_maintenance_errors_total",
    "process_start_time_seconds",
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "process_virtual_memory_bytes",
    "process_open_fds",
    "process_max_fds",
)
WEB_ONLY = (
    "alertmanager_alerts",
    "alertmanager_silences",
    "alertmanager_silences_state_size",
    "alertmanager_dispatcher_aggregation_groups",
)


@dataclass
class Scraped:
    alerter: Deployment
    prometheus: PrometheusServer
    config: Path
    sink: HttpSink

    def instances(self, urls: list[str]) -> set[str]:
        return {url.removeprefix("http://") for url in urls}

    def values(self, expr: str) -> list[float]:
        return [float(r["value"][1]) for r in self.prometheus.query(expr)]

    def diagnostics(self) -> str:
        logs = self.alerter.logs() + "\n" + self.prometheus.process.log_tail(40)
        return logs[-15000:]


@pytest.fixture
def scraped(tmp_path: Path) -> Iterator[Scraped]:
    """Two web instances (two gunicorn workers each) and two workers on a private Redis, one
    webhook receiver, and a Prometheus scraping all four /metrics every second with the mixin's
    alert rules loaded; everything stopped at the end."""
    with contextlib.ExitStack() as cleanup:
        redis = cleanup.enter_context(RedisServer())
        sink = cleanup.enter_context(HttpSink())
        config = write_config(tmp_path / "am.yml", [webhook_receiver(sink.url)])
        alerter = start_split(config, redis, 2, 2)
        cleanup.callback(lambda: [proc.stop() for proc in alerter.processes])
        rules = tmp_path / "mixin-alerts.yml"
        group = [
            {"alert": r.alert, "expr": r.expr, "for": r.for_, "labels": {"severity": "critical"}}
            for r in RULES
        ]
        rules.write_text(yaml.safe_dump({"groups": [{"name": "alertmanager.rules", "rules": group}]}))
        targets = [url.removeprefix("http://") for url in alerter.web_urls + alerter.worker_urls]
        prometheus = PrometheusServer(
            tmp_path / "prometheus",
            {
                "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(rules)],
                "scrape_configs": [{"job_name": JOB, "static_configs": [{"targets": targets}]}],
            },
        )
        cleanup.callback(prometheus.process.stop)
        prometheus.process.wait_http(f"{prometheus.url}/-/ready", timeout=30)
        yield Scraped(alerter, prometheus, config, sink)


def test_the_mixin_s_rules_and_dashboard_see_a_healthy_alerter_cluster(scraped: Scraped) -> None:
    prom, alerter = scraped.prometheus, scraped.alerter
    every = scraped.instances(alerter.web_urls + alerter.worker_urls)
    wait_until(
        lambda: scraped.values(f"up{{{S}}}") == [1.0] * 4,
        timeout=30,
        message=f"Prometheus did not scrape all four processes as up\n{scraped.diagnostics()}",
    )
    # One notification, so that the notification series have moved on one worker.
    alerter.post([alert("MixinCheck", instance="a")])
    scraped.sink.wait_for(1, timeout=20)
    wait_until(
        lambda: sum(scraped.values(f'alertmanager_notifications_total{{{S}, integration="webhook"}}')) == 1,
        timeout=20,
        message="Prometheus did not see the notification counted",
    )

    for rule in RULES:
        for probe in rule.probes:
            wait_until(
                lambda probe=probe: prom.query(probe),
                timeout=20,
                message=f"{rule.alert}: no series for {probe}\n{scraped.diagnostics()}",
            )
    for query in DASHBOARD:
        wait_until(
            lambda query=query: prom.query(query), timeout=20, message=f"dashboard: no series for {query}"
        )
    assert prom.api("label/job/values", **{"match[]": "alertmanager_alerts"}) == [JOB]
    integrations = prom.api(
        "label/integration/values",
        **{"match[]": f'alertmanager_notifications_total{{integration=~"{CRITICAL}"}}'},
    )
    assert integrations == [CRITICAL]

    # Every target is counted where the crashlooping and down rules divide by the targets.
    crashlooping, down = (RULES[-2].probes[0], RULES[-3].probes[0])
    assert scraped.values(crashlooping) == scraped.values(down) == [1.0]
    # Members agree: every process counts all four (a web instance's gunicorn workers are one
    # peer), so the inconsistency rule's comparison finds nothing.
    wait_until(
        lambda: scraped.values(MEMBERS) == [4.0] * 4,
        timeout=20,
        message=f"members disagree: {prom.query(MEMBERS)}",
    )
    assert scraped.values(f"count by (job) ({MEMBERS})") == [4.0]
    assert prom.query(RULES[1].expr) == []
    assert scraped.values(f"max_over_time(alertmanager_cluster_failed_peers{{{S}}}[5m])") == [0.0] * 4
    assert scraped.values(f"alertmanager_cluster_enabled{{{S}}}") == [1.0] * 4
    # The config hash is the same everywhere, and it is Alertmanager's hash of the file.
    [hashes] = prom.query(CONFIG_HASHES)
    (expected,) = struct.unpack("<Q", md5(scraped.config.read_bytes()).digest()[:6] + b"\0\0")
    assert float(hashes["metric"]["config_hash"]) == expected
    assert hashes["value"][1] == "4"
    assert scraped.values(f"count by (job) ({CONFIG_HASHES})") == [1.0]
    assert (
        scraped.values(f"max_over_time(alertmanager_config_last_reload_successful{{{S}}}[5m])") == [1.0] * 4
    )

    # Prometheus evaluates every rule without an error, and none is pending or firing.
    def evaluated() -> list[dict] | None:
        [group] = prom.api("rules", type="alert")["groups"]
        rules = group["rules"]
        return rules if all(r["lastEvaluation"] > "2000" for r in rules) else None

    rules = wait_until(evaluated, timeout=20, message="the mixin's rules were not evaluated")
    assert [(r["name"], r["health"], r["state"]) for r in rules] == [
        (r.alert, "ok", "inactive") for r in RULES
    ], rules

    for name in EVERY_PROCESS:
        found = {r["metric"]["instance"] for r in prom.query(f"group by (instance) ({name}{{{S}}})")}
        assert found == every, name
    for name in WEB_ONLY:
        found = {r["metric"]["instance"] for r in prom.query(f"group by (instance) ({name}{{{S}}})")}
        assert found == scraped.instances(alerter.web_urls), name
    ingest = (
        "alertmanager_http_request_duration_seconds_count"
        f'{{{S}, handler="/api/v2/alerts", method="post", code="200"}}'
    )
    assert {r["metric"]["instance"] for r in prom.query(ingest)} == scraped.instances(alerter.web_urls)
