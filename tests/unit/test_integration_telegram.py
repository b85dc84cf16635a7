"""The Telegram integration against a local Bot API: the sendMessage request field by field, the
HTML escaping of the default parse mode, Telegram's limit, secrets from files and the global
section, and how Telegram's answers are judged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.config import ConfigError
from app.notify.errors import NotifyError
from app.notify.integrations._common import setting
from app.notify.integrations.telegram import MAX_MESSAGE_RUNES, TOO_LONG_HTML, send_telegram
from tests.support.http_sink import HttpSink, ReceivedRequest
from tests.support.integration_sends import TEAM_X, integration
from tests.support.sendctx import send_ctx

# This file's alert group (tests/support/integration_sends.py).
notification = TEAM_X.notification

TOKEN = "123456:AAE-secret-token"


def ok(request: ReceivedRequest) -> tuple[int, bytes, str]:
    result = {"message_id": 1, "chat": {"id": int(request.json["chat_id"])}, "date": 0}
    return 200, json.dumps({"ok": True, "result": result}).encode(), "application/json"


def answering(status: int, answer: dict[str, object] | str) -> HttpSink:
    body = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
    kind = "text/html" if isinstance(answer, str) else "application/json"
    return HttpSink(responder=lambda _: (status, body, kind))


def telegram(sink: HttpSink, **values: object) -> object:
    return integration(
        "telegram_configs", {"api_url": sink.url.rstrip("/"), "bot_token": TOKEN, "chat_id": -1001, **values}
    )


ALERT_DB1_HTML = (
    "Labels:\n - alertname = InstanceDown\n - instance = db1:9100\n - job = node\n"
    "Annotations:\n - description = db1:9100 &lt;unreachable&gt; &amp; silent\n - summary = Instance down\n"
    "Source: http://prometheus.test/graph?g0.expr=up%3D%3D0&amp;g0.tab=1\n"
)
ALERT_DB2_HTML = ALERT_DB1_HTML.replace("db1", "db2")


def test_firing_sends_the_default_html_message() -> None:
    with HttpSink(responder=ok) as sink:
        send_telegram(telegram(sink), notification("firing"), send_ctx(5))
        [request] = sink.wait_for(1, timeout=5)
    assert (request.method, request.path) == ("POST", f"/bot{TOKEN}/sendMessage")
    assert request.headers["Content-Type"] == "application/json"
    assert request.json == {
        "chat_id": "-1001",
        "disable_web_page_preview": "true",
        "parse_mode": "HTML",
        "text": "\n\nAlerts Firing:\n" + ALERT_DB1_HTML + ALERT_DB2_HTML + "\n\n\n",
    }
    # A Go map of strings: keys sorted; Go's encoder escapes <, > and & in the JSON itself.
    assert list(request.json) == sorted(request.json)
    assert b"\\u0026lt;unreachable\\u0026gt;" in request.body


def test_partly_resolved_and_resolved_messages() -> None:
    with HttpSink(responder=ok) as sink:
        send_telegram(telegram(sink), notification("mixed"), send_ctx(5))
        send_telegram(telegram(sink), notification("resolved"), send_ctx(5))
        mixed, resolved = sink.wait_for(2, timeout=5)
    assert mixed.json["text"] == (
        "\n\nAlerts Firing:\n" + ALERT_DB1_HTML + "\n\n\nAlerts Resolved:\n" + ALERT_DB2_HTML + "\n\n"
    )
    assert resolved.json["text"] == "\n\n\nAlerts Resolved:\n" + ALERT_DB1_HTML + ALERT_DB2_HTML + "\n\n"


def test_options_thread_silence_and_other_parse_modes() -> None:
    message = "{{ .Status }} <b>{{ .CommonLabels.alertname }}</b> {{ .CommonAnnotations.description }}"
    with HttpSink(responder=ok) as sink:
        cfg = telegram(
            sink, message=message, parse_mode="MarkdownV2", disable_notifications=True, message_thread_id=7
        )
        send_telegram(cfg, notification("resolved"), send_ctx(5))
        send_telegram(telegram(sink, message=message, parse_mode=""), notification("firing"), send_ctx(5))
        markdown, plain = sink.wait_for(2, timeout=5)
    assert markdown.json == {
        "chat_id": "-1001",
        "disable_notification": "true",
        "disable_web_page_preview": "true",
        "message_thread_id": "7",
        "parse_mode": "MarkdownV2",
        "text": "resolved <b>InstanceDown</b> ",
    }
    # No parse mode: the key is left out and the alert data is not escaped.
    assert "parse_mode" not in plain.json
    assert plain.json["text"] == "firing <b>InstanceDown</b> "


def test_messages_over_telegrams_limit() -> None:
    long = "{{ range .Alerts }}{{ .Labels.instance }}{{ end }}" + "é" * 5000
    with HttpSink(responder=ok) as sink:
        send_telegram(
            telegram(sink, message=long, parse_mode="Markdown"), notification("firing"), send_ctx(5)
        )
        send_telegram(telegram(sink, message=long), notification("firing"), send_ctx(5))
        cut, html = sink.wait_for(2, timeout=5)
    # Other modes are cut to 4096 characters, the last one the marker.
    assert len(cut.json["text"]) == MAX_MESSAGE_RUNES
    assert cut.json["text"].startswith("db1:9100db2:9100ééé") and cut.json["text"].endswith("é…")
    # HTML is not cut (a tag could be left open): Alertmanager's notice goes instead.
    assert html.json["text"] == TOO_LONG_HTML
    assert TOO_LONG_HTML.startswith("Alertmanager notification could not be sent: message length exceeds")


def test_token_and_chat_id_from_files_read_at_every_send(tmp_path: Path) -> None:
    token_file, chat_file = tmp_path / "token", tmp_path / "chat"
    token_file.write_text("111:first\n")
    chat_file.write_text(" -42\n")
    with HttpSink(responder=ok) as sink:
        cfg = integration(
            "telegram_configs",
            {
                "api_url": sink.url.rstrip("/"),
                "bot_token_file": str(token_file),
                "chat_id_file": str(chat_file),
            },
        )
        send_telegram(cfg, notification("firing"), send_ctx(5))
        token_file.write_text("222:rotated")
        chat_file.write_text("43")
        send_telegram(cfg, notification("firing"), send_ctx(5))
        first, second = sink.wait_for(2, timeout=5)
    assert (first.path, first.json["chat_id"]) == ("/bot111:first/sendMessage", "-42")
    assert (second.path, second.json["chat_id"]) == ("/bot222:rotated/sendMessage", "43")


def test_chat_id_file_that_is_not_a_number(tmp_path: Path) -> None:
    chat_file = tmp_path / "chat"
    chat_file.write_text("@channel")
    cfg = integration("telegram_configs", {"bot_token": TOKEN, "chat_id_file": str(chat_file)})
    with pytest.raises(NotifyError) as err:
        send_telegram(cfg, notification("firing"), send_ctx(5))
    assert not err.value.retryable
    assert str(err.value) == f"telegram: could not parse chat_id from {chat_file}: not an integer"


def test_global_token_and_api_url(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("999:global")
    with HttpSink(responder=ok) as sink:
        cfg = integration(
            "telegram_configs",
            {"chat_id": 5},
            {"telegram_api_url": sink.url.rstrip("/"), "telegram_bot_token_file": str(token_file)},
        )
        send_telegram(cfg, notification("firing"), send_ctx(5))
        [request] = sink.wait_for(1, timeout=5)
    assert request.path == "/bot999:global/sendMessage"
    # Without one, Telegram's own.
    default = integration("telegram_configs", {"chat_id": 5, "bot_token": TOKEN})
    assert setting(default, "api_url") == "https://api.telegram.org"


def refusal(code: int, description: str, **parameters: int) -> dict[str, object]:
    return {"ok": False, "error_code": code, "description": description, "parameters": parameters}


PROXY_PAGE = f"<h1>Bad Gateway</h1> POST /bot{TOKEN}/sendMessage"
NOT_BOT_API = "telegram: the answer is not the Bot API's"


@pytest.mark.parametrize(
    ("status", "answer", "retryable", "said"),
    [
        (400, refusal(400, "Bad Request: chat not found"), False, "Bad Request: chat not found (400)"),
        (403, refusal(403, "Forbidden: bot was blocked"), False, "Forbidden: bot was blocked (403)"),
        (429, refusal(429, "Too Many Requests: retry after 5", retry_after=5), True,
         "Too Many Requests: retry after 5 (429)"),
        (500, refusal(500, "Internal Server Error"), True, "Internal Server Error (500)"),
        # Not the Bot API: a proxy's page, which may quote the path and so the token.
        (502, PROXY_PAGE, True, "(HTTP 502): <h1>Bad Gateway</h1> POST /bot<secret>/sendMessage"),
        (404, "Cannot POST", False, "(HTTP 404): Cannot POST"),
    ],
)  # fmt: skip
def test_answers_that_are_not_a_sent_message(
    status: int, answer: dict[str, object] | str, retryable: bool, said: str
) -> None:
    with answering(status, answer) as sink, pytest.raises(NotifyError) as err:
        send_telegram(telegram(sink), notification("firing"), send_ctx(5))
    assert err.value.retryable is retryable
    prefix = "telegram: " if isinstance(answer, dict) else NOT_BOT_API + " "
    assert str(err.value) == prefix + said
    assert TOKEN not in str(err.value)


def test_unreachable_api_is_retried_without_the_token_in_the_error() -> None:
    with HttpSink() as sink:
        url = sink.url.rstrip("/")
    cfg = integration("telegram_configs", {"api_url": url, "bot_token": TOKEN, "chat_id": 1})
    with pytest.raises(NotifyError) as err:
        send_telegram(cfg, notification("firing"), send_ctx(2))
    assert err.value.retryable
    assert TOKEN not in str(err.value) and "connection failed" in str(err.value)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"bot_token": "x", "chat_id": 1, "parse_mode": "html"},
         "unknown parse_mode on telegram_config, must be Markdown, MarkdownV2, HTML or empty string"),
        ({"bot_token": "x", "chat_id": "@channel"}, "cannot unmarshal !!str `@channel` into int64"),
        ({"bot_token": "x", "chat_id": 1, "message_thread_id": "a"}, "cannot unmarshal !!str `a` into int"),
        ({"bot_token": "x", "chat_id": 1, "disable_notifications": "sometimes"}, "into bool"),
        ({"bot_token": "x", "chat_id": 1, "api_url": "ftp://tg.test"}, 'unsupported scheme "ftp" for URL'),
        ({"chat_id": 1}, "missing bot_token or bot_token_file on telegram_config"),
        ({"bot_token": "x", "chat_id": 1, "chat_id_file": "/f"},
         "at most one of chat_id & chat_id_file must be configured"),
    ],
)  # fmt: skip
def test_config_alertmanager_refuses_is_refused(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        integration("telegram_configs", values)
    assert message in str(err.value)
