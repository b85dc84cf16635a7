"""The gunicorn web tier: long-lived client connections spread over its processes, and the
one-thread setting runs gunicorn's sync worker."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import orjson
import requests

from app.serve import REBALANCE_EVERY
from tests.e2e.conftest import alert, start_split, webhook_receiver, write_config
from tests.support.http_sink import HttpSink
from tests.support.redis_server import RedisServer


def test_a_kept_alive_connection_is_closed_now_and_then_so_clients_spread_again(tmp_path: Path) -> None:
    """Prometheus keeps its connections open; were they never closed, one web process would
    take all the load. Every REBALANCE_EVERY-th request a process serves says Connection: close."""
    with RedisServer() as redis:
        config = write_config(tmp_path / "am.yml", [webhook_receiver("http://127.0.0.1:9/")])
        dep = start_split(config, redis, webs=1, workers=0)
        try:
            url = urlsplit(dep.web_urls[0])
            conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
            answers = []
            for _ in range(REBALANCE_EVERY + 1):
                conn.request("GET", "/-/healthy")
                response = conn.getresponse()
                response.read()
                answers.append((response.status, response.getheader("Connection")))
                if response.getheader("Connection") == "close":
                    break
            conn.close()
            assert all(status == 200 for status, _ in answers)
            assert answers[-1][1] == "close", f"no Connection: close in {len(answers)} requests"
            assert all(header == "keep-alive" for _, header in answers[:-1])
            # The client simply reconnects.
            again = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
            again.request("GET", "/-/healthy")
            assert again.getresponse().status == 200
            again.close()
        finally:
            dep.stop()


def test_one_thread_per_process_runs_sync_workers_that_serve_the_whole_api(tmp_path: Path) -> None:
    """`--web.threads=1` is gunicorn's sync worker (no keep-alive): posts
    through the ingest fast path and through Flask (a chunked body) both store and notify."""
    with RedisServer() as redis, HttpSink() as sink:
        config = write_config(tmp_path / "am.yml", [webhook_receiver(sink.url)])
        dep = start_split(config, redis, 1, 1, "--web.threads=1")
        try:
            url = f"{dep.web_urls[0]}/api/v2/alerts"
            fast = requests.post(url, json=[alert("SyncWorker", instance="a")], timeout=10)
            assert fast.status_code == 200
            assert fast.headers["Connection"] == "close"

            def chunked() -> Iterator[bytes]:
                yield orjson.dumps([alert("SyncWorker", instance="b")])

            assert requests.post(url, data=chunked(), timeout=10).status_code == 200
            stored = {a["labels"]["instance"] for a in dep.get("/api/v2/alerts")}
            assert stored == {"a", "b"}
            [notification] = sink.wait_for(1, timeout=15)
            assert sorted(a["labels"]["instance"] for a in notification.json["alerts"]) == ["a", "b"]
        finally:
            dep.stop()
