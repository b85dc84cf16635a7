"""Stop every process between group_wait and delivery, start them again: the notification
still goes out, once. Split mode keeps the timer in Redis; embedded mode in its snapshot."""

from __future__ import annotations

import time
from pathlib import Path

import requests

from app.timeutil import format_rfc3339
from tests.e2e.conftest import alert, start_embedded, start_split, webhook_receiver, write_config
from tests.support.http_sink import HttpSink
from tests.support.processes import holds
from tests.support.redis_server import RedisServer


def test_split_restart_of_every_process_keeps_the_pending_notification(tmp_path: Path) -> None:
    with HttpSink() as sink, RedisServer() as redis:
        config = write_config(
            tmp_path / "am.yml",
            [webhook_receiver(sink.url)],
            route={"group_wait": "4s", "repeat_interval": "1h"},
        )
        dep = start_split(config, redis)
        dep.post([alert("Restarted", instance="a")])
        for proc in dep.processes:
            proc.stop()
        assert sink.requests == []  # stopped before group_wait ran out
        stopped_at = time.time()

        dep = start_split(config, redis)
        try:
            sink.wait_for(1, timeout=20)
            assert sink.requests[0].json["groupLabels"] == {"alertname": "Restarted"}
            # The group's next ticks (group_interval 2s) find it notified: still exactly one.
            holds(lambda: len(sink.requests) == 1, 2 * 2 + 1, "notified more than once after the restart")
            assert sink.requests[0].received_at >= stopped_at
        finally:
            for proc in dep.processes:
                proc.stop()


def test_embedded_restart_keeps_the_pending_notification_and_the_log(tmp_path: Path) -> None:
    with HttpSink() as sink:
        config = write_config(
            tmp_path / "am.yml",
            [webhook_receiver(sink.url)],
            route={"group_wait": "3s", "repeat_interval": "1h"},
        )
        dep = start_embedded(config, tmp_path / "data")
        dep.post([alert("Restarted", instance="a")])
        dep.processes[0].stop()
        assert sink.requests == []

        dep = start_embedded(config, tmp_path / "data")
        try:
            sink.wait_for(1, timeout=20)
            dep.processes[0].stop()
            # A second restart must not notify again: the notification log was saved.
            dep = start_embedded(config, tmp_path / "data")
            holds(lambda: len(sink.requests) == 1, 3 + 2 * 2, "notified again after a second restart")
        finally:
            dep.processes[0].stop()


def test_embedded_restart_keeps_silences(tmp_path: Path) -> None:
    config = write_config(tmp_path / "am.yml", [webhook_receiver("http://127.0.0.1:9/")])
    dep = start_embedded(config, tmp_path / "data")
    silence = {
        "matchers": [{"name": "alertname", "value": "Quiet", "isRegex": False, "isEqual": True}],
        "startsAt": format_rfc3339(time.time()),
        "endsAt": format_rfc3339(time.time() + 3600),
        "createdBy": "ops",
        "comment": "kept across restarts",
    }
    r = requests.post(f"{dep.web_urls[0]}/api/v2/silences", json=silence, timeout=10)
    assert r.status_code == 200, r.text
    sid = r.json()["silenceID"]
    dep.processes[0].stop()

    dep = start_embedded(config, tmp_path / "data")
    try:
        [kept] = dep.get("/api/v2/silences")
        assert (kept["id"], kept["comment"], kept["status"]["state"]) == (
            sid,
            "kept across restarts",
            "active",
        )
    finally:
        dep.processes[0].stop()
