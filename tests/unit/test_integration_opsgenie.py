"""The Opsgenie integration against a real local server: create, update and close by alias, the
API key, retries, and the refused configs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.notify.errors import NotifyError
from tests.support.http_sink import HttpSink
from tests.support.integration_sends import TEAM_OPS, config_error, deliver, integration
from tests.support.notifications import EXTERNAL_URL

# This file's alert group (tests/support/integration_sends.py).
GROUP_KEY_HASH, alert, alert_text, notification, notification_of = (
    TEAM_OPS.key_hash,
    TEAM_OPS.alert,
    TEAM_OPS.alert_text,
    TEAM_OPS.notification,
    TEAM_OPS.notification_of,
)

SOURCE = EXTERNAL_URL + "/#/alerts?receiver=team%5C.ops"


def opsgenie(sink: HttpSink, **settings: Any) -> Any:
    return integration("opsgenie_configs", {"api_key": "og-key", "api_url": sink.url, **settings})


def test_create_with_the_defaults() -> None:
    with HttpSink() as sink:
        [request] = deliver(opsgenie(sink), notification("mixed"), sink)
    assert (request.method, request.path) == ("POST", "/v2/alerts")
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"] == "GenieKey og-key"
    assert request.json == {
        "alias": GROUP_KEY_HASH,
        "message": "[FIRING:1] InstanceDown (node page)",
        "description": "Instance down\nAlerts Firing:\n"
        + alert_text("a:9100")
        + "\nAlerts Resolved:\n"
        + alert_text("b:9100"),
        "details": {"alertname": "InstanceDown", "job": "node", "severity": "page"},
        "source": SOURCE,
    }


def test_close_when_resolved() -> None:
    with HttpSink() as sink:
        [request] = deliver(opsgenie(sink), notification("resolved"), sink)
    assert (request.method, request.path) == (
        "POST",
        f"/v2/alerts/{GROUP_KEY_HASH}/close?identifierType=alias",
    )
    assert request.headers["Authorization"] == "GenieKey og-key"
    assert request.json == {"source": SOURCE}


def test_every_field() -> None:
    settings = {
        "message": "{{ .CommonLabels.alertname }}",
        "description": "",
        "source": "prom",
        "details": {"job": "replaced", "team": "{{ .CommonLabels.job }}"},
        "entity": "{{ .GroupLabels.alertname }}",
        "responders": [
            {"name": "ops", "type": "team"},
            {"id": "1", "username": "u", "type": "User"},  # accepted lower-cased, sent as written
            {"name": "a, b,,", "type": "teams"},
            {"name": "{{ .CommonLabels.none }}", "type": "{{ .CommonLabels.none }}"},
        ],
        "tags": " x, y ,,",
        "actions": "restart",
        "note": "n",
        "priority": "P1",
    }
    with HttpSink() as sink:
        [request] = deliver(opsgenie(sink, **settings), notification("firing"), sink)
    assert list(request.json) == [
        "alias",
        "message",
        "details",
        "source",
        "responders",
        "tags",
        "note",
        "priority",
        "entity",
        "actions",
    ]
    assert request.json["details"] == {
        "alertname": "InstanceDown",
        "instance": "a:9100",
        "job": "replaced",
        "severity": "page",
        "team": "node",
    }
    assert request.json["responders"] == [
        {"name": "ops", "type": "team"},
        {"id": "1", "username": "u", "type": "User"},
        {"name": "a", "type": "team"},
        {"name": " b", "type": "team"},
    ]
    assert request.json["tags"] == ["x", " y "]
    assert (request.json["entity"], request.json["actions"]) == ("InstanceDown", ["restart"])


def test_update_alerts_also_puts_message_and_description() -> None:
    with HttpSink() as sink:
        requests = deliver(opsgenie(sink, update_alerts=True, description="d"), notification("firing"), sink)
    assert [(r.method, r.path) for r in requests] == [
        ("POST", "/v2/alerts"),
        ("PUT", f"/v2/alerts/{GROUP_KEY_HASH}/message?identifierType=alias"),
        ("PUT", f"/v2/alerts/{GROUP_KEY_HASH}/description?identifierType=alias"),
    ]
    assert requests[1].json == {"message": "[FIRING:1] InstanceDown (a:9100 node page)"}
    assert requests[2].json == {"description": "d"}
    assert all(r.headers["Authorization"] == "GenieKey og-key" for r in requests)


def test_requests_stop_at_the_first_refusal() -> None:
    with HttpSink(statuses=[422]) as sink:
        with pytest.raises(NotifyError, match="unexpected status code 422") as failure:
            deliver(opsgenie(sink, update_alerts=True), notification("firing"), sink)
        assert len(sink.requests) == 1
    assert not failure.value.retryable


def test_message_is_cut_to_130_characters() -> None:
    with HttpSink() as sink:
        [request] = deliver(opsgenie(sink, message="ж" * 200), notification("firing"), sink)
    assert len(request.json["message"]) == 130 and request.json["message"].endswith("ж…")


def test_api_url_path_and_query() -> None:
    with HttpSink() as sink:
        cfg = integration("opsgenie_configs", {"api_key": "k", "api_url": sink.url + "eu?tenant=x&b=1"})
        deliver(cfg, notification("firing"), sink)
        deliver(cfg, notification("resolved"), sink)
        paths = [r.path for r in sink.requests]
    assert paths == [
        "/eu/v2/alerts?tenant=x&b=1",
        f"/eu/v2/alerts/{GROUP_KEY_HASH}/close?b=1&identifierType=alias&tenant=x",
    ]


def test_api_key_from_global_file_and_template(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("from-file\n")
    with HttpSink() as sink:
        configs = [
            integration("opsgenie_configs", {"api_url": sink.url}, {"opsgenie_api_key": "global"}),
            integration("opsgenie_configs", {"api_url": sink.url}, {"opsgenie_api_key_file": str(key_file)}),
            integration(
                "opsgenie_configs",
                {"api_url": sink.url, "api_key_file": str(key_file)},
                {"opsgenie_api_key": "g"},
            ),
            integration("opsgenie_configs", {"api_url": sink.url, "api_key": "k-{{ .CommonLabels.job }}"}),
        ]
        keys = [deliver(cfg, notification("firing"), sink)[0].headers["Authorization"] for cfg in configs]
    assert keys == ["GenieKey global", "GenieKey from-file", "GenieKey from-file", "GenieKey k-node"]


def test_global_api_url() -> None:
    with HttpSink() as sink:
        cfg = integration("opsgenie_configs", {"api_key": "k"}, {"opsgenie_api_url": sink.url + "global"})
        [request] = deliver(cfg, notification("firing"), sink)
    assert request.path == "/global/v2/alerts"


def test_the_genie_key_is_sent_instead_of_http_config_credentials() -> None:
    with HttpSink() as sink:
        cfg = opsgenie(sink, http_config={"basic_auth": {"username": "u", "password": "p"}})
        [request] = deliver(cfg, notification("firing"), sink)
    assert request.headers.get_all("Authorization") == ["GenieKey og-key"]


@pytest.mark.parametrize(
    ("status", "retryable"), [(429, True), (500, True), (502, True), (400, False), (401, False)]
)
def test_retries(status: int, retryable: bool) -> None:
    with HttpSink(statuses=[status]) as sink, pytest.raises(NotifyError) as failure:
        deliver(opsgenie(sink), notification_of(alert("a")), sink)
    assert failure.value.retryable is retryable
    assert str(failure.value).startswith(f"opsgenie: unexpected status code {status}")


def test_unreadable_key_file_is_reported(tmp_path: Path) -> None:
    with HttpSink() as sink:
        cfg = integration("opsgenie_configs", {"api_url": sink.url, "api_key_file": str(tmp_path / "gone")})
        with pytest.raises(NotifyError, match="cannot read opsgenie api_key_file"):
            deliver(cfg, notification("firing"), sink)
        assert sink.requests == []


@pytest.mark.parametrize(
    ("settings", "global_", "message"),
    [
        ({}, {}, "no global OpsGenie API Key set either inline or in a file"),
        (
            {"api_key": "k", "responders": [{"type": "team"}]},
            {},
            "opsGenieConfig responder {   team} has to have at least one of id, username or name specified",
        ),
        (
            {"api_key": "k", "responders": [{"name": "n", "type": "squad"}]},
            {},
            "opsGenieConfig responder { n  squad} type does not match valid options "
            "^(team|teams|user|escalation|schedule)$",
        ),
        (
            {"api_key": "k", "responders": [{"name": "n", "type": "{{ .X "}]},
            {},
            "type contains invalid template syntax",
        ),
        (
            {"api_key": "k", "priority": "P6"},
            {},
            'opsgenie_configs: priority "P6" is not one of P1, P2, P3, P4, P5',
        ),
        ({"api_key": "k", "responders": [{"name": "n", "kind": "team"}]}, {}, "field kind not found"),
        ({"api_key": "k", "details": {"a": ["b"]}}, {}, "cannot unmarshal !!seq into string"),
        ({"api_key": "k", "update_alerts": "maybe"}, {}, "cannot unmarshal !!str `maybe` into bool"),
    ],
)
def test_config_refused(settings: dict[str, Any], global_: dict[str, Any], message: str) -> None:
    assert message in config_error("opsgenie_configs", settings, global_)


def test_templated_priority_is_accepted() -> None:
    cfg = integration("opsgenie_configs", {"api_key": "k", "priority": "{{ .CommonLabels.priority }}"})
    assert cfg.values["priority"] == "{{ .CommonLabels.priority }}"
