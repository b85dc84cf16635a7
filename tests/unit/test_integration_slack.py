"""The Slack integration against a real local server: the message, where it goes (webhook URL or
app token), how Slack's answer is judged, and the config Alertmanager (or alerter) refuses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.notify.errors import NotifyError
from app.notify.integrations._common import send_timeout
from app.notify.transport import USER_AGENT
from app.template import Templates
from tests.support.http_sink import HttpSink, ReceivedRequest
from tests.support.integration_sends import TEAM_OPS, config_error, deliver, integration
from tests.support.sendctx import send_ctx

# This file's alert group (tests/support/integration_sends.py).
notification = TEAM_OPS.notification

LINK = "http://alerter.test:9093/#/alerts?receiver=team%5C.ops"


def answer(status: int, body: bytes, content_type: str) -> Any:
    return lambda _request: (status, body, content_type)


def webhook(**answered: Any) -> HttpSink:
    """A Slack incoming webhook: answers "ok" as text."""
    return HttpSink(responder=answer(200, b"ok", "text/plain"), **answered)


def attachment(title: str, color: str) -> dict[str, Any]:
    return {
        "title": title,
        "title_link": LINK,
        "text": "",
        "fallback": f"{title} | {LINK}",
        "callback_id": "",
        "footer": "",
        "color": color,
        "mrkdwn_in": ["fallback", "pretext", "text"],
    }


@pytest.mark.parametrize(
    ("state", "title", "color"),
    [
        ("firing", "[FIRING:1] InstanceDown (a:9100 node page)", "danger"),
        ("mixed", "[FIRING:1] InstanceDown (node page)", "danger"),
        ("resolved", "[RESOLVED] InstanceDown (node page)", "good"),
    ],
)
def test_default_message(state: str, title: str, color: str) -> None:
    with webhook() as sink:
        cfg = integration(
            "slack_configs", {"api_url": sink.url + "services/T0/B0/XXXX", "send_resolved": True}
        )
        [request] = deliver(cfg, notification(state), sink)
    assert (request.method, request.path) == ("POST", "/services/T0/B0/XXXX")
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"] == USER_AGENT
    assert "Authorization" not in request.headers
    assert request.json == {"username": "Alertmanager", "attachments": [attachment(title, color)]}
    assert request.body.endswith(b"}\n")  # Go's json.Encoder


def test_every_field_rendered_in_alertmanagers_order() -> None:
    settings = {
        "channel": "#{{ .CommonLabels.job }}",
        "username": "bot",
        "icon_emoji": ":fire:",
        "icon_url": "https://img.test/i.png",
        "link_names": True,
        "message_text": "top-level {{ .Status }}",  # Alertmanager 0.31+
        "title": "t",
        "title_link": "https://t.test/",
        "pretext": "p",
        "text": "{{ len .Alerts }} alerts",
        "fallback": "f",
        "callback_id": "c",
        "image_url": "https://img.test/x.png",
        "thumb_url": "https://img.test/y.png",
        "footer": "foot",
        "color": "#123456",
        "mrkdwn_in": ["text"],
        "short_fields": True,
        "fields": [{"title": "A", "value": "{{ .Status }}"}, {"title": "B", "value": "b", "short": False}],
        "actions": [
            {"type": "button", "text": "Go", "url": "https://x.test/", "name": "ignored", "value": "ignored"},
            {"type": "button", "text": "Ack", "name": "ack", "confirm": {"text": "Sure?"}},
        ],
    }
    with webhook() as sink:
        [request] = deliver(
            integration("slack_configs", {"api_url": sink.url, **settings}), notification("mixed"), sink
        )
    body = request.body.decode()
    assert list(request.json) == [
        "channel",
        "username",
        "icon_emoji",
        "icon_url",
        "link_names",
        "text",
        "attachments",
    ]
    assert request.json["channel"] == "#node"
    assert request.json["text"] == "top-level firing"
    [att] = request.json["attachments"]
    assert list(att) == [
        "title",
        "title_link",
        "pretext",
        "text",
        "fallback",
        "callback_id",
        "fields",
        "actions",
        "image_url",
        "thumb_url",
        "footer",
        "color",
        "mrkdwn_in",
    ]
    assert att["text"] == "2 alerts"
    assert att["fields"] == [
        {"title": "A", "value": "firing", "short": True},
        {"title": "B", "value": "b", "short": False},
    ]
    # A URL button drops the message-button settings, as Alertmanager's config does.
    assert att["actions"] == [
        {"type": "button", "text": "Go", "url": "https://x.test/"},
        {"type": "button", "text": "Ack", "name": "ack", "confirm": {"text": "Sure?"}},
    ]
    assert '"link_names":true' in body


def test_title_is_cut_to_1024_characters() -> None:
    with webhook() as sink:
        cfg = integration("slack_configs", {"api_url": sink.url, "title": "ü" * 2000})
        [request] = deliver(cfg, notification("firing"), sink)
    title = request.json["attachments"][0]["title"]
    assert len(title) == 1024 and title.endswith("ü…")


def test_go_escapes_html_characters() -> None:
    with webhook() as sink:
        [request] = deliver(
            integration("slack_configs", {"api_url": sink.url, "username": "<a&b>"}),
            notification("firing"),
            sink,
        )
    assert b'"username":"\\u003ca\\u0026b\\u003e"' in request.body


def test_api_url_file_is_read_at_every_send(tmp_path: Path) -> None:
    url_file = tmp_path / "slack-url"
    with webhook() as sink:
        cfg = integration("slack_configs", {"api_url_file": str(url_file)})
        url_file.write_text(sink.url + "first\n")
        deliver(cfg, notification("firing"), sink)
        url_file.write_text(sink.url + "second")
        deliver(cfg, notification("firing"), sink)
        assert [r.path for r in sink.requests] == ["/first", "/second"]


def test_global_api_url_and_its_file(tmp_path: Path) -> None:
    with webhook() as sink:
        deliver(
            integration("slack_configs", {}, {"slack_api_url": sink.url + "global"}),
            notification("firing"),
            sink,
        )
        url_file = tmp_path / "url"
        url_file.write_text(sink.url + "global-file")
        deliver(
            integration("slack_configs", {}, {"slack_api_url_file": str(url_file)}),
            notification("firing"),
            sink,
        )
        assert [r.path for r in sink.requests] == ["/global", "/global-file"]


def chat_api() -> HttpSink:
    """Slack's Web API: JSON answers."""
    return HttpSink(responder=answer(200, b'{"ok":true,"channel":"C1","ts":"1.2"}', "application/json"))


