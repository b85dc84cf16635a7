"""Alertmanager's series that alerter derives in one process: the config's, the HTTP layer's,
the maintenance sweep's, the mute stages', and the web tier's process_* collector."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from hashlib import md5
from pathlib import Path

import fakeredis
import orjson
import pytest
import yaml
from flask.testing import FlaskClient
from prometheus_client import REGISTRY, CollectorRegistry, Histogram, ProcessCollector, generate_latest

from app import backend, metrics
from app.config import Route, TimeInterval, load_config_file
from app.jobs import bind_runtime
from app.runtime import Runtime
from app.settings import Settings
from app.silence import Silence, SilenceStage
from app.timeinterval import TimeIntervalStage
from app.timeutil import format_rfc3339
from app.web import create_app
from workers.housekeeping import sweep

CONFIG = {
    "route": {
        "receiver": "default",
        "group_by": ["alertname"],
        "routes": [{"matchers": ['severity="page"'], "receiver": "pager"}],
    },
    "receivers": [
        {"name": "default", "webhook_configs": [{"url": "http://127.0.0.1:9/"}]},
        {
            "name": "pager",
            "webhook_configs": [{"url": "http://127.0.0.1:9/a"}, {"url": "http://127.0.0.1:9/b"}],
            "email_configs": [{"to": "a@example.com", "from": "b@example.com", "smarthost": "localhost:25"}],
        },
        {"name": "unused", "webhook_configs": [{"url": "http://127.0.0.1:9/u"}]},
    ],
    "inhibit_rules": [{"source_matchers": ['severity="page"'], "target_matchers": ['severity="info"']}],
}


def value(name: str, **labels: str) -> float:
    found = REGISTRY.get_sample_value(name, labels)
    return 0.0 if found is None else found


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    path = tmp_path / "am.yml"
    path.write_text(yaml.safe_dump(CONFIG))
    settings = Settings(
        config_file=str(path),
        storage_path=str(tmp_path),
        external_url="http://am.example/",
        route_prefix="/am",
    )
    rt = Runtime(settings, fakeredis.FakeRedis(server=fakeredis.FakeServer()))
    bind_runtime(rt)
    yield rt


@pytest.fixture
def client(runtime: Runtime) -> FlaskClient:
    return create_app(runtime).test_client()


def test_config_series_describe_the_config_in_effect(runtime: Runtime) -> None:
    """Receivers are those a route uses (Alertmanager builds no others), integrations are theirs,
    and the hash is Alertmanager's: the first six bytes of the file's MD5, little-endian."""
    assert value("alertmanager_receivers") == 2
    assert value("alertmanager_integrations") == 4
    assert value("alertmanager_inhibition_rules") == 1
    assert value("alertmanager_config_last_reload_successful") == 1
    original = Path(runtime.settings.config_file).read_bytes()
    (expected,) = struct.unpack("<Q", md5(original).digest()[:6] + b"\0\0")
    assert value("alertmanager_config_hash") == expected
    other = Path(runtime.settings.config_file).with_name("other.yml")
    other.write_text(yaml.safe_dump({**CONFIG, "inhibit_rules": []}))
    metrics.config_applied(load_config_file(str(other)))
    assert value("alertmanager_config_hash") != expected
    assert value("alertmanager_inhibition_rules") == 0


def test_build_info_names_alerter_s_version() -> None:
    samples = [s for m in REGISTRY.collect() if m.name == "alertmanager_build_info" for s in m.samples]
    assert len(samples) == 1 and samples[0].value == 1
    assert samples[0].labels["goversion"].startswith("python3")
    assert set(samples[0].labels) == {"version", "revision", "branch", "goversion", "goos", "goarch", "tags"}


def test_every_route_is_timed_under_alertmanager_s_handler_names(client: FlaskClient) -> None:
    def duration_count(handler: str, method: str, code: str) -> float:
        return value(
            "alertmanager_http_request_duration_seconds_count", handler=handler, method=method, code=code
        )

    def size_count(handler: str, method: str) -> float:
        return value("alertmanager_http_response_size_bytes_count", handler=handler, method=method)

    before = {
        "healthy": duration_count("/-/healthy", "get", "200"),
        "healthy_size": size_count("/-/healthy", "get"),
        "healthy_bytes": value(
            "alertmanager_http_response_size_bytes_sum", handler="/-/healthy", method="get"
        ),
        "ingest": duration_count("/api/v2/alerts", "post", "200"),
        "silence": duration_count("/api/v2/silence/{silenceID}", "get", "404"),
        "ingest_size": size_count("/api/v2/alerts", "post"),
        # Other tests' unclosed responses stay in flight: Flask's test client closes a body only
        # when the response is closed.
        "in_flight": value("alertmanager_http_requests_in_flight", method="get"),
    }
    assert client.get("/am/-/healthy", buffered=True).status_code == 200
    now = time.time()
    body = [
        {"labels": {"alertname": "A"}, "startsAt": format_rfc3339(now), "endsAt": format_rfc3339(now + 60)}
    ]
    assert (
        client.post("/am/api/v2/alerts", json=body, buffered=True).status_code == 200
    )  # the ingest fast path
    assert (
        client.get("/am/api/v2/silence/0f2d4b1e-0000-4000-8000-000000000000", buffered=True).status_code
        == 404
    )
    assert client.get("/am/no/such/page", buffered=True).status_code == 404

    assert duration_count("/-/healthy", "get", "200") == before["healthy"] + 1
    assert size_count("/-/healthy", "get") == before["healthy_size"] + 1
    healthy_bytes = value("alertmanager_http_response_size_bytes_sum", handler="/-/healthy", method="get")
    assert healthy_bytes == before["healthy_bytes"] + len("OK")
    assert duration_count("/api/v2/alerts", "post", "200") == before["ingest"] + 1
    assert duration_count("/api/v2/silence/{silenceID}", "get", "404") == before["silence"] + 1
    # Alertmanager measures no response sizes on API v2, and does not time unknown paths.
    assert size_count("/api/v2/alerts", "post") == before["ingest_size"] == 0
    handlers = {
        s.labels["handler"]
        for m in REGISTRY.collect()
        if m.name == "alertmanager_http_request_duration_seconds"
        for s in m.samples
    }
    assert not any("no/such" in h or h.startswith("/am") for h in handlers)
    assert value("alertmanager_http_requests_in_flight", method="get") == before["in_flight"]


def test_each_request_is_timed_and_the_ingest_fast_path_answers_an_empty_200(client: FlaskClient) -> None:
    """Repeated requests go to the same series (looked up once); a 200 of the fast path has no
    body and says so."""
    before = value(
        "alertmanager_http_request_duration_seconds_count",
        handler="/api/v2/alerts",
        method="post",
        code="200",
    )
    for _ in range(3):
        response = client.post("/am/api/v2/alerts", json=[{"labels": {"alertname": "A"}}], buffered=True)
        assert (response.status_code, response.data, response.headers["Content-Length"]) == (200, b"", "0")
        assert "Content-Type" not in response.headers
    after = value(
        "alertmanager_http_request_duration_seconds_count",
        handler="/api/v2/alerts",
        method="post",
        code="200",
    )
    assert after == before + 3


def test_a_get_is_in_flight_until_its_body_is_closed(client: FlaskClient) -> None:
    """Flask's test client closes an unbuffered body when the test closes the response, as a
    server does once it has sent it."""
    before = value("alertmanager_http_requests_in_flight", method="get")
    response = client.get("/am/-/healthy")
    assert value("alertmanager_http_requests_in_flight", method="get") == before + 1
    response.close()
    assert value("alertmanager_http_requests_in_flight", method="get") == before


def test_a_sweep_is_one_maintenance_of_both_states_with_a_snapshot_of_each(runtime: Runtime) -> None:
    now = time.time()
    runtime.silences.set(
        Silence.decode(
            orjson.dumps(
                {
                    "id": "",
                    "m": [["alertname", "=", "A"]],
                    "s": now,
                    "e": now + 60,
                    "u": 0,
                    "by": "t",
                    "c": "c",
                }
            )
        )
    )
    names = ("nflog", "silences")
    runs = {n: value(f"alertmanager_{n}_maintenance_total") for n in names}
    gcs = {n: value(f"alertmanager_{n}_gc_duration_seconds_count") for n in names}
    snapshots = {n: value(f"alertmanager_{n}_snapshot_duration_seconds_count") for n in names}
    done = sweep()
    for n in names:
        assert value(f"alertmanager_{n}_maintenance_total") == runs[n] + 1
        assert value(f"alertmanager_{n}_gc_duration_seconds_count") == gcs[n] + 1
        assert value(f"alertmanager_{n}_snapshot_duration_seconds_count") == snapshots[n] + 1
    saved = orjson.loads(Path(runtime.settings.storage_path, backend.SNAPSHOT_FILE).read_bytes())
    assert len(saved) == done["snapshot_keys"]
    silences_part = orjson.dumps(runtime.keys.silences) + b":" + orjson.dumps(saved[runtime.keys.silences])
    assert value("alertmanager_silences_snapshot_size_bytes") == len(silences_part)
    assert value("alertmanager_nflog_snapshot_size_bytes") == 0  # nothing notified yet: no log


def test_a_failed_sweep_counts_as_a_failed_maintenance(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    errors = value("alertmanager_silences_maintenance_errors_total")
    gc_errors = value("alertmanager_silences_gc_errors_total")
    monkeypatch.setattr(runtime.silences, "gc", lambda _now: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        sweep()
    assert value("alertmanager_silences_maintenance_errors_total") == errors + 1
    assert value("alertmanager_nflog_maintenance_errors_total") >= 1
    assert value("alertmanager_silences_gc_errors_total") == gc_errors + 1


def test_each_mute_stage_counts_what_it_suppressed(client: FlaskClient, runtime: Runtime) -> None:
    """One count per alert a stage keeps from a notification, under Alertmanager's reason."""

    def suppressed(reason: str) -> float:
        return value("alertmanager_notifications_suppressed_total", reason=reason)

    reasons = ("silence", "inhibition", "mute_time_interval", "active_time_interval")
    before = {r: suppressed(r) for r in reasons}
    now = time.time()
    body = [
        {"labels": labels, "startsAt": format_rfc3339(now), "endsAt": format_rfc3339(now + 60)}
        for labels in ({"alertname": "Src", "severity": "page"}, {"alertname": "Tgt", "severity": "info"})
    ]
    assert client.post("/am/api/v2/alerts", json=body, buffered=True).status_code == 200
    alerts = sorted(runtime.store.alerts(), key=lambda a: a.labels["alertname"])
    assert runtime.inhibitor.mute_stage(alerts, None, None, now) == alerts[:1]
    runtime.silences.set(
        Silence.decode(
            orjson.dumps(
                {
                    "id": "",
                    "m": [["alertname", "=", "Src"]],
                    "s": now,
                    "e": now + 60,
                    "u": 0,
                    "by": "t",
                    "c": "c",
                }
            )
        )
    )
    assert SilenceStage(runtime.silences, max_age=0)(alerts, None, None, time.time()) == alerts[1:]
    never, always = TimeInterval(years=[(1990, 1990)]), TimeInterval()
    stage = TimeIntervalStage(lambda: {"never": [never], "always": [always]}, lambda group, names: None)
    assert stage(alerts, None, Route(active_time_intervals=["never"]), now) == []
    assert stage(alerts, None, Route(mute_time_intervals=["always"]), now) == []
    assert stage(alerts, None, Route(), now) == alerts
    assert {r: suppressed(r) - before[r] for r in reasons} == {
        "inhibition": 1,
        "silence": 1,
        "active_time_interval": 2,
        "mute_time_interval": 2,
    }


