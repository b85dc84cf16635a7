"""The Webex integration against a local Messages API: the message field by field for each status,
the bot token from http_config, the templated room, Webex's size limit, the global API URL, and
which refusals are retried."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import ConfigError
from app.notify.errors import NotifyError
from app.notify.integrations._common import setting
from app.notify.integrations.webex import MAX_MESSAGE_BYTES, send_webex
from tests.support.http_sink import HttpSink
from tests.support.integration_sends import TEAM_X, integration
from tests.support.sendctx import send_ctx

# This file's alert group (tests/support/integration_sends.py).
notification, sections = TEAM_X.notification, TEAM_X.sections

AUTH = {"authorization": {"credentials": "webex-bot-token"}}


def webex(sink: HttpSink, **values: object) -> object:
    return integration(
        "webex_configs",
        {"api_url": sink.url + "v1/messages", "room_id": "room-1", "http_config": AUTH, **values},
    )


@pytest.mark.parametrize("kind", ["firing", "mixed", "resolved"])
def test_default_message_for_each_status(kind: str) -> None:
    with HttpSink() as sink:
        send_webex(webex(sink), notification(kind), send_ctx(5))
        [request] = sink.wait_for(1, timeout=5)
    assert (request.method, request.path) == ("POST", "/v1/messages")
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"] == "Bearer webex-bot-token"
    # The common annotations' values (only the summary is common), then the sections.
    assert request.json == {"markdown": "Instance down\n" + sections(kind), "roomId": "room-1"}


def test_room_is_a_template_and_left_out_when_empty() -> None:
    with HttpSink() as sink:
        send_webex(webex(sink, room_id="{{ .CommonLabels.job }}-room"), notification("firing"), send_ctx(5))
        send_webex(webex(sink, room_id="{{ .CommonLabels.nothing }}"), notification("firing"), send_ctx(5))
        templated, empty = sink.wait_for(2, timeout=5)
    assert templated.json["roomId"] == "node-room"
    assert list(empty.json) == ["markdown"]


def test_message_is_cut_to_webexs_size_in_bytes() -> None:
    with HttpSink() as sink:
        send_webex(webex(sink, message="x" + "€" * 3000), notification("firing"), send_ctx(5))
        [request] = sink.wait_for(1, timeout=5)
    markdown = request.json["markdown"]
    assert len(markdown.encode()) <= MAX_MESSAGE_BYTES and markdown.endswith("€…")
    # Whole characters only: 1 byte, then 3-byte euros, then the 3-byte marker.
    assert markdown == "x" + "€" * ((MAX_MESSAGE_BYTES - 3 - 1) // 3) + "…"


def test_global_api_url_token_file_and_default_url(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("from-file\n")
    http = {"authorization": {"type": "Bearer", "credentials_file": str(token)}}
    with HttpSink() as sink:
        cfg = integration(
            "webex_configs", {"room_id": "r", "http_config": http}, {"webex_api_url": sink.url + "g"}
        )
        send_webex(cfg, notification("firing"), send_ctx(5))
        [request] = sink.wait_for(1, timeout=5)
    assert (request.path, request.headers["Authorization"]) == ("/g", "Bearer from-file")
    default = integration("webex_configs", {"room_id": "r", "http_config": AUTH})
    assert setting(default, "api_url") == "https://webexapis.com/v1/messages"


@pytest.mark.parametrize(("status", "retryable"), [(400, False), (401, False), (429, False), (502, True)])
def test_refusals_follow_alertmanagers_retrier(status: int, retryable: bool) -> None:
    with HttpSink(default_status=status) as sink, pytest.raises(NotifyError) as err:
        send_webex(webex(sink), notification("firing"), send_ctx(5))
    assert err.value.retryable is retryable
    assert str(err.value) == f"webex: unexpected status code {status}: status {status}"
    assert "webex-bot-token" not in str(err.value)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"http_config": AUTH}, "missing room_id on webex_config"),
        ({"room_id": "r"}, "missing webex_configs.http_config.authorization"),
        ({"room_id": "r", "http_config": AUTH, "api_url": "webex.test"}, 'unsupported scheme "" for URL'),
    ],
)
def test_config_alertmanager_refuses_is_refused(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        integration("webex_configs", values)
    assert message in str(err.value)
