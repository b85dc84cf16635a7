"""While Redis is away: ingest answers 503 with a clear message, /-/ready is false, nothing is
sent twice; when Redis comes back everything recovers by itself, without a restart."""

from __future__ import annotations

from pathlib import Path

import requests

from tests.e2e.conftest import alert, start_split, webhook_receiver, write_config
from tests.support.http_sink import HttpSink
from tests.support.processes import wait_until
from tests.support.redis_server import RedisServer


def test_outage_gives_503_and_everything_recovers(tmp_path: Path) -> None:
    with RedisServer() as redis, HttpSink() as sink:
        dep = start_split(
            write_config(tmp_path / "am.yml", [webhook_receiver(sink.url)]),
            redis,
            2,
            2,
            "--cluster.tcp-timeout=1s",
        )
        try:
            dep.post([alert("BeforeOutage", instance="a")])
            sink.wait_for(1, timeout=15)

            redis.kill()
            url = dep.web_urls[0]
            r = requests.post(f"{url}/api/v2/alerts", json=[alert("DuringOutage", instance="a")], timeout=10)
            assert r.status_code == 503
            assert "cannot reach its Redis" in r.json() and "retry" in r.json()
            ready = requests.get(f"{url}/-/ready", timeout=10)
            assert ready.status_code == 503 and "Redis unreachable" in ready.text
            assert requests.get(f"{url}/-/healthy", timeout=10).status_code == 200

            redis.restart()  # same port; a Redis without persistence comes back empty
            wait_until(
                lambda: requests.get(f"{url}/-/ready", timeout=5).status_code == 200,
                timeout=30,
                message="/-/ready never recovered",
                ignore=(requests.RequestException,),
            )
            dep.post([alert("AfterOutage", instance="a")])
            got = wait_until(
                lambda: [r for r in sink.requests if r.json["groupLabels"] == {"alertname": "AfterOutage"}],
                timeout=30,
                message="no notification after Redis came back",
            )
            assert len(got) == 1
            assert [r.json["groupLabels"]["alertname"] for r in sink.requests].count("BeforeOutage") == 1
        finally:
            dep.stop()
