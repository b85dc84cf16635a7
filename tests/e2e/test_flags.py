"""The flags of issue 13 on real processes: what each changes is observed from outside, through
the API, /metrics, the logs, the sockets and the receiver, never by reaching into alerter's code
(only documented Redis keys are touched, to lose a group timer on purpose)."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from app.redis_keys import Keys
from app.timeutil import parse_rfc3339
from tests.e2e.conftest import alert, start_embedded, start_split, webhook_receiver, write_config
from tests.e2e.test_metrics import metrics, sample
from tests.support.http_sink import HttpSink
from tests.support.ports import HOST, free_port
from tests.support.processes import ManagedProcess, alerter_command, wait_until
from tests.support.redis_server import RedisServer
from tests.unit.test_silence import body as silence_body


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


def start(
    mode: str, config: Path, tmp_path: Path, *flags: str, server: RedisServer | None = None
) -> tuple[str, ManagedProcess]:
    """`alerter` embedded (werkzeug) or `alerter web` on `server` (gunicorn, one worker process
    so that every request meets the same per-process limits); returns its URL and process."""
    port = free_port()
    command = ["web", f"--redis.url={server.url}", "--web.workers=1"] if mode == "web" and server else []
    proc = ManagedProcess(
        alerter_command(
            *command,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address={HOST}:{port}",
            *flags,
        )
    )
    url = f"http://{HOST}:{port}"
    proc.wait_http(f"{url}/-/ready", timeout=30)
    return url, proc


def post_silence(
    url: str, comment: str = "maintenance", sid: str = "", name: str = "Disk"
) -> requests.Response:
    now = time.time()
    matchers = [{"name": "alertname", "value": name, "isRegex": False, "isEqual": True}]
    body = {**silence_body(now, now + 3600, matchers, sid), "comment": comment}
    return requests.post(f"{url}/api/v2/silences", json=body, timeout=10)


# -- --web.timeout, --web.get-concurrency ------------------------------------------------------


@pytest.mark.parametrize("mode", ["embedded", "web"])
def test_web_timeout_answers_503_when_a_request_outlasts_it(mode: str, tmp_path: Path) -> None:
    """Go's TimeoutHandler: 503 with "Exceeded configured timeout of 500ms." The request held
    up is a receiver test whose webhook accepts the connection and never answers."""
    with socket.create_server((HOST, 0)) as black_hole, RedisServer() as server:
        hook = f"http://{HOST}:{black_hole.getsockname()[1]}/"
        config = write_config(tmp_path / "am.yml", [webhook_receiver(hook)])
        url, proc = start(mode, config, tmp_path, "--web.timeout=500ms", server=server)
        try:
            r = requests.post(f"{url}/api/v2/receivers/hook/test", timeout=30)
            assert r.status_code == 503
            assert r.text == "Exceeded configured timeout of 500ms.\n"
            assert r.headers["Content-Type"] == "text/plain; charset=utf-8"
            assert requests.get(f"{url}/-/healthy", timeout=10).status_code == 200
        finally:
            black_hole.close()  # resets the held send, which would otherwise hold up the stop
            proc.stop()


def test_get_concurrency_limit_answers_503_beyond_it(redis_server: RedisServer, tmp_path: Path) -> None:
    """One GET held (its Redis frozen) takes the only slot of --web.get-concurrency=1: any other
    GET is refused at once with Alertmanager's text; POSTs are not limited; the slot comes back
    when the held request ends. --cluster.tcp-timeout=60s keeps the held request waiting on Redis
    for the whole test rather than the default 10s."""
    config = write_config(tmp_path / "am.yml", [webhook_receiver("http://127.0.0.1:9/")])
    flags = ("--web.get-concurrency=1", "--cluster.tcp-timeout=60s")
    url, proc = start("web", config, tmp_path, *flags, server=redis_server)
    held: dict[str, Any] = {}
    seen: list[int] = []

    def hold() -> None:
        try:
            held["r"] = requests.get(f"{url}/api/v2/alerts", timeout=90)
        except requests.RequestException as err:
            held["error"] = err

    def start_holding() -> threading.Thread:
        thread = threading.Thread(target=hold, daemon=True)
        thread.start()
        return thread

    def refused_health_check() -> list[requests.Response]:
        nonlocal thread
        if "r" in held and held["r"].status_code == 503:
            # A probe took the slot before the held GET reached the server (its thread started
            # late on a loaded machine): hold another one, and let that one be first.
            held.clear()
            thread = start_holding()
            return []
        r = requests.get(f"{url}/-/healthy", timeout=10)
        seen.append(r.status_code)
        # A list: a requests.Response is falsy when its status is an error.
        return [r] if r.status_code == 503 else []

    try:
        redis_server.process.pause()  # type: ignore[union-attr]
        thread = start_holding()
        try:
            [refused] = wait_until(
                refused_health_check, timeout=30, message="no GET was refused while one was held"
            )
        except AssertionError as err:
            outcome = held.get("error") or (held["r"].status_code, held["r"].text) if held else "still held"
            raise AssertionError(f"{err}; health checks answered {seen}; the held GET: {outcome}") from None
        assert refused.text == "Limit of concurrent GET requests reached (1), try again later.\n\n"
        assert refused.headers["X-Content-Type-Options"] == "nosniff"
        assert refused.headers["Content-Type"] == "text/plain; charset=utf-8"
        # The web UI's modules take no slot: a page load fetches a dozen at once, and one refused
        # would leave the page blank.
        module = requests.get(f"{url}/assets/main.js", timeout=10)
        assert module.status_code == 200 and "route()" in module.text
        assert requests.post(f"{url}/-/reload", timeout=10).status_code == 200
        redis_server.process.resume()  # type: ignore[union-attr]
        thread.join(90)
        assert held["r"].status_code == 200
        text = wait_until(
            lambda: (r := requests.get(f"{url}/metrics", timeout=10)).status_code == 200 and r.text,
            timeout=10,
        )
        assert sample(text, "alertmanager_http_concurrency_limit_exceeded_total", method="get") >= 1
        assert sample(text, "alertmanager_http_requests_in_flight", method="get") == 1  # the scrape itself
    finally:
        redis_server.process.resume()  # type: ignore[union-attr]
        proc.stop()


# -- --web.listen-address (repeated), --web.systemd-socket -------------------------------------


@pytest.mark.parametrize("mode", ["embedded", "web"])
def test_every_listen_address_is_served(mode: str, redis_server: RedisServer, tmp_path: Path) -> None:
    config = write_config(tmp_path / "am.yml", [webhook_receiver("http://127.0.0.1:9/")])
    second = free_port()
    url, proc = start(mode, config, tmp_path, f"--web.listen-address={HOST}:{second}", server=redis_server)
    try:
        for base in (url, f"http://{HOST}:{second}"):
            assert requests.get(f"{base}/-/healthy", timeout=10).text == "OK"
    finally:
        proc.stop()


# Run by the test as systemd would: a listening socket on file descriptor 3, LISTEN_FDS=1 and
# LISTEN_PID naming the process, which then execs alerter (same pid).
SOCKET_ACTIVATION = """
import os, socket, sys
sock = socket.create_server(("127.0.0.1", int(sys.argv[1])))
os.dup2(sock.fileno(), 3)
os.set_inheritable(3, True)
os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS="1")
os.execv(sys.executable, [sys.executable, "-m", "app.cli", *sys.argv[2:]])
"""


@pytest.mark.parametrize("mode", ["embedded", "web"])
def test_systemd_socket_serves_the_activated_socket_instead_of_the_listen_address(
    mode: str, redis_server: RedisServer, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "am.yml", [webhook_receiver("http://127.0.0.1:9/")])
    activated, unused = free_port(), free_port()
    command = ["web", f"--redis.url={redis_server.url}", "--web.workers=1"] if mode == "web" else []
    proc = ManagedProcess(
        [
            sys.executable,
            "-c",
            SOCKET_ACTIVATION,
            str(activated),
            *command,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address={HOST}:{unused}",
            "--web.systemd-socket",
        ],
        name="alerter-activated",
    )
    try:
        proc.wait_http(f"http://{HOST}:{activated}/-/ready", timeout=30)
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://{HOST}:{unused}/-/healthy", timeout=5)
    finally:
        proc.stop()


# -- silences: --silences.max-silences, --silences.max-silence-size-bytes, --log.silences --------


def test_silence_limits_and_logging_through_the_api(tmp_path: Path) -> None:
    config = write_config(tmp_path / "am.yml", [webhook_receiver("http://127.0.0.1:9/")])
    url, proc = start(
        "embedded",
        config,
        tmp_path,
        "--silences.max-silences=1",
        "--silences.max-silence-size-bytes=400",
        "--log.silences",
    )
    try:
        first = post_silence(url)
        assert first.status_code == 200, first.text
        sid = first.json()["silenceID"]
        second = post_silence(url, name="Other")
        assert (second.status_code, second.json()) == (
            400,
            "exceeded maximum number of silences: 1 (limit: 1)",
        )
        too_big = post_silence(url, comment="x" * 400, sid=sid)
        assert too_big.status_code == 400
        assert too_big.json().startswith("silence exceeded maximum size: ")
        assert too_big.json().endswith(" bytes (limit: 400 bytes)")
        assert requests.delete(f"{url}/api/v2/silence/{sid}", timeout=10).status_code == 200
        wait_until(lambda: "expire silence" in proc.log_text(), timeout=10, message="no expiry logged")
        log = proc.log_text()
        assert f'msg="create silence" Id={sid} CreatedBy=ops Comment=maintenance' in log
        assert 'Matchers="alertname=Disk"' in log
    finally:
        proc.stop()


# -- --alerts.per-alertname-limit --------------------------------------------------------------


def test_per_alertname_limit_holds_across_web_instances(redis_server: RedisServer, tmp_path: Path) -> None:
    config = write_config(tmp_path / "am.yml", [webhook_receiver("http://127.0.0.1:9/")])
    dep = start_split(
        config,
        redis_server,
        2,
        1,
        "--alerts.per-alertname-limit=2",
        "--enable-feature=alert-names-in-metrics",
    )
    try:
        one, two = dep.web_urls
        for url, instance in ((one, "a"), (one, "b"), (two, "c")):
            r = requests.post(f"{url}/api/v2/alerts", json=[alert("Flood", instance=instance)], timeout=10)
            assert r.status_code == 200  # Alertmanager drops the alert and answers 200
        stored = sorted(a["labels"]["instance"] for a in dep.get("/api/v2/alerts"))
        assert stored == ["a", "b"]
        text = metrics(two)
        assert sample(text, "alertmanager_alerts_limited_total", alertname="Flood") == 1
        assert sample(text, "alertmanager_alerts_per_alert_limit") == 2
        assert 'msg="error on set alert" alertname=Flood err="alert limited"' in dep.logs()
        # Another alertname has a limit of its own.
        dep.post([alert("Other", instance="c")])
        assert len(dep.get("/api/v2/alerts")) == 3
    finally:
        dep.stop()


# -- --dispatch.start-delay, --dispatch.maintenance-interval, --data.maintenance-interval ------


def test_dispatch_start_delay_holds_notifications_from_the_start(tmp_path: Path) -> None:
    """The group is due a second after the alert, yet nothing is sent while the delay runs;
    once it has passed the group is flushed, never before the process start plus the delay."""
    with HttpSink() as sink:
        config = write_config(tmp_path / "am.yml", [webhook_receiver(sink.url)])
        url, proc = start("embedded", config, tmp_path, "--dispatch.start-delay=12s")
        try:
            started = parse_rfc3339(requests.get(f"{url}/api/v2/status", timeout=10).json()["uptime"])
            requests.post(f"{url}/api/v2/alerts", json=[alert("Held")], timeout=10).raise_for_status()
            wait_until(
                lambda: sample(metrics(url), "alerter_group_timers_overdue") >= 1,
                timeout=10,
                message="the group's timer never fell due",
            )
            assert sink.requests == []
            [first] = sink.wait_for(1, timeout=60)
            assert first.received_at >= started + 12
            assert (
                "holding notifications until the cluster's --dispatch.start-delay has passed"
                in proc.log_text()
            )
        finally:
            proc.stop()


def test_dispatch_maintenance_interval_rearms_a_lost_group_timer(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """A group whose timer is lost (its entry deleted from Redis, as a crash or failover can)
    would wait forever; the dispatcher's maintenance gives it one due at once."""
    with HttpSink() as sink:
        config = write_config(tmp_path / "am.yml", [webhook_receiver(sink.url)], route={"group_wait": "1h"})
        client = redis.Redis.from_url(redis_server.url)
        keys = Keys()
        url, proc = start(
            "embedded",
            config,
            tmp_path,
            f"--redis.url={redis_server.url}",
            "--dispatch.maintenance-interval=1s",
        )
        try:
            # Let the first maintenance pass go by, so that the lost timer waits for the next.
            wait_until(lambda: client.exists(keys.dispatch_maintenance_lock), timeout=10)
            requests.post(f"{url}/api/v2/alerts", json=[alert("Lost")], timeout=10).raise_for_status()
            assert client.zcard(keys.timers) == 1
            client.delete(keys.timers)
            [notification] = sink.wait_for(1, timeout=20)
            assert notification.json["alerts"][0]["labels"]["alertname"] == "Lost"
        finally:
            proc.stop()
            client.close()


