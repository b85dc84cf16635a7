"""Input Alertmanager refuses, alerter refuses with the same status (issue 11 point 3).

Each request goes to a real Alertmanager 0.25 and to alerter in classic-mode (0.25's label-name
rules), and the two status codes must be equal. The bodies differ in form on purpose: for a 400
or 422 of its generated server Alertmanager writes a JSON object, against its own spec's string;
alerter writes the message as a JSON string.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from app.timeutil import format_rfc3339
from tests.e2e.conftest import Deployment, start_embedded, webhook_receiver, write_config
from tests.support.oracle import Alertmanager

CONFIG = {"route": {"receiver": "hook"}, "receivers": [webhook_receiver("http://127.0.0.1:9/")]}


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    tmp = tmp_path_factory.mktemp("parity")
    am = Alertmanager(CONFIG)
    node = start_embedded(
        write_config(tmp / "am.yml", CONFIG["receivers"]), tmp / "data", "--enable-feature=classic-mode"
    )
    try:
        yield am.url, node.web_urls[0]
    finally:
        am.stop()
        _stop(node)


def _stop(dep: Deployment) -> None:
    dep.stop()


def silence(**changes: Any) -> dict[str, Any]:
    now = time.time()
    return {
        "matchers": [{"name": "alertname", "value": "Parity", "isRegex": False}],
        "startsAt": format_rfc3339(now),
        "endsAt": format_rfc3339(now + 3600),
        "createdBy": "parity",
        "comment": "issue 11",
        **changes,
    }


REQUESTS: list[tuple[str, str, str, Any]] = [
    # (what, method, path, JSON body)
    ("silence ending 9999-12-31", "POST", "/silences", silence(endsAt="9999-12-31T00:00:00Z")),
    (
        "silence regex past RE2's repetition limit",
        "POST",
        "/silences",
        silence(matchers=[{"name": "a", "value": "((a{1000}){1000}){1000}", "isRegex": True}]),
    ),
    (
        'isRegex: "yes"',
        "POST",
        "/silences",
        silence(matchers=[{"name": "a", "value": "b", "isRegex": "yes"}]),
    ),
    ("isRegex missing", "POST", "/silences", silence(matchers=[{"name": "a", "value": "b"}])),
    ("no matchers", "POST", "/silences", silence(matchers=[])),
    (
        "NUL in a silence's label name",
        "POST",
        "/silences",
        silence(matchers=[{"name": "a\u0000b", "value": "b", "isRegex": False}]),
    ),
    ("startsAt that is a date", "POST", "/silences", silence(startsAt="2026-01-01")),
    ("createdBy a number", "POST", "/silences", silence(createdBy=5)),
    ("comment missing", "POST", "/silences", {k: v for k, v in silence().items() if k != "comment"}),
    ("NUL in an alert's label name", "POST", "/alerts", [{"labels": {"a\u0000b": "x"}}]),
    ("alerts body an object", "POST", "/alerts", {"labels": {"a": "b"}}),
    ("alert without labels", "POST", "/alerts", [{}]),
    ("label value a number", "POST", "/alerts", [{"labels": {"a": 5}}]),
    ("alert startsAt a date", "POST", "/alerts", [{"labels": {"a": "b"}, "startsAt": "2020-01-01"}]),
    ("generatorURL not a URI", "POST", "/alerts", [{"labels": {"a": "b"}, "generatorURL": "not a uri"}]),
    (
        "generatorURL with a bad port",
        "POST",
        "/alerts",
        [{"labels": {"a": "b"}, "generatorURL": "http://h:x/"}],
    ),
    ("silence id not a UUID", "GET", "/silence/nope", None),
    ("delete of an id not a UUID", "DELETE", "/silence/nope", None),
]


@pytest.mark.parametrize(("what", "method", "path", "body"), REQUESTS, ids=[r[0] for r in REQUESTS])
def test_alertmanagers_status_for_bad_input(
    servers: tuple[str, str], what: str, method: str, path: str, body: Any
) -> None:
    answers = [requests.request(method, f"{base}/api/v2{path}", json=body, timeout=10) for base in servers]
    (am, ours) = answers
    assert am.status_code in (400, 422), f"{what}: Alertmanager answered {am.status_code} {am.text}"
    assert ours.status_code == am.status_code, (
        f"{what}: alerter {ours.status_code} {ours.text}, Alertmanager {am.text}"
    )
    assert isinstance(ours.json(), str) and ours.json(), ours.text


def test_a_second_delete_is_a_200_in_both(servers: tuple[str, str]) -> None:
    for base in servers:
        sid = requests.post(f"{base}/api/v2/silences", json=silence(), timeout=10).json()["silenceID"]
        first = requests.delete(f"{base}/api/v2/silence/{sid}", timeout=10)
        second = requests.delete(f"{base}/api/v2/silence/{sid}", timeout=10)
        assert (first.status_code, second.status_code, second.content) == (200, 200, b""), base


def test_old_times_and_empty_generator_url_read_back_alike(servers: tuple[str, str]) -> None:
    name = f"Old{uuid.uuid4().hex[:8]}"
    sent = [
        {
            "labels": {"alertname": name},
            "startsAt": "0118-08-31T01:02:03Z",
            "endsAt": "2999-01-01T00:00:00Z",
            "generatorURL": "",
        }
    ]
    shown = []
    for base in servers:
        assert requests.post(f"{base}/api/v2/alerts", json=sent, timeout=10).status_code == 200
        [alert] = requests.get(
            f"{base}/api/v2/alerts", params={"filter": f"alertname={name}"}, timeout=10
        ).json()
        shown.append((alert["startsAt"], alert["endsAt"], "generatorURL" in alert))
    assert shown[0] == shown[1] == ("0118-08-31T01:02:03.000Z", "2999-01-01T00:00:00.000Z", False)


def test_an_unknown_silence_id_is_a_404(servers: tuple[str, str]) -> None:
    """Alertmanager 0.25 answers 500 to a DELETE of an unknown id; alerter keeps the 404 of the
    spec and of later Alertmanagers. A GET is a 404 in both."""
    unknown = str(uuid.uuid4())
    am, ours = servers
    assert requests.get(f"{am}/api/v2/silence/{unknown}", timeout=10).status_code == 404
    assert requests.get(f"{ours}/api/v2/silence/{unknown}", timeout=10).status_code == 404
    assert requests.delete(f"{ours}/api/v2/silence/{unknown}", timeout=10).status_code == 404


def test_the_classic_mode_node_used_here_is_alerters_0_25_mode(tmp_path: Path) -> None:
    """Without classic-mode alerter takes any UTF-8 label name, a NUL included, as Alertmanager
    0.28+ does; the parity above is with 0.25's rules."""
    node = start_embedded(write_config(tmp_path / "am.yml", CONFIG["receivers"]), tmp_path / "data")
    try:
        r = requests.post(
            f"{node.web_urls[0]}/api/v2/alerts", json=[{"labels": {"a\u0000b": "x"}}], timeout=10
        )
        assert r.status_code == 200
        [alert] = requests.get(f"{node.web_urls[0]}/api/v2/alerts", timeout=10).json()
        assert alert["labels"] == {"a\u0000b": "x"}
    finally:
        _stop(node)
