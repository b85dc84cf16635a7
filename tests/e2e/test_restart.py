"""Stop every process between group_wait and delivery, start them again: the notification
still goes out, once. Split mode keeps the timer in Redis; embedded mode in its snapshot.

A SIGKILL of the embedded process, with no snapshot since, keeps what was acknowledged: every
silence the API answered, and every notification logged as sent (the write-ahead log under
--storage.path, app/durability.py)."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import requests

from app.redis_keys import Keys
from app.timeutil import format_rfc3339
from tests.e2e.conftest import alert, start_embedded, start_split, webhook_receiver, write_config
from tests.support.http_sink import HttpSink, ReceivedRequest
from tests.support.processes import ManagedProcess, holds, wait_until
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
        dep.stop()
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
            dep.stop()


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


def silence_body(alertname: str, comment: str) -> dict[str, object]:
    return {
        "matchers": [{"name": "alertname", "value": alertname, "isRegex": False, "isEqual": True}],
        "startsAt": format_rfc3339(time.time()),
        "endsAt": format_rfc3339(time.time() + 3600),
        "createdBy": "ops",
        "comment": comment,
    }


def test_embedded_restart_keeps_silences(tmp_path: Path) -> None:
    config = write_config(tmp_path / "am.yml", [webhook_receiver("http://127.0.0.1:9/")])
    dep = start_embedded(config, tmp_path / "data")
    silence = silence_body("Quiet", "kept across restarts")
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


def test_embedded_sigkill_right_after_the_answers_keeps_every_silence(tmp_path: Path) -> None:
    """Three silences created and one of them expired, then SIGKILL at once: the state is
    snapshotted only every --cluster.pushpull-interval (60 s), so they come back from the
    write-ahead log, expiry included."""
    config = write_config(tmp_path / "am.yml", [webhook_receiver("http://127.0.0.1:9/")])
    dep = start_embedded(config, tmp_path / "data")
    url = dep.web_urls[0]
    created = {}
    for name in ("One", "Two", "Three"):
        r = requests.post(f"{url}/api/v2/silences", json=silence_body(name, f"quiet {name}"), timeout=10)
        assert r.status_code == 200, r.text
        created[r.json()["silenceID"]] = name
    expired = next(sid for sid, name in created.items() if name == "Three")
    r = requests.delete(f"{url}/api/v2/silence/{expired}", timeout=10)
    assert r.status_code == 200, r.text
    dep.processes[0].kill()

    dep = start_embedded(config, tmp_path / "data")
    try:
        kept = {s["id"]: (s["comment"], s["status"]["state"]) for s in dep.get("/api/v2/silences")}
        assert kept == {
            sid: (f"quiet {name}", "expired" if sid == expired else "active") for sid, name in created.items()
        }
    finally:
        dep.processes[0].stop()


def test_embedded_sigkill_after_a_logged_notification_does_not_send_it_again(tmp_path: Path) -> None:
    """The process logs the notification (debug line "notification logged", written once the
    commit is durable) and is SIGKILLed; Prometheus re-sends the alert to the restarted process,
    whose group is new, and its flush finds the notification already sent."""
    with HttpSink() as sink:
        config = write_config(
            tmp_path / "am.yml",
            [webhook_receiver(sink.url)],
            route={"group_wait": "1s", "group_interval": "2s", "repeat_interval": "1h"},
        )
        dep = start_embedded(config, tmp_path / "data")
        batch = [alert("Logged", instance="a")]
        dep.post(batch)
        sink.wait_for(1, timeout=20)
        proc = dep.processes[0]
        wait_until(
            lambda: "notification logged" in proc.log_text(),
            10,
            message=f"the notification was sent but never logged\n{proc.log_tail()}",
        )
        proc.kill()

        dep = start_embedded(config, tmp_path / "data")
        try:
            dep.post(batch)
            # group_wait, then two group_interval ticks, would each have sent it again.
            holds(
                lambda: len(sink.requests) == 1,
                1 + 2 * 2 + 1,
                lambda: f"notified again after the SIGKILL: {[r.json['status'] for r in sink.requests]}",
            )
        finally:
            dep.processes[0].stop()


def test_sigterm_lets_the_running_send_finish_and_logs_it(tmp_path: Path) -> None:
    """A worker told to stop while a receiver takes its time waits for the answer and logs the
    notification before it exits, so the next worker does not send it again."""
    answer = threading.Event()

    def slow(_: ReceivedRequest) -> tuple[int, bytes, str]:
        answer.wait(20)
        return 200, b"", "text/plain"

    with HttpSink(responder=slow) as sink, RedisServer() as redis:
        config = write_config(
            tmp_path / "am.yml", [webhook_receiver(sink.url)], route={"repeat_interval": "1h"}
        )
        dep = start_split(config, redis, 1, 1)
        try:
            worker = dep.processes[0]
            dep.post([alert("Draining", instance="a")])
            sink.wait_for(1, timeout=15)
            worker.signal_group(signal.SIGTERM)
            holds(worker.is_running, 1.0, f"the worker exited with its send unanswered\n{worker.log_tail()}")
            answer.set()
            assert worker.wait(timeout=15) == 0, worker.log_tail()
            with redis.client() as client:
                assert client.hlen(Keys().nflog) == 1, "the notification was not logged"

            dep.processes.append(ManagedProcess(worker.argv))  # a fresh worker in its place
            holds(lambda: len(sink.requests) == 1, 2 * 2 + 1, "the next worker sent it again")
        finally:
            dep.stop()