def test_the_web_tier_is_one_process_with_its_children_s_cpu_and_memory() -> None:
    """Run against this test process as the "master": its children are the workers."""
    own = {m.name: m.samples[0].value for m in ProcessCollector(registry=None).collect()}
    collector = metrics.WebTierProcessCollector(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        with_child = {m.name: m.samples[0].value for m in collector.collect()}
        assert with_child["process_start_time_seconds"] == own["process_start_time_seconds"]
        assert with_child["process_max_fds"] == own["process_max_fds"]
        child_vsize = int(Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[20])
        assert with_child["process_virtual_memory_bytes"] >= child_vsize
        assert with_child["process_virtual_memory_bytes"] > own["process_virtual_memory_bytes"]
    finally:
        child.communicate(b"")
    # A worker that exited still counts in the CPU total (the master's reaped children).
    before = next(m.samples[0].value for m in collector.collect() if m.name == "process_cpu_seconds")
    burner = subprocess.Popen([sys.executable, "-c", "sum(i * i for i in range(3_000_000))"])
    _, _, usage = os.wait4(burner.pid, 0)
    after = next(m.samples[0].value for m in collector.collect() if m.name == "process_cpu_seconds")
    assert after - before >= usage.ru_utime + usage.ru_stime - 0.05


def test_a_process_that_has_not_loaded_its_config_shows_no_failed_reload(tmp_path: Path) -> None:
    """Under gunicorn, alertmanager_config_last_reload_successful is the least over the live
    processes: a web worker still loading its config must not count as a 0 meanwhile."""
    config = tmp_path / "alertmanager.yml"
    config.write_text(yaml.safe_dump(CONFIG))
    files = tmp_path / "metrics"
    files.mkdir()
    script = f"""
import os
os.environ["PROMETHEUS_MULTIPROC_DIR"] = {str(files)!r}
from prometheus_client import CollectorRegistry, generate_latest, multiprocess
from app import metrics
from app.config import load_config_file

def reload_success():
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    lines = generate_latest(registry).decode().splitlines()
    return [l for l in lines if l.startswith("alertmanager_config_last_reload_successful ")]

print(reload_success())
metrics.config_applied(load_config_file({str(config)!r}))
print(reload_success())
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == ["[]", "['alertmanager_config_last_reload_successful 1.0']"]


def test_observe_many_exposes_what_observing_one_by_one_does() -> None:
    """observe_many adds to prometheus_client's own values of a histogram child: if a release
    stores them otherwise, the two expositions differ here."""
    amounts = [0.0, 0.2, 1.0, 1.5, 4.99, 5.0, 12.0, 20.0, 20.5, 300.0, 0.7]
    expositions = []
    for batched in (False, True):
        registry = CollectorRegistry()
        child = Histogram("h", "h", ["integration"], buckets=(1, 5, 10, 15, 20), registry=registry)
        series = child.labels("webhook")
        if batched:
            metrics.observe_many(series, amounts[:4])
            metrics.observe_many(series, amounts[4:])
            metrics.observe_many(series, [])
        else:
            for amount in amounts:
                series.observe(amount)
        expositions.append(generate_latest(registry))
    assert expositions[0] == expositions[1]
    assert b'h_bucket{integration="webhook",le="1.0"} 4.0' in expositions[1]