def test_app_token_posts_to_app_url_with_a_bearer(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("xoxb-from-file\n")
    with chat_api() as sink:
        own = integration(
            "slack_configs", {"app_token": "xoxb-inline", "app_url": sink.url + "api/chat.postMessage"}
        )
        from_file = integration(
            "slack_configs", {"app_token_file": str(token_file), "app_url": sink.url + "own"}
        )
        inherited = integration(
            "slack_configs",
            {"channel": "#c"},
            {"slack_app_token": "xoxb-global", "slack_app_url": sink.url + "global"},
        )
        requests: list[ReceivedRequest] = []
        for cfg in (own, from_file, inherited):
            requests += deliver(cfg, notification("firing"), sink)
    assert [(r.path, r.headers["Authorization"]) for r in requests] == [
        ("/api/chat.postMessage", "Bearer xoxb-inline"),
        ("/own", "Bearer xoxb-from-file"),
        ("/global", "Bearer xoxb-global"),
    ]


def test_own_api_url_wins_over_a_global_app_token() -> None:
    with webhook() as sink:
        cfg = integration("slack_configs", {"api_url": sink.url + "hook"}, {"slack_app_token": "xoxb-global"})
        [request] = deliver(cfg, notification("firing"), sink)
    assert request.path == "/hook" and "Authorization" not in request.headers


@pytest.mark.parametrize(
    ("status", "body", "content_type", "retryable", "said"),
    [
        (500, b"oops", "text/plain", True, "unexpected status code 500: oops"),
        (503, b"", "text/plain", True, "unexpected status code 503"),
        (404, b"no_service", "text/plain", False, "unexpected status code 404: no_service"),
        (429, b"rate limited", "text/plain", False, "unexpected status code 429"),
        (200, b"invalid_token", "text/plain", False, "received an error response from Slack: invalid_token"),
        (200, b"", "text/html", False, "received an error response from Slack"),
        (200, b'{"ok":false,"error":"channel_not_found"}', "application/json", False, "channel_not_found"),
        (200, b"{not json", "application/json; charset=utf-8", True, "could not unmarshal JSON response"),
    ],
)
def test_answers_slack_did_not_take(
    status: int, body: bytes, content_type: str, retryable: bool, said: str
) -> None:
    with HttpSink(responder=answer(status, body, content_type)) as sink:
        cfg = integration(
            "slack_configs", {"api_url": sink.url + "services/T0/B0/SECRETPART", "channel": "#ops"}
        )
        with pytest.raises(NotifyError) as failure:
            deliver(cfg, notification("firing"), sink)
    assert failure.value.retryable is retryable
    assert str(failure.value).startswith('slack: channel "#ops": ')
    assert said in str(failure.value)
    assert "SECRETPART" not in str(failure.value)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"ok", "text/plain"),
        (b'{"ok":true}', "application/json"),
        (b'{"ok":true}', "application/json; charset=utf-8"),
    ],
)
def test_answers_that_mean_delivered(body: bytes, content_type: str) -> None:
    with HttpSink(responder=answer(200, body, content_type)) as sink:
        assert (
            len(deliver(integration("slack_configs", {"api_url": sink.url}), notification("firing"), sink))
            == 1
        )


