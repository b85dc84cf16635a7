"""The Discord integration against a local webhook: the embed field by field for each status, the
optional content, username and avatar, Discord's limits, the webhook URL from a file, and which
refusals are retried."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import ConfigError
from app.notify.errors import NotifyError
from app.notify.integrations.discord import (
    COLOR_FIRING,
    COLOR_RESOLVED,
    MAX_CONTENT_RUNES,
    MAX_DESCRIPTION_RUNES,
    MAX_TITLE_RUNES,
    send_discord,
)
from tests.support.http_sink import HttpSink
from tests.support.integration_sends import TEAM_X, integration, no_content
from tests.support.integration_sends import TEAM_X_SUBJECTS as SUBJECTS
from tests.support.sendctx import send_ctx

# This file's alert group (tests/support/integration_sends.py).
notification, sections = TEAM_X.notification, TEAM_X.sections

PATH = "/api/webhooks/1234/very-secret-token"


def discord(sink: HttpSink, **values: object) -> object:
    return integration("discord_configs", {"webhook_url": sink.url.rstrip("/") + PATH, **values})


def test_firing_sends_one_embed_with_the_default_title_and_message() -> None:
    with HttpSink(responder=no_content) as sink:
        send_discord(discord(sink), notification("firing"), send_ctx(5))
        [request] = sink.wait_for(1, timeout=5)
    assert (request.method, request.path) == ("POST", PATH)
    assert request.headers["Content-Type"] == "application/json"
    description = (
        "\n\nAlerts Firing:\n"
        "Labels:\n - alertname = InstanceDown\n - instance = db1:9100\n - job = node\n"
        "Annotations:\n - description = db1:9100 <unreachable> & silent\n - summary = Instance down\n"
        "Source: http://prometheus.test/graph?g0.expr=up%3D%3D0&g0.tab=1\n"
        "Labels:\n - alertname = InstanceDown\n - instance = db2:9100\n - job = node\n"
        "Annotations:\n - description = db2:9100 <unreachable> & silent\n - summary = Instance down\n"
        "Source: http://prometheus.test/graph?g0.expr=up%3D%3D0&g0.tab=1\n"
        "\n\n\n"
    )
    assert request.json == {
        "content": "",
        "embeds": [
            {"title": "[FIRING:2] InstanceDown (node)", "description": description, "color": 0x992D22}
        ],
    }
    assert list(request.json) == ["content", "embeds"]  # no username nor avatar_url unless set


@pytest.mark.parametrize(("kind", "color"), [("mixed", COLOR_FIRING), ("resolved", COLOR_RESOLVED)])
def test_partly_resolved_is_red_and_resolved_green(kind: str, color: int) -> None:
    with HttpSink(responder=no_content) as sink:
        send_discord(discord(sink), notification(kind), send_ctx(5))
        [request] = sink.wait_for(1, timeout=5)
    [embed] = request.json["embeds"]
    assert embed == {"title": SUBJECTS[kind], "description": "\n" + sections(kind), "color": color}
    assert (COLOR_FIRING, COLOR_RESOLVED) == (10038562, 3066993)


def test_content_username_and_avatar() -> None:
    with HttpSink(responder=no_content) as sink:
        cfg = discord(
            sink,
            content="<@&123> {{ .Status }}",
            title="{{ .CommonLabels.job }}",
            message="{{ len .Alerts }} alerts",
            username="Alertmanager {{ not templated }}",
            avatar_url="https://cdn.test/am.png",
        )
        send_discord(cfg, notification("firing"), send_ctx(5))
        [request] = sink.wait_for(1, timeout=5)
    assert request.json == {
        "content": "<@&123> firing",
        "embeds": [{"title": "node", "description": "2 alerts", "color": COLOR_FIRING}],
        "username": "Alertmanager {{ not templated }}",
        "avatar_url": "https://cdn.test/am.png",
    }


def test_texts_are_cut_to_discords_limits() -> None:
    with HttpSink(responder=no_content) as sink:
        cfg = discord(sink, title="T" * 300, message="é" * 5000, content="c" * 2001)
        send_discord(cfg, notification("firing"), send_ctx(5))
        [request] = sink.wait_for(1, timeout=5)
    [embed] = request.json["embeds"]
    assert embed["title"] == "T" * (MAX_TITLE_RUNES - 1) + "…"
    assert embed["description"] == "é" * (MAX_DESCRIPTION_RUNES - 1) + "…"
    assert request.json["content"] == "c" * (MAX_CONTENT_RUNES - 1) + "…"


def test_webhook_url_file_is_read_at_every_send(tmp_path: Path) -> None:
    url_file = tmp_path / "discord-url"
    with HttpSink(responder=no_content) as sink:
        url_file.write_text(sink.url + "api/webhooks/1/first\n")
        cfg = integration("discord_configs", {"webhook_url_file": str(url_file)})
        send_discord(cfg, notification("firing"), send_ctx(5))
        url_file.write_text(sink.url + "api/webhooks/1/second")
        send_discord(cfg, notification("firing"), send_ctx(5))
        first, second = sink.wait_for(2, timeout=5)
    assert (first.path, second.path) == ("/api/webhooks/1/first", "/api/webhooks/1/second")


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(400, False), (401, False), (404, False), (429, False), (500, True), (503, True)],
)
def test_refusals_follow_alertmanagers_retrier(status: int, retryable: bool) -> None:
    with HttpSink(default_status=status) as sink, pytest.raises(NotifyError) as err:
        send_discord(discord(sink), notification("firing"), send_ctx(5))
    assert err.value.retryable is retryable
    assert str(err.value) == f"discord: unexpected status code {status}: status {status}"
    assert "very-secret-token" not in str(err.value)


def test_unreachable_webhook_is_retried_without_its_url_in_the_error() -> None:
    with HttpSink() as sink:
        url = sink.url + "api/webhooks/1/very-secret-token"
    with pytest.raises(NotifyError) as err:
        send_discord(
            integration("discord_configs", {"webhook_url": url}), notification("firing"), send_ctx(2)
        )
    assert err.value.retryable and "very-secret-token" not in str(err.value)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "one of webhook_url or webhook_url_file must be configured"),
        ({"webhook_url": "https://d.test/x", "webhook_url_file": "/f"},
         "at most one of webhook_url & webhook_url_file must be configured"),
        ({"webhook_url": "discord.test/x"}, 'unsupported scheme "" for URL'),
        ({"webhook_url": "https://d.test/x", "avatar_url": "https://cdn.test/%zz.png"},
         "discord_configs: avatar_url is not a valid URL (invalid URL escape)"),
        ({"webhook_url": "https://d.test/x", "color": "red"}, "field color not found in type discord.plain"),
    ],
)  # fmt: skip
def test_config_alertmanager_refuses_is_refused(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        integration("discord_configs", values)
    assert message in str(err.value)
