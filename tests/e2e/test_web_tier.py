"""The gunicorn web tier spreads long-lived client connections over its processes."""

from __future__ import annotations

import http.client
from pathlib import Path
from urllib.parse import urlsplit

from app.serve import REBALANCE_EVERY
from tests.e2e.conftest import start_split, webhook_receiver, write_config
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
            for proc in dep.processes:
                proc.stop()