def test_unreachable_webhook_is_retried_without_its_url() -> None:
    with HttpSink() as sink:
        url = sink.url + "services/T0/B0/SECRETPART"
    with pytest.raises(NotifyError) as failure:
        deliver(integration("slack_configs", {"api_url": url}), notification("firing"), sink)
    assert failure.value.retryable
    assert "SECRETPART" not in str(failure.value)


def test_template_error_is_permanent_and_names_the_field() -> None:
    with webhook() as sink:
        cfg = integration("slack_configs", {"api_url": sink.url, "pretext": "{{ .NoSuchField }}"})
        with pytest.raises(NotifyError, match="pretext") as failure:
            deliver(cfg, notification("firing"), sink)
        assert sink.requests == []
    assert not failure.value.retryable


def test_operator_template_files_replace_the_defaults() -> None:
    templates = Templates({"t.tmpl": '{{ define "slack.default.title" }}custom {{ .Status }}{{ end }}'})
    with webhook() as sink:
        [request] = deliver(
            integration("slack_configs", {"api_url": sink.url}), notification("firing"), sink, templates
        )
    assert request.json["attachments"][0]["title"] == "custom firing"
    assert request.json["attachments"][0]["fallback"] == f"custom firing | {LINK}"


def test_timeout_caps_what_is_left_of_the_flush() -> None:
    assert (
        send_timeout(
            integration("slack_configs", {"api_url": "http://x.test/", "timeout": "2s"}), send_ctx(10)
        )
        == 2
    )
    assert (
        send_timeout(
            integration("slack_configs", {"api_url": "http://x.test/", "timeout": "20s"}), send_ctx(10)
        )
        == 10
    )
    assert send_timeout(integration("slack_configs", {"api_url": "http://x.test/"}), send_ctx(10)) == 10


@pytest.mark.parametrize(
    ("settings", "global_", "message"),
    [
        ({"channel": "#x"}, {}, "no Slack API URL nor App token set either inline or in a file"),
        (
            {"api_url": "http://x.test/", "update_message": True},
            {},
            "update_message can only be used with bot tokens",
        ),
        (
            {"api_url": "https://slack.com/api/chat.postMessage", "update_message": True},
            {},
            "slack_configs: update_message is not supported by alerter",
        ),
        (
            {"app_token": "t", "http_config": {"authorization": {"credentials": "x"}}},
            {},
            "http authorization can't be set when using Slack App tokens",
        ),
        (
            {},
            {"slack_app_token": "t", "http_config": {"authorization": {"credentials": "x"}}},
            "http authorization can't be set when using Slack App tokens",
        ),
        ({"api_url": "http://x.test/", "fields": [{"title": "t"}]}, {}, "missing value in Slack field"),
        ({"api_url": "http://x.test/", "fields": [{"value": "v"}]}, {}, "missing title in Slack field"),
        ({"api_url": "http://x.test/", "actions": [{"text": "t"}]}, {}, "missing type in Slack action"),
        (
            {"api_url": "http://x.test/", "actions": [{"type": "button", "text": "t"}]},
            {},
            "missing name or url",
        ),
        (
            {
                "api_url": "http://x.test/",
                "actions": [{"type": "b", "text": "t", "name": "n", "confirm": {}}],
            },
            {},
            "missing text in Slack confirmation configuration",
        ),
        (
            {"api_url": "http://x.test/", "fields": [{"title": "t", "value": "v", "colour": "x"}]},
            {},
            "field colour not found in type config.plain",
        ),
        ({"api_url": "http://x.test/", "title": ["a"]}, {}, "cannot unmarshal !!seq into string"),
        ({"api_url": "http://x.test/", "timeout": "5 s"}, {}, "into time.Duration"),
    ],
)
def test_config_refused(settings: dict[str, Any], global_: dict[str, Any], message: str) -> None:
    assert message in config_error("slack_configs", settings, global_)
