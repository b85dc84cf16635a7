"""The Mattermost integration against a local incoming webhook: the default attachment for each
status, configured attachments and fields, props and priority as Alertmanager normalises them,
Mattermost's text limit, the global webhook URL, and Alertmanager's retry rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import ConfigError
from app.notify.errors import NotifyError
from app.notify.integrations.mattermost import MAX_TEXT_RUNES, send_mattermost
from tests.support.http_sink import HttpSink
from tests.support.integration_sends import TEAM_X, integration
from tests.support.integration_sends import TEAM_X_SUBJECTS as SUBJECTS
from tests.support.notifications import EXTERNAL_URL
from tests.support.sendctx import send_ctx

# This file's alert group (tests/support/integration_sends.py).
notification, sections = TEAM_X.notification, TEAM_X.sections

PATH = "/hooks/secret-hook-id"
LINK = f"{EXTERNAL_URL}/#/alerts?receiver=team-x"


def mattermost(sink: HttpSink, **values: object) -> object:
    return integration("mattermost_configs", {"webhook_url": sink.url.rstrip("/") + PATH, **values})


@pytest.mark.parametrize(("kind", "color"), [("firing", "danger"), ("mixed", "danger"), ("resolved", "good")])
def test_default_post_is_one_attachment(kind: str, color: str) -> None:
    with HttpSink() as sink:
        send_mattermost(mattermost(sink), notification(kind), send_ctx(5))
        [request] = sink.wait_for(1, timeout=5)
    assert (request.method, request.path) == ("POST", PATH)
    assert request.headers["Content-Type"] == "application/json"
    assert request.json == {
        "username": "Alertmanager",
        "attachments": [
            {
                "fallback": f"{SUBJECTS[kind]} | {LINK}",
                "color": color,
                "text": "\n" + sections(kind, markdown=True),
                "title": SUBJECTS[kind],
                "title_link": LINK,
            }
        ],
    }


def test_channel_icons_type_props_fields_and_priority() -> None:
    fields = [
        {"title": "Job", "value": "{{ .CommonLabels.job }}", "short": True},
        {"title": "n", "value": "2"},
    ]
    with HttpSink() as sink:
        cfg = mattermost(
            sink,
            channel="#ops-{{ .CommonLabels.job }}",
            username="am",
            icon_url="https://icons.test/am.png",
            icon_emoji=":fire:",
            type="custom_alert",
            props={"card": "**{{ .Status }}**"},
            priority={"priority": "URGENT", "requested_ack": True, "persistent_notifications": True},
            text="t",
            title="",
            title_link="",
            fallback="",
            color="#FF0000",
            pretext="pre",
            author_name="Prometheus",
            footer="f",
            fields=fields,
        )
        send_mattermost(cfg, notification("firing"), send_ctx(5))
        [request] = sink.wait_for(1, timeout=5)
    assert request.json == {
        "channel": "#ops-node",
        "username": "am",
        "icon_url": "https://icons.test/am.png",
        "icon_emoji": ":fire:",
        "attachments": [
            {
                "color": "#FF0000",
                "pretext": "pre",
                "text": "t",
                "author_name": "Prometheus",
                "fields": [{"title": "Job", "value": "node", "short": True}, {"title": "n", "value": "2"}],
                "footer": "f",
            }
        ],
        "type": "custom_alert",
        "props": {"card": "**firing**"},
        "priority": {"priority": "urgent", "requested_ack": True, "persistent_notifications": True},
    }


@pytest.mark.parametrize(
    ("priority", "sent"),
    [
        ({"priority": "important", "requested_ack": True, "persistent_notifications": True},
         {"priority": "important", "requested_ack": True}),
        ({"priority": "Standard", "requested_ack": True}, {"priority": "standard"}),
        ({"priority": "critical", "persistent_notifications": True}, {"priority": "standard"}),
    ],
)  # fmt: skip
def test_priority_is_normalised_as_alertmanager_does(
    priority: dict[str, object], sent: dict[str, object]
) -> None:
    with HttpSink() as sink:
        send_mattermost(mattermost(sink, priority=priority), notification("firing"), send_ctx(5))
        [request] = sink.wait_for(1, timeout=5)
    assert request.json["priority"] == sent


def test_configured_attachments_and_the_post_text_cut_to_the_limit() -> None:
    attachments = [
        {"title": "{{ .Status }}", "text": "first", "fields": [{"title": "a", "value": "b", "short": False}]},
        {"color": "good", "image_url": "https://img.test/x.png"},
    ]
    with HttpSink() as sink:
        cfg = mattermost(sink, attachments=attachments, text="é" * 20000)
        send_mattermost(cfg, notification("resolved"), send_ctx(5))
        [request] = sink.wait_for(1, timeout=5)
    assert request.json["text"] == "é" * (MAX_TEXT_RUNES - 1) + "…"
    assert request.json["attachments"] == [
        {"text": "first", "title": "resolved", "fields": [{"title": "a", "value": "b", "short": False}]},
        {"color": "good", "image_url": "https://img.test/x.png"},
    ]
    assert list(request.json) == ["text", "username", "attachments"]


def test_global_webhook_url_file(tmp_path: Path) -> None:
    url_file = tmp_path / "url"
    with HttpSink() as sink:
        url_file.write_text(sink.url + "hooks/global\n")
        cfg = integration("mattermost_configs", {}, {"mattermost_webhook_url_file": str(url_file)})
        send_mattermost(cfg, notification("firing"), send_ctx(5))
        [request] = sink.wait_for(1, timeout=5)
    assert request.path == "/hooks/global"


def test_empty_webhook_url_file(tmp_path: Path) -> None:
    url_file = tmp_path / "url"
    url_file.write_text("\n")
    cfg = integration("mattermost_configs", {"webhook_url_file": str(url_file)})
    with pytest.raises(NotifyError) as err:
        send_mattermost(cfg, notification("firing"), send_ctx(5))
    assert (err.value.retryable, str(err.value)) == (False, "mattermost: webhook url missing")


@pytest.mark.parametrize(("status", "retryable"), [(400, False), (403, False), (429, False), (500, True)])
def test_refusals_name_the_channel_and_follow_alertmanagers_retrier(status: int, retryable: bool) -> None:
    with HttpSink(default_status=status) as sink, pytest.raises(NotifyError) as err:
        send_mattermost(mattermost(sink, channel="ops"), notification("firing"), send_ctx(5))
    assert err.value.retryable is retryable
    assert str(err.value) == f'mattermost: channel "ops": unexpected status code {status}: status {status}'
    assert "secret-hook-id" not in str(err.value)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "missing webhook_url or webhook_url_file on mattermost_config"),
        ({"webhook_url": "https://m.test/h", "fields": [{"value": "v"}]},
         "missing title in Mattermost field configuration"),
        ({"webhook_url": "https://m.test/h", "attachments": [{"fields": [{"title": "t"}]}]},
         "missing value in Mattermost field configuration"),
        ({"webhook_url": "https://m.test/h", "attachments": [{"colour": "red"}]},
         "field colour not found in type mattermost.MattermostAttachment"),
        ({"webhook_url": "https://m.test/h", "priority": {"level": "urgent"}},
         "field level not found in type mattermost.MattermostPriority"),
        ({"webhook_url": "https://m.test/h", "props": {"card": "c", "x": 1}},
         "field x not found in type mattermost.MattermostProps"),
        ({"webhook_url": "https://m.test/h", "webhook_url_file": "/f"},
         "at most one of webhook_url & webhook_url_file must be configured"),
    ],
)  # fmt: skip
def test_config_alertmanager_refuses_is_refused(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        integration("mattermost_configs", values)
    assert message in str(err.value)