def test_data_maintenance_interval_collects_silences_and_snapshots(tmp_path: Path) -> None:
    """Every --data.maintenance-interval: silences expired longer than --data.retention go, and
    the embedded state is written under --storage.path (not only at shutdown)."""
    config = write_config(tmp_path / "am.yml", [webhook_receiver("http://127.0.0.1:9/")])
    url, proc = start("embedded", config, tmp_path, "--data.maintenance-interval=1s", "--data.retention=1s")
    try:
        sid = post_silence(url).json()["silenceID"]
        assert requests.delete(f"{url}/api/v2/silence/{sid}", timeout=10).status_code == 200
        wait_until(
            lambda: requests.get(f"{url}/api/v2/silences", timeout=10).json() == [],
            timeout=20,
            message="the expired silence was never collected",
        )
        wait_until(lambda: (tmp_path / "data" / "alerter-state.json").exists(), timeout=20)
    finally:
        proc.stop()


# -- --cluster.peer-name, --cluster.peers-resolve-timeout, flags without effect ----------------


def test_peer_name_resolve_timeout_and_one_warning_per_flag_without_effect(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "am.yml", [webhook_receiver("http://127.0.0.1:9/")])
    url, proc = start(
        "web",
        config,
        tmp_path,
        f"--cluster.peer={HOST}:{redis_server.port}",
        "--cluster.peer=nowhere.invalid:6379",
        "--cluster.peers-resolve-timeout=2s",
        "--cluster.peer-name=web-a",
        "--cluster.allow-insecure-public-advertise-address-discovery",
        "--auto-gomemlimit.ratio=0.5",
        "--enable-feature=auto-gomemlimit,event-recorder",
        "--cluster.reconnect-interval=1m",
    )
    try:
        status = wait_until(
            lambda: (
                (s := requests.get(f"{url}/api/v2/status", timeout=10).json())["cluster"]["status"] == "ready"
                and s
            ),
            timeout=20,
        )
        assert status["cluster"]["name"] == "web-a"
        assert "web-a" in [p["name"] for p in status["cluster"]["peers"]]
        log = proc.log_text()
        assert (
            'msg="--cluster.peer host name did not resolve; trying it as given" peer=nowhere.invalid' in log
        )
        for flag in (
            "--cluster.allow-insecure-public-advertise-address-discovery",
            "--auto-gomemlimit.ratio",
            "--enable-feature=auto-gomemlimit",
            "--enable-feature=event-recorder",
            "--cluster.reconnect-interval",
        ):
            assert log.count(f'msg="{flag} has no effect: ') == 1, flag
    finally:
        proc.stop()


