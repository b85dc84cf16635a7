"""The Rocket.Chat integration against a local HTTP server answering as chat.postMessage does:
the message and its attachment as Alertmanager builds them, the token headers (inline, files,
global), fields and actions, the title limit, Rocket.Chat's verdicts and the config checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.config import ConfigError, RawIntegration
from app.notify.errors import NotifyError
from app.notify.integrations.rocketchat import send_rocketchat
from tests.support.http_sink import HttpSink, ReceivedRequest
from tests.support.integration_sends import integration
from tests.support.notifications import alert, notification
from tests.support.sendctx import send_ctx

OK = (200, b'{"success": true, "ts": 1}', "application/json")


def accept(_: ReceivedRequest) -> tuple[int, bytes, str]:
    return OK


@pytest.fixture
def sink():  # type: ignore[no-untyped-def]
    with HttpSink(responder=accept) as server:
        yield server


def config(sink: HttpSink, **item: Any) -> RawIntegration:
    return integration("rocketchat_configs", {"api_url": sink.url, "token": "tok", "token_id": "uid", **item})


def sent(sink: HttpSink) -> dict[str, Any]:
    [request] = sink.wait_for(1, timeout=5)
    assert request.method == "POST" and request.path == "/api/v1/chat.postMessage"
    return request.json  # type: ignore[no-any-return]


def test_firing_message_with_alertmanagers_defaults(sink: HttpSink) -> None:
    n = notification(alert(alertname="DiskFull", instance="a"), alert(alertname="DiskFull", instance="b"))
    send_rocketchat(config(sink, channel="#ops"), n, send_ctx(5))
    [request] = sink.requests
    assert request.headers["X-Auth-Token"] == "tok"
    assert request.headers["X-User-Id"] == "uid"
    assert request.headers["Content-Type"] == "application/json"
    assert request.json == {
        "channel": "#ops",
        "attachments": [
            {
                "title": "[FIRING:2] DiskFull ",
                "title_link": "http://alerter.test:9093/#/alerts?receiver=team",
                "color": "red",
            }
        ],
    }


def test_resolved_and_partly_resolved_messages(sink: HttpSink) -> None:
    send_rocketchat(config(sink), notification(alert(False, alertname="DiskFull", instance="a")), send_ctx(5))
    n = notification(
        alert(alertname="DiskFull", instance="a"), alert(False, alertname="DiskFull", instance="b")
    )
    send_rocketchat(config(sink), n, send_ctx(5))
    resolved, partly = (r.json["attachments"][0] for r in sink.wait_for(2, timeout=5))
    assert resolved["title"] == "[RESOLVED] DiskFull (a)" and resolved["color"] == "green"
    assert partly["title"] == "[FIRING:1] DiskFull " and partly["color"] == "red"
    assert "channel" not in sink.requests[0].json  # empty values are left out, as Go's omitempty


def test_every_templated_field_fields_and_actions(sink: HttpSink) -> None:
    cfg = config(
        sink,
        channel="@{{ .CommonLabels.owner }}",
        color="#ff0000",
        emoji=":fire:",
        icon_url="https://icons.test/a.png",
        title="{{ .Status }}",
        title_link="https://dash.test",
        text="{{ range .Alerts }}{{ .Labels.instance }} {{ end }}",
        image_url="https://img.test/i.png",
        thumb_url="https://img.test/t.png",
        short_fields=True,
        link_names=True,
        fields=[
            {"title": "Instance", "value": "{{ .CommonLabels.instance }}"},
            {"title": "Long", "value": "v", "short": False},
            {"title": "No value"},
        ],
        actions=[
            {"text": "Runbook", "url": "https://runbooks.test/{{ .CommonLabels.alertname }}", "msg": "ack"}
        ],
    )
    send_rocketchat(cfg, notification(alert(alertname="DiskFull", instance="a", owner="bob")), send_ctx(5))
    assert sent(sink) == {
        "channel": "@bob",
        "emoji": ":fire:",
        "avatar": "https://icons.test/a.png",
        "attachments": [
            {
                "title": "firing",
                "title_link": "https://dash.test",
                "text": "a ",
                "image_url": "https://img.test/i.png",
                "thumb_url": "https://img.test/t.png",
                "color": "#ff0000",
                "fields": [
                    {"short": True, "title": "Instance", "value": "a"},
                    {"short": False, "title": "Long", "value": "v"},
                    {"short": True, "title": "No value"},
                ],
                "actions": [
                    {
                        "type": "button",
                        "text": "Runbook",
                        "url": "https://runbooks.test/DiskFull",
                        "is_webview": False,
                        "msg": "ack",
                        "msg_in_chat_window": False,
                    }
                ],
            }
        ],
    }


def test_title_is_cut_to_1024_characters(sink: HttpSink) -> None:
    send_rocketchat(config(sink, title="é" * 2000), notification(alert(alertname="x")), send_ctx(5))
    assert sent(sink)["attachments"][0]["title"] == "é" * 1023 + "…"


def test_tokens_from_files_and_the_global_section(sink: HttpSink, tmp_path: Path) -> None:
    (tmp_path / "token").write_text("file-token\n")
    (tmp_path / "id").write_text(" file-id ")
    from_files = integration(
        "rocketchat_configs",
        {
            "api_url": sink.url + "chat/",
            "token_file": str(tmp_path / "token"),
            "token_id_file": str(tmp_path / "id"),
        },
    )
    from_global = integration(
        "rocketchat_configs",
        {},
        {"rocketchat_api_url": sink.url, "rocketchat_token": "g-token", "rocketchat_token_id": "g-id"},
    )
    send_rocketchat(from_files, notification(alert(alertname="x")), send_ctx(5))
    send_rocketchat(from_global, notification(alert(alertname="x")), send_ctx(5))
    files, glob = sink.wait_for(2, timeout=5)
    assert files.path == "/chat/api/v1/chat.postMessage"
    assert (files.headers["X-Auth-Token"], files.headers["X-User-Id"]) == ("file-token", "file-id")
    assert (glob.headers["X-Auth-Token"], glob.headers["X-User-Id"]) == ("g-token", "g-id")


@pytest.mark.parametrize(
    ("answer", "retryable", "message"),
    [
        ((200, b'{"success": false, "error": "error-not-allowed"}'), False, "error response from Rocketchat"),
        ((200, b"<html>ok</html>"), True, "could not unmarshal JSON response"),
        ((500, b"down"), True, "unexpected status code 500: down"),
        ((400, b'{"success": false}'), False, "unexpected status code 400"),
        ((401, b"no"), False, "unexpected status code 401"),
    ],
)
def test_rocketchats_verdicts(answer: tuple[int, bytes], retryable: bool, message: str) -> None:
    with (
        HttpSink(responder=lambda _: (*answer, "application/json")) as sink,
        pytest.raises(NotifyError) as err,
    ):
        send_rocketchat(config(sink, channel="#ops"), notification(alert(alertname="x")), send_ctx(5))
    assert err.value.retryable is retryable
    assert str(err.value).startswith('rocketchat: channel "#ops": ')
    assert message in str(err.value)
    assert "tok" not in str(err.value).replace("rocketchat", "")


def test_an_unreadable_token_file_fails_the_send(sink: HttpSink, tmp_path: Path) -> None:
    cfg = integration(
        "rocketchat_configs",
        {"api_url": sink.url, "token_file": str(tmp_path / "missing"), "token_id": "uid"},
    )
    with pytest.raises(NotifyError) as err:
        send_rocketchat(cfg, notification(alert(alertname="x")), send_ctx(5))
    assert "token_file" in str(err.value)
    assert sink.requests == []


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"fields": [{"titel": "x"}]}, "field titel not found in type rocketchat.RocketchatAttachmentField"),
        ({"fields": [None]}, "empty item in rocketchat_config fields"),
        ({"actions": [{"text": "a", "confirm": True}]}, "field confirm not found in type rocketchat.Rocketc"),
        ({"actions": "go"}, "cannot unmarshal !!str `go` into []*rocketchat.RocketchatAttachmentAction"),
        ({"short_fields": "yes please"}, "cannot unmarshal !!str `yes please` into bool"),
        ({"title": ["a"]}, "cannot unmarshal !!seq into string"),
        ({"api_url": "chat.test"}, 'unsupported scheme "" for URL'),
        ({"token": None}, "no global Rocketchat Token set either inline or in a file"),
    ],
)
def test_config_is_checked_as_alertmanager_checks_it(item: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        integration("rocketchat_configs", {"token": "t", "token_id": "i", **item})
    assert message in str(err.value)


def test_config_defaults_and_the_action_fields_alertmanager_accepts() -> None:
    cfg = integration(
        "rocketchat_configs",
        {"token": "t", "token_id": "i", "actions": [{"text": "a", "imageurl": "x", "iswebview": True}]},
    )
    assert cfg.send_resolved is False
