"""/metrics with Alertmanager's names, right across processes: ingest counts summed over the
gunicorn workers of a web instance, notification counts from the workers that sent, and
cluster-wide gauges read from Redis."""

from __future__ import annotations

import re
from pathlib import Path

import requests

from tests.e2e.conftest import alert, start_split, webhook_receiver, write_config
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
            for proc in dep.processes:
                proc.stop()