# -- --enable-feature: receiver-name-in-metrics, group-key-in-metrics ---------------------------


def test_receiver_name_and_group_key_in_metrics(tmp_path: Path) -> None:
    with HttpSink() as sink:
        config = write_config(tmp_path / "am.yml", [webhook_receiver(sink.url, name="hook")])
        dep = start_embedded(
            config, tmp_path / "data", "--enable-feature=receiver-name-in-metrics,group-key-in-metrics"
        )
        url = dep.web_urls[0]
        try:
            before = metrics(url)
            assert (
                'alertmanager_notifications_total{integration="webhook",receiver_name="hook"} 0.0' in before
            )
            assert 'integration="email"' not in before  # only the configured receivers' integrations
            dep.post([alert("Labelled")])
            sink.wait_for(1, timeout=15)
            text = wait_until(
                lambda: (
                    (t := metrics(url))
                    and sample(
                        t, "alertmanager_notifications_total", integration="webhook", receiver_name="hook"
                    )
                    == 1
                    and t
                ),
                timeout=10,
            )
            group_key = '{}:{alertname=\\"Labelled\\"}'
            assert sample(text, "alertmanager_alerts", state="active", group_key=group_key) == 1
            assert sample(text, "alertmanager_alerts", state="active") == 0  # no total without group key
        finally:
            dep.processes[0].stop()
