"""The VictorOps integration against a real local server: the event, its URL with the API key
and routing key, message types, retries, and the refused configs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.notify.errors import NotifyError
from tests.support.http_sink import HttpSink
from tests.support.integration_sends import TEAM_OPS, config_error, deliver, integration

# This file's alert group (tests/support/integration_sends.py).
GROUP_KEY_HASH, alert_text, notification = TEAM_OPS.key_hash, TEAM_OPS.alert_text, TEAM_OPS.notification


def victorops(sink: HttpSink, **settings: Any) -> Any:
    return integration(
        "victorops_configs", {"api_key": "vo-key", "api_url": sink.url, "routing_key": "ops", **settings}
    )


def test_firing_event_with_the_defaults() -> None:
    with HttpSink() as sink:
        [request] = deliver(victorops(sink), notification("mixed"), sink)
    assert (request.method, request.path) == ("POST", "/vo-key/ops")
    assert request.headers["Content-Type"] == "application/json"
    assert request.json == {
        "entity_display_name": "[FIRING:1] InstanceDown (node page)",
        "entity_id": GROUP_KEY_HASH,
        "message_type": "CRITICAL",
        "monitoring_tool": "Alertmanager",
        "state_message": "Instance down\nAlerts Firing:\n"
        + alert_text("a:9100")
        + "\nAlerts Resolved:\n"
        + alert_text("b:9100"),
    }
    assert list(request.json) == sorted(request.json)  # a Go map


def test_resolved_event_is_a_recovery() -> None:
    with HttpSink() as sink:
        [request] = deliver(victorops(sink, message_type="WARNING"), notification("resolved"), sink)
    assert request.json["message_type"] == "RECOVERY"
    assert request.json["entity_display_name"] == "[RESOLVED] InstanceDown (node page)"
    assert request.json["state_message"].startswith("Instance down\n\nAlerts Resolved:\n")


@pytest.mark.parametrize(
    ("message_type", "sent"),
    [
        ("WARNING", "WARNING"),
        ("INFO", "INFO"),
        ("{{ .CommonLabels.job }}", "CRITICAL"),
        ("{{ `WARNING` }}", "WARNING"),
    ],
)
def test_message_type_while_firing(message_type: str, sent: str) -> None:
    with HttpSink() as sink:
        [request] = deliver(victorops(sink, message_type=message_type), notification("firing"), sink)
    assert request.json["message_type"] == sent


def test_fields_and_custom_fields_are_rendered() -> None:
    settings = {
        "routing_key": "team-{{ .CommonLabels.job }}",
        "state_message": "{{ len .Alerts }} down",
        "entity_display_name": "{{ .GroupLabels.alertname }}",
        "monitoring_tool": "prom",
        "custom_fields": {"a_team": "{{ .CommonLabels.job }}", "z": "<&>"},
    }
    with HttpSink() as sink:
        [request] = deliver(victorops(sink, **settings), notification("firing"), sink)
    assert request.path == "/vo-key/team-node"
    assert request.json == {
        "a_team": "node",
        "entity_display_name": "InstanceDown",
        "entity_id": GROUP_KEY_HASH,
        "message_type": "CRITICAL",
        "monitoring_tool": "prom",
        "state_message": "1 down",
        "z": "<&>",
    }
    assert list(request.json) == sorted(request.json)
    assert b'"z":"\\u003c\\u0026\\u003e"' in request.body


def test_state_message_is_cut_to_20480_characters() -> None:
    with HttpSink() as sink:
        [request] = deliver(victorops(sink, state_message="€" * 30000), notification("firing"), sink)
    assert len(request.json["state_message"]) == 20480


def test_url_path_is_escaped_as_go_escapes_it() -> None:
    with HttpSink() as sink:
        cfg = integration(
            "victorops_configs", {"api_key": "k", "api_url": sink.url + "base", "routing_key": "a b?c/d:é"}
        )
        [request] = deliver(cfg, notification("firing"), sink)
    assert request.path == "/base/k/a%20b%3Fc/d:%C3%A9"


def test_api_key_from_global_and_files(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("file-key\n")
    with HttpSink() as sink:
        configs = [
            integration(
                "victorops_configs",
                {"api_url": sink.url, "routing_key": "r"},
                {"victorops_api_key": "global"},
            ),
            integration(
                "victorops_configs",
                {"api_url": sink.url, "routing_key": "r"},
                {"victorops_api_key_file": str(key_file)},
            ),
            integration(
                "victorops_configs", {"api_url": sink.url, "routing_key": "r", "api_key_file": str(key_file)}
            ),
        ]
        paths = [deliver(cfg, notification("firing"), sink)[0].path for cfg in configs]
    assert paths == ["/global/r", "/file-key/r", "/file-key/r"]


def test_global_api_url() -> None:
    with HttpSink() as sink:
        cfg = integration(
            "victorops_configs", {"api_key": "k", "routing_key": "r"}, {"victorops_api_url": sink.url + "g/"}
        )
        [request] = deliver(cfg, notification("firing"), sink)
    assert request.path == "/g/k/r"


@pytest.mark.parametrize(("status", "retryable"), [(500, True), (503, True), (429, False), (400, False)])
def test_retries(status: int, retryable: bool) -> None:
    with HttpSink(statuses=[status]) as sink, pytest.raises(NotifyError) as failure:
        deliver(victorops(sink), notification("firing"), sink)
    assert failure.value.retryable is retryable


def test_errors_never_show_the_api_key() -> None:
    with HttpSink() as sink:
        cfg = integration(
            "victorops_configs", {"api_key": "SECRETKEY", "api_url": sink.url, "routing_key": "r"}
        )
    with pytest.raises(NotifyError, match="connection failed") as failure:
        deliver(cfg, notification("firing"), sink)
    assert failure.value.retryable
    assert "SECRETKEY" not in str(failure.value)


@pytest.mark.parametrize(
    ("settings", "global_", "message"),
    [
        ({"api_key": "k"}, {}, "missing Routing key in VictorOps config"),
        ({"routing_key": "r"}, {}, "no global VictorOps API Key set"),
        (
            {"api_key": "k", "routing_key": "r", "custom_fields": {"entity_id": "x"}},
            {},
            "victorOps config contains custom field entity_id",
        ),
        (
            {"api_key": "k", "routing_key": "r", "message_type": "critical"},
            {},
            'victorops_configs: message_type "critical" is not one of INFO, WARNING, CRITICAL',
        ),
        ({"api_key": "k", "routing_key": "r", "api_url": "ftp://x"}, {}, "unsupported scheme"),
        ({"api_key": "k", "routing_key": "r", "custom_fields": ["x"]}, {}, "cannot unmarshal !!seq"),
    ],
)
def test_config_refused(settings: dict[str, Any], global_: dict[str, Any], message: str) -> None:
    assert message in config_error("victorops_configs", settings, global_)
