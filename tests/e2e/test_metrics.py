"""/metrics with Alertmanager's names, right across processes: ingest counts summed over the
gunicorn workers of a web instance, notification counts from the workers that sent, and
cluster-wide gauges read from Redis."""

from __future__ import annotations

import re
import signal
import struct
from hashlib import md5
from pathlib import Path

import requests

from app.metrics import FAILURE_REASONS, INTEGRATION_NAMES
from tests.e2e.conftest import alert, start_embedded, start_split, webhook_receiver, write_config
from tests.support.http_sink import HttpSink
from tests.support.processes import wait_until
from tests.support.redis_server import RedisServer


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample, or 0 when the series is absent."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$", line)
        if m and m.group(1) == name and ",".join(sorted((m.group(2) or "").split(","))) == want:
            return float(m.group(3))
    return 0.0


def metrics(url: str) -> str:
    return requests.get(f"{url}/metrics", timeout=10).text


def test_counts_are_right_across_processes(tmp_path: Path) -> None:
    with RedisServer() as redis, HttpSink() as sink:
        dep = start_split(write_config(tmp_path / "am.yml", [webhook_receiver(sink.url)]), redis, 1, 2)
        try:
            url = dep.web_urls[0]
            # 12 requests over keep-alive-less connections reach both gunicorn workers.
            for i in range(12):
                r = requests.post(
                    f"{url}/api/v2/alerts", json=[alert("Counted", instance=str(i % 3))], timeout=10
                )
                assert r.status_code == 200
            bad = requests.post(f"{url}/api/v2/alerts", json=[{"labels": {}}], timeout=10)
            assert bad.status_code == 400

            text = metrics(url)
            assert sample(text, "alertmanager_alerts_received_total", status="firing", version="v2") == 12
            assert sample(text, "alertmanager_alerts_invalid_total", version="v2") == 1
            assert sample(text, "alertmanager_alerts", state="active") == 3
            assert sample(text, "alertmanager_dispatcher_aggregation_groups") == 1
            assert sample(text, "alertmanager_config_last_reload_successful") == 1

            sink.wait_for(1, timeout=15)
            sent = wait_until(
                lambda: (
                    sum(
                        sample(metrics(w), "alertmanager_notifications_total", integration="webhook")
                        for w in dep.worker_urls
                    )
                    or None
                ),
                timeout=10,
                message="no worker counted the notification",
            )
            assert sent == len(sink.requests) == 1
            assert all(
                sample(
                    metrics(w),
                    "alertmanager_notifications_failed_total",
                    integration="webhook",
                    reason="serverError",
                )
                == 0
                for w in dep.worker_urls
            )
        finally:
            dep.stop()


def test_every_integrations_series_start_at_zero(tmp_path: Path) -> None:
    """Alertmanager creates the notification series of every integration it knows at start,
    configured or not, with each failure reason."""
    with HttpSink() as sink:
        dep = start_embedded(
            write_config(tmp_path / "am.yml", [webhook_receiver(sink.url)]), tmp_path / "data"
        )
        try:
            text = metrics(dep.web_urls[0])
        finally:
            dep.processes[0].stop()
    names = [
        m.group(1)
        for m in re.finditer(r'^alertmanager_notifications_total\{integration="([^"]+)"\} 0\.0$', text, re.M)
    ]
    assert sorted(names) == sorted(INTEGRATION_NAMES)
    assert len(names) == 18 and {"jira", "rocketchat", "incidentio", "slack", "msteamsv2"} <= set(names)
    for name in names:
        for series in (
            "alertmanager_notification_requests_total",
            "alertmanager_notification_requests_failed_total",
            "alertmanager_notification_latency_seconds_count",
        ):
            assert f'{series}{{integration="{name}"}} 0.0' in text.splitlines(), (series, name)
        for reason in FAILURE_REASONS:
            line = f'alertmanager_notifications_failed_total{{integration="{name}",reason="{reason}"}} 0.0'
            assert line in text.splitlines()


def test_an_embedded_node_has_no_cluster_to_report(tmp_path: Path) -> None:
    """As an Alertmanager without clustering: alertmanager_cluster_enabled 0 and none of the
    cluster series, whose members at 0 would make the mixin's AlertmanagerMembersInconsistent
    fire on a single node. Its own process_* and the config series are there."""
    dep = start_embedded(
        write_config(tmp_path / "am.yml", [webhook_receiver("http://127.0.0.1:9/")]), tmp_path
    )
    try:
        text = metrics(dep.web_urls[0])
    finally:
        dep.processes[0].stop()
    assert sample(text, "alertmanager_cluster_enabled") == 0
    for name in (
        "alertmanager_cluster_members",
        "alertmanager_cluster_failed_peers",
        "alertmanager_cluster_peer_info",
    ):
        assert f"\n{name}" not in text
    assert sample(text, "alertmanager_receivers") == 1
    assert sample(text, "process_start_time_seconds") > 0


