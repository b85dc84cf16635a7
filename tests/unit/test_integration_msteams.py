"""The two Microsoft Teams integrations against local webhooks: the legacy connector's MessageCard
(msteams) and the Workflows' Adaptive Card (msteamsv2), field by field for each status, with their
URLs from files and Alertmanager's retry rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import ConfigError
from app.notify.errors import NotifyError
from app.notify.integrations.msteams import send_msteams
from app.notify.integrations.msteamsv2 import send_msteamsv2
from tests.support.http_sink import HttpSink
from tests.support.integration_sends import TEAM_X, integration
from tests.support.integration_sends import TEAM_X_SUBJECTS as SUBJECTS
from tests.support.sendctx import send_ctx

# This file's alert group (tests/support/integration_sends.py).
notification, sections = TEAM_X.notification, TEAM_X.sections

PATH = "/webhookb2/secret-part@tenant/IncomingWebhook/abc/def"


def teams(key: str, sink: HttpSink, **values: object) -> object:
    return integration(key, {"webhook_url": sink.url.rstrip("/") + PATH, **values})


@pytest.mark.parametrize(
    ("kind", "color"), [("firing", "8C1A1A"), ("mixed", "8C1A1A"), ("resolved", "2DC72D")]
)
def test_message_card_for_each_status(kind: str, color: str) -> None:
    with HttpSink() as sink:
        send_msteams(teams("msteams_configs", sink), notification(kind), send_ctx(5))
        [request] = sink.wait_for(1, timeout=5)
    assert (request.method, request.path) == ("POST", PATH)
    assert request.headers["Content-Type"] == "application/json"
    assert request.json == {
        "@context": "http://schema.org/extensions",
        "type": "MessageCard",
        "title": SUBJECTS[kind],
        "summary": SUBJECTS[kind],
        "text": "\n" + sections(kind, markdown=True),
        "themeColor": color,
    }
    assert list(request.json) == ["@context", "type", "title", "summary", "text", "themeColor"]


@pytest.mark.parametrize(
    ("kind", "color"), [("firing", "Attention"), ("mixed", "Attention"), ("resolved", "Good")]
)
def test_adaptive_card_for_each_status(kind: str, color: str) -> None:
    with HttpSink() as sink:
        send_msteamsv2(teams("msteamsv2_configs", sink), notification(kind), send_ctx(5))
        [request] = sink.wait_for(1, timeout=5)
    assert (request.method, request.path) == ("POST", PATH)
    heading = {
        "type": "TextBlock",
        "text": SUBJECTS[kind],
        "weight": "Bolder",
        "size": "Medium",
        "wrap": True,
        "style": "heading",
        "color": color,
    }
    assert request.json == {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.2",
                    "body": [
                        heading,
                        {"type": "TextBlock", "text": "\n" + sections(kind, markdown=True), "wrap": True},
                    ],
                    "msteams": {"width": "full"},
                },
            }
        ],
    }
    assert b'"contentUrl":null' in request.body


def test_own_templates(tmp_path: Path) -> None:
    url_file = tmp_path / "url"
    with HttpSink() as sink:
        url_file.write_text(sink.url + "from-file\n")
        v1 = integration(
            "msteams_configs",
            {
                "webhook_url_file": str(url_file),
                "title": "{{ .Status }}",
                "summary": "s",
                "text": "**{{ len .Alerts }}**",
            },
        )
        v2 = integration("msteamsv2_configs", {"webhook_url_file": str(url_file), "title": "", "text": "t"})
        send_msteams(v1, notification("firing"), send_ctx(5))
        send_msteamsv2(v2, notification("resolved"), send_ctx(5))
        card, adaptive = sink.wait_for(2, timeout=5)
    assert card.path == adaptive.path == "/from-file"
    assert (card.json["title"], card.json["summary"], card.json["text"]) == ("firing", "s", "**2**")
    title, text = adaptive.json["attachments"][0]["content"]["body"]
    assert (title["text"], title["color"], text["text"]) == ("", "Good", "t")


@pytest.mark.parametrize("send", [send_msteams, send_msteamsv2])
@pytest.mark.parametrize(("status", "retryable"), [(400, False), (413, False), (429, False), (500, True)])
def test_refusals_follow_alertmanagers_retrier(send: object, status: int, retryable: bool) -> None:
    key = "msteams_configs" if send is send_msteams else "msteamsv2_configs"
    with HttpSink(default_status=status) as sink, pytest.raises(NotifyError) as err:
        send(teams(key, sink), notification("firing"), send_ctx(5))  # type: ignore[operator]
    assert err.value.retryable is retryable
    assert str(err.value).endswith(f": unexpected status code {status}: status {status}")
    assert "secret-part" not in str(err.value)


@pytest.mark.parametrize("key", ["msteams_configs", "msteamsv2_configs"])
@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "one of webhook_url or webhook_url_file must be configured"),
        ({"webhook_url": "https://t.test/x", "webhook_url_file": "/f"},
         "at most one of webhook_url & webhook_url_file must be configured"),
        ({"webhook_url": "t.test/x"}, 'unsupported scheme "" for URL'),
    ],
)  # fmt: skip
def test_config_alertmanager_refuses_is_refused(key: str, values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        integration(key, values)
    assert message in str(err.value)


def test_workflow_with_its_own_http_config_still_goes_through_the_global_proxy() -> None:
    """Alertmanager 0.34: msteamsv2's own http_config without proxy_url takes the global one."""
    with HttpSink() as proxy:
        own_http = {"http_config": {"follow_redirects": False}}
        global_ = {"http_config": {"proxy_url": proxy.url}}
        v2 = integration(
            "msteamsv2_configs", {"webhook_url": "http://teams.test/workflow", **own_http}, global_
        )
        v1 = integration("msteams_configs", {"webhook_url": "http://127.0.0.1:9/direct", **own_http}, global_)
        send_msteamsv2(v2, notification("firing"), send_ctx(5))
        [through_proxy] = proxy.wait_for(1, timeout=5)
        with pytest.raises(NotifyError):  # the legacy connector's own http_config has no proxy
            send_msteams(v1, notification("firing"), send_ctx(2))
    assert (v2.http_config.proxy_url, v2.http_config.follow_redirects) == (proxy.url, False)
    assert through_proxy.path == "http://teams.test/workflow"
    assert len(proxy.requests) == 1
