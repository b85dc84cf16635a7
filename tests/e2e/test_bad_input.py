"""Bad input to POST /api/v2/alerts gets a clear 4xx, and nothing of the bad alerts is stored."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
import requests

from tests.e2e.conftest import Deployment, alert, start_embedded, webhook_receiver, write_config


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    tmp = tmp_path_factory.mktemp("bad-input")
    dep = start_embedded(
        write_config(tmp / "am.yml", [webhook_receiver("http://127.0.0.1:9/")]), tmp / "data"
    )
    yield dep
    dep.stop()


def post_raw(dep: Deployment, data: bytes) -> requests.Response:
    return requests.post(
        f"{dep.web_urls[0]}/api/v2/alerts",
        data=data,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )


def stored_names(dep: Deployment) -> set[str]:
    return {a["labels"].get("alertname", "") for a in dep.get("/api/v2/alerts")}


def test_malformed_json_is_400(node: Deployment) -> None:
    r = post_raw(node, b'[{"labels": {"alertname": "Broken"}')
    assert r.status_code == 400
    assert "malformed JSON" in r.json()
    assert "Broken" not in stored_names(node)


def test_body_that_is_not_a_list_is_400(node: Deployment) -> None:
    """Alertmanager cannot decode an object into its list of alerts: 400, as for malformed JSON."""
    r = requests.post(f"{node.web_urls[0]}/api/v2/alerts", json=alert("NotAList"), timeout=10)
    assert r.status_code == 400
    assert "JSON array" in r.json()
    assert "NotAList" not in stored_names(node)


def test_alert_without_labels_key_refuses_the_whole_batch(node: Deployment) -> None:
    good = alert("GoodInBadBatch")
    r = requests.post(f"{node.web_urls[0]}/api/v2/alerts", json=[good, {"annotations": {}}], timeout=10)
    assert r.status_code == 422
    assert "alert 1: labels in body is required" in r.json()
    assert "GoodInBadBatch" not in stored_names(node)


def test_invalid_alerts_are_named_and_valid_ones_in_the_batch_are_kept(node: Deployment) -> None:
    no_labels = {**alert("x"), "labels": {}}
    empty_name = {**alert("x"), "labels": {"alertname": "EmptyName", "": "v"}}
    backwards = {**alert("Backwards"), "startsAt": "2024-01-02T00:00:00Z", "endsAt": "2024-01-01T00:00:00Z"}
    r = requests.post(
        f"{node.web_urls[0]}/api/v2/alerts",
        json=[alert("Valid"), no_labels, empty_name, backwards],
        timeout=10,
    )
    assert r.status_code == 400
    message = r.json()
    assert "alert 1 (0 labels): at least one label pair required" in message
    assert "alert 2 (alertname=EmptyName): empty label name" in message
    assert "alert 3 (alertname=Backwards): start time must be before end time" in message
    names = stored_names(node)
    assert "Valid" in names
    assert not names & {"EmptyName", "Backwards"}


def test_ten_megabyte_body_is_413(node: Deployment) -> None:
    big = [alert("Huge", instance=str(i), filler="x" * 1000) for i in range(10_000)]
    r = requests.post(f"{node.web_urls[0]}/api/v2/alerts", json=big, timeout=60)
    assert r.status_code == 413
    assert "smaller batches" in r.json()
    assert "Huge" not in stored_names(node)


def test_chunked_body_takes_the_same_rules(node: Deployment) -> None:
    """A body without Content-Length bypasses the ingest fast path; the answers must not differ."""

    def chunks(data: bytes) -> Iterator[bytes]:
        yield data[:10]
        yield data[10:]

    url = f"{node.web_urls[0]}/api/v2/alerts"
    ok = requests.post(url, data=chunks(orjson.dumps([alert("Chunked")])), timeout=10)
    assert ok.status_code == 200
    assert "Chunked" in stored_names(node)
    bad_body = orjson.dumps([alert("ChunkedBad"), {"annotations": {}}])
    bad = requests.post(url, data=chunks(bad_body), timeout=10)
    assert bad.status_code == 422
    assert "alert 1: labels in body is required" in bad.json()
    assert "ChunkedBad" not in stored_names(node)


def test_classic_mode_refuses_utf8_label_names(tmp_path: Path) -> None:
    dep = start_embedded(
        write_config(tmp_path / "am.yml", [webhook_receiver("http://127.0.0.1:9/")]),
        tmp_path / "data",
        "--enable-feature=classic-mode",
    )
    try:
        r = requests.post(
            f"{dep.web_urls[0]}/api/v2/alerts", json=[alert("Dotted", **{"service.name": "api"})], timeout=10
        )
        assert r.status_code == 400
        assert 'invalid label name "service.name"' in r.json()
        assert "Dotted" not in stored_names(dep)
    finally:
        dep.stop()


def chunked(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    """The body as a generator: requests sends it with Transfer-Encoding: chunked, no length."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_chunked_bodies_over_the_limit_are_413_and_never_parsed(
    deploy: Callable[[Path], Deployment], tmp_path: Path
) -> None:
    """Under the embedded werkzeug server and under gunicorn alike: a chunked body is refused
    once it passes 4 MiB, not cut at 4 MiB and parsed."""
    dep = deploy(write_config(tmp_path / "am.yml", [webhook_receiver("http://127.0.0.1:9/")]))
    url = dep.web_urls[0]
    valid_5mib = orjson.dumps([alert("Big", instance=str(i), filler="x" * 1000) for i in range(5000)])
    assert len(valid_5mib) > 5 * 1024 * 1024
    garbage_past_the_limit = orjson.dumps([alert("Sneaky")]) + b" " * (4 * 1024 * 1024) + b"garbage"
    for body in (valid_5mib, garbage_past_the_limit):
        r = requests.post(f"{url}/api/v2/alerts", data=chunked(body), timeout=60)
        assert (r.status_code, r.headers["Content-Type"]) == (413, "application/json")
        assert "limit of 4194304 bytes; send alerts in smaller batches" in r.json()
    silence = b'{"comment": "' + b"x" * (5 * 1024 * 1024) + b'"}'
    assert requests.post(f"{url}/api/v2/silences", data=chunked(silence), timeout=60).status_code == 413
    within = requests.post(
        f"{url}/api/v2/alerts", data=chunked(orjson.dumps([alert("Small")]), 7), timeout=10
    )
    assert within.status_code == 200
    assert {a["labels"]["alertname"] for a in dep.get("/api/v2/alerts")} == {"Small"}
    assert dep.get("/api/v2/silences") == []