def test_each_process_sees_failed_peers_and_its_own_health(tmp_path: Path) -> None:
    """A worker killed without leaving is a failed peer for every other process; a process cut
    off from Redis sees its health score rise and its peers fail as their heartbeats age, and
    recovers when Redis is back (an empty Redis: the dead worker's heartbeat is gone with it)."""
    with RedisServer() as redis:
        config = write_config(tmp_path / "am.yml", [webhook_receiver("http://127.0.0.1:9/")])
        dep = start_split(config, redis, 1, 2, "--cluster.peer-timeout=2s", "--cluster.tcp-timeout=1s")
        web, survivor = dep.web_urls[0], dep.worker_urls[1]

        def view(url: str) -> tuple[float, float]:
            text = metrics(url)
            return sample(text, "alertmanager_cluster_members"), sample(
                text, "alertmanager_cluster_failed_peers"
            )

        try:
            for url in (web, *dep.worker_urls):
                wait_until(lambda url=url: view(url) == (3, 0), timeout=15, message=f"{url}: {view(url)}")
            dep.processes[0].kill()
            for url in (web, survivor):
                wait_until(lambda url=url: view(url) == (2, 1), timeout=15, message=f"{url}: {view(url)}")

            redis.kill()
            wait_until(
                lambda: (
                    view(survivor) == (1, 2)
                    and sample(metrics(survivor), "alertmanager_cluster_health_score") >= 2
                ),
                timeout=20,
                message=f"cut off from Redis, the worker still sees {view(survivor)}",
            )
            redis.restart()
            wait_until(
                lambda: (
                    view(survivor) == (2, 0)
                    and sample(metrics(survivor), "alertmanager_cluster_health_score") == 0
                ),
                timeout=30,
                message=f"after Redis came back, the worker sees {view(survivor)}",
                ignore=(requests.RequestException,),
            )
        finally:
            dep.stop()


def test_every_process_reports_the_hash_of_the_config_it_runs(tmp_path: Path) -> None:
    """alertmanager_config_hash is Alertmanager's hash of the file, the same wherever the file
    is the same: a web instance reloaded on a new file differs from a worker still on the old
    one until the worker reloads too (what the mixin's AlertmanagerConfigInconsistent counts)."""
    with RedisServer() as redis:
        config = write_config(tmp_path / "am.yml", [webhook_receiver("http://127.0.0.1:9/")])
        dep = start_split(config, redis, 1, 1)
        web, worker = dep.web_urls[0], dep.worker_urls[0]

        def hash_of(url: str) -> float:
            return sample(metrics(url), "alertmanager_config_hash")

        try:
            first = struct.unpack("<Q", md5(config.read_bytes()).digest()[:6] + b"\0\0")[0]
            assert hash_of(web) == hash_of(worker) == first
            write_config(
                config,
                [
                    webhook_receiver("http://127.0.0.1:9/", name="a"),
                    webhook_receiver("http://127.0.0.1:9/", name="b"),
                ],
                route={"routes": [{"receiver": "b", "matchers": ['team="b"']}]},
                extra={
                    "inhibit_rules": [
                        {"source_matchers": ['severity="page"'], "target_matchers": ['severity="info"']}
                    ]
                },
            )
            second = struct.unpack("<Q", md5(config.read_bytes()).digest()[:6] + b"\0\0")[0]
            assert requests.post(f"{web}/-/reload", timeout=10).status_code == 200

            def reloaded() -> str | None:
                text = metrics(web)
                return text if sample(text, "alertmanager_config_hash") == second else None

            text = wait_until(reloaded, timeout=15, message="the web tier does not report the new config")
            assert (
                sample(text, "alertmanager_receivers"),
                sample(text, "alertmanager_inhibition_rules"),
            ) == (2, 1)
            assert hash_of(worker) == first
            dep.processes[0].signal_group(signal.SIGHUP)
            wait_until(lambda: hash_of(worker) == second, timeout=15, message="the worker did not reload")
        finally:
            dep.stop()
